"""bench/redis_bench.py --quick runs end to end on its own private redis-server and prints its
table with every row, so the benchmark of issue 8 cannot rot unnoticed."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "redis_bench.py"

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
    "memory:// Python apply loop events/s",
    "memory:// Python apply_many(1000) events/s",
)


def test_redis_bench_quick_prints_every_row(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GD_BENCH_")}
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out-dir", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False,
    )
    detail = f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, detail
    lines = proc.stdout.splitlines()
    assert any(line.startswith(HEADER) for line in lines), detail
    for row in ROWS:
        assert any(line.startswith(f"| {row} ") for line in lines), f"row {row!r} missing\n{detail}"
    assert "VERIFY FAILED" not in proc.stdout
    assert (tmp_path / "redis_bench.txt").read_text().count("| measurement") == 1
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "redis_throughput.png").stat().st_size > 0
