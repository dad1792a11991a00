"""bench/redis_bench.py --quick and bench/matchmaking_bench.py --quick run end to end, each on
its own private redis-server, and print their tables with every row, so the benchmarks of
issues 8 and 9 cannot rot unnoticed."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "redis_bench.py"
MATCHMAKING_BENCH = BENCH.with_name("matchmaking_bench.py")
SCALE_BENCH = BENCH.with_name("scale_bench.py")

HEADER = "| measurement"
ROWS = (
    "stream e2e events/s vs baseline",
    "stream e2e events/s vs per-event-script ceiling",
    "stream e2e events/s vs raw ceiling",
    "stream e2e events/s vs per-event-script ceiling, C client",
    "stream e2e events/s vs raw ceiling, C client",
    "Redis CPU us/event vs baseline",
    "Redis CPU us/event vs per-event-script ceiling",
    "Redis CPU us/event vs raw ceiling",
    "Redis main-thread CPU us/event vs baseline",
    "single apply p50 us vs PING",
    "single apply p50 us vs C-level PING",
    "single apply p99 us vs PING",
    "apply_many(1000) events/s vs baseline",
    "get_open_games(50) p50 us, full spread",
    "get_open_games(50) p99 us, full spread",
    "get_open_games(50) p50 us, oldest full",
    "get_open_games(50) p99 us, oldest full",
    "memory:// C++ apply events/s",
    "memory:// C++ apply_many(1000) events/s",
    "memory:// C++ get_open_games(50) p50 us",
    "memory:// Python apply loop events/s",
    "memory:// Python apply_many(1000) events/s",
)


MATCHMAKING_ROWS = (
    "get_open_games(50, mode) p50 us",
    "get_open_games(50, mode) p99 us",
    "get_open_games(50, mode) p99 us, 10x fewer others",
    "get_open_games(50, mode) p50 growth, others x10",
    "quick_join(mode) p50 us",
    "quick_join(mode) p99 us",
    "quick_join(mode) p99 us, 10x fewer others",
    "quick_join(mode) p50 growth, others x10",
    "reservation burst reservations/s",
    "reservation burst over-filled seats",
)


def run_quick(script: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GD_BENCH_")}
    return subprocess.run(
        [sys.executable, str(script), "--quick", "--out-dir", str(tmp_path), *extra],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False,
    )


def cells(lines: list[str], row: str) -> list[str]:
    line = next(line for line in lines if line.startswith(f"| {row} "))
    return [c.strip() for c in line.strip("|").split("|")]


def printed_rows(proc: subprocess.CompletedProcess, rows: tuple[str, ...], written: Path) -> list[str]:
    """The run passed, printed the table with every row and no failed check, and wrote the
    table once to `written`; its stdout lines."""
    detail = f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, detail
    lines = proc.stdout.splitlines()
    assert any(line.startswith(HEADER) for line in lines), detail
    for row in rows:
        assert any(line.startswith(f"| {row} ") for line in lines), f"row {row!r} missing\n{detail}"
    assert "VERIFY FAILED" not in proc.stdout
    assert written.read_text().count("| measurement") == 1
    return lines


def test_redis_bench_quick_prints_every_row(tmp_path: Path) -> None:
    printed_rows(run_quick(BENCH, tmp_path), ROWS, tmp_path / "redis_bench.txt")
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "redis_throughput.png").stat().st_size > 0


def test_matchmaking_bench_quick_prints_every_row_and_fills_no_seat_twice(tmp_path: Path) -> None:
    # An argument meant for redis_bench.py (./dev bench passes them to every script) is ignored.
    proc = run_quick(MATCHMAKING_BENCH, tmp_path, "--stream-games", "10")
    lines = printed_rows(proc, MATCHMAKING_ROWS, tmp_path / "matchmaking_bench.txt")
    for row in MATCHMAKING_ROWS:
        assert "n/a" not in cells(lines, row)[1], f"row {row!r} not measured\n{proc.stdout[-4000:]}"
    assert cells(lines, "reservation burst over-filled seats")[1:4:2] == ["0", "0"]
    assert "ignoring arguments for other benchmarks: --stream-games 10" in proc.stderr


SCALE_ROWS = (
    "heartbeat Redis CPU us/event vs raw floor",
    "heartbeat Redis CPU us/event vs the full path",
    "heartbeat e2e events/s (poll(count=1000))",
    "get_open_games(50) p50 us vs pipelined reads",
    "get_open_games(50) p99 us",
    "get_open_games(50, mode+region) p50 us vs pipelined reads",
    "get_open_games(50, mode+region) p99 us",
    "create_games(1000) games/s vs raw floor",
    "reap() games/s (every pending game stale)",
    "reap longest Redis call us",
    "Redis memory B/game",
)


def test_scale_bench_quick_runs_20k_games_and_checks_what_heartbeats_and_reaps_left(tmp_path: Path) -> None:
    # The 20k smoke run of issue 17's benchmark: every heartbeat applied, no game moved between
    # sets or out of the open index by one, every stale game reaped (VERIFY lines otherwise).
    proc = run_quick(SCALE_BENCH, tmp_path, "--stream-games", "10")
    lines = printed_rows(proc, SCALE_ROWS, tmp_path / "scale_bench.txt")
    for row in SCALE_ROWS:
        assert "n/a" not in cells(lines, row)[1], f"row {row!r} not measured\n{proc.stdout[-4000:]}"
    assert "20,000 resident games" in proc.stdout
    assert "ignoring arguments for other benchmarks: --stream-games 10" in proc.stderr
