#!/usr/bin/env python3
"""The Redis benchmark of game_data (issue 8): one table, every figure beside the baseline or
ceiling it is judged against, all measured in this run on a private redis-server.

    python bench/redis_bench.py            # full sizes (./dev bench runs it)
    python bench/redis_bench.py --quick    # small sizes, a smoke test

The project's rows use only the public API (connect, create_game, apply, apply_many,
get_open_games, consumer().poll). The comparisons use keys of their own:

- baseline: a hand-written redis-py consumer, one Lua script per event (bench/benchlib/
  handwritten.py), XREADGROUP batches with one pipelined EVALSHA per event and one XACK;
- per-event-script ceiling: that script's EVALSHA calls pushed through `redis-cli --pipe`;
- raw ceiling: the same commands the script runs (HMGET, HSET, ZREM, ZADD, ...) through
  `redis-cli --pipe`, no script.

Redis CPU per applied event comes from INFO commandstats. Redis lists every command a script
runs under its own name *and* inside the script's own time, so the plain sum counts script
work twice; the table's figure counts it once (the share of each command's calls made from
scripts is taken from MONITOR on a small run of the same variant), and the details also show
the plain sum and the server main thread's CPU time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import redis  # noqa: E402

import game_data  # noqa: E402
from benchlib import handwritten as hw  # noqa: E402
from benchlib.runner import Report  # noqa: E402
from benchlib.server import main_thread_cpu  # noqa: E402
from benchlib.table import Row, f_rate, f_us, pct, ratio, render_table  # noqa: E402
from benchlib.table import at_least as _at_least  # noqa: E402
from benchlib.table import at_most as _at_most  # noqa: E402
from benchlib.table import loadavg as _loadavg  # noqa: E402
from game_data import ApplyStatus, Event  # noqa: E402
from game_data.testing import RedisServer  # noqa: E402

TABLE_TITLE = "game_data on Redis: issue 8 benchmark"

# Row names (the first column); tests/python/test_bench_smoke.py checks each is printed.
ROW_STREAM_BASE = "stream e2e events/s vs baseline"
ROW_STREAM_CEIL = "stream e2e events/s vs per-event-script ceiling"
ROW_STREAM_RAW = "stream e2e events/s vs raw ceiling"
ROW_STREAM_CEIL_C = "stream e2e events/s vs per-event-script ceiling, C client"
ROW_STREAM_RAW_C = "stream e2e events/s vs raw ceiling, C client"
ROW_CPU_BASE = "Redis CPU us/event vs baseline"
ROW_CPU_CEIL = "Redis CPU us/event vs per-event-script ceiling"
ROW_CPU_RAW = "Redis CPU us/event vs raw ceiling"
ROW_CPU_THREAD = "Redis main-thread CPU us/event vs baseline"
ROW_APPLY_P50 = "single apply p50 us vs PING"
ROW_APPLY_P50_C = "single apply p50 us vs C-level PING"
ROW_APPLY_P99 = "single apply p99 us vs PING"
ROW_MANY = "apply_many(1000) events/s vs baseline"
ROW_OPEN_SPREAD_P50 = "get_open_games(50) p50 us, full spread"
ROW_OPEN_SPREAD_P99 = "get_open_games(50) p99 us, full spread"
ROW_OPEN_OLDEST_P50 = "get_open_games(50) p50 us, oldest full"
ROW_OPEN_OLDEST_P99 = "get_open_games(50) p99 us, oldest full"
ROW_MEM_CPP_APPLY = "memory:// C++ apply events/s"
ROW_MEM_CPP_MANY = "memory:// C++ apply_many(1000) events/s"
ROW_MEM_CPP_OPEN = "memory:// C++ get_open_games(50) p50 us"
ROW_MEM_PY_APPLY = "memory:// Python apply loop events/s"
ROW_MEM_PY_MANY = "memory:// Python apply_many(1000) events/s"
ROW_NAMES = (
    ROW_STREAM_BASE, ROW_STREAM_CEIL, ROW_STREAM_RAW, ROW_STREAM_CEIL_C, ROW_STREAM_RAW_C,
    ROW_CPU_BASE, ROW_CPU_CEIL, ROW_CPU_RAW, ROW_CPU_THREAD, ROW_APPLY_P50, ROW_APPLY_P50_C, ROW_APPLY_P99, ROW_MANY, ROW_OPEN_SPREAD_P50,
    ROW_OPEN_SPREAD_P99, ROW_OPEN_OLDEST_P50, ROW_OPEN_OLDEST_P99, ROW_MEM_CPP_APPLY,
    ROW_MEM_CPP_MANY, ROW_MEM_CPP_OPEN, ROW_MEM_PY_APPLY, ROW_MEM_PY_MANY,
)

MARK_START = "redis-bench:window:start"
MARK_END = "redis-bench:window:end"
PROJECT_BATCH = 1000
COMMAND_TIMEOUT_MS = 120_000


# -- sizes -------------------------------------------------------------------------------------------

def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


FULL = {
    "stream_games": 15_000, "repeats": 3, "latency_games": 1_000, "lobby_games": 100_000,
    "open_reps": 1_000, "open_budget_s": 20.0, "memory_games": 20_000, "ping_count": 5_000,
    "census_games": 20, "chart_min_events": 2_000, "chart_max_events": 35_000,
}
QUICK = {
    "stream_games": 100, "repeats": 1, "latency_games": 30, "lobby_games": 2_000,
    "open_reps": 40, "open_budget_s": 2.0, "memory_games": 300, "ping_count": 200,
    "census_games": 5, "chart_min_events": 70, "chart_max_events": 700,
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    p.add_argument("--stream-games", type=int, help="games in the stream runs (x (players + 4) "
                   "events; env GD_BENCH_STREAM_GAMES, default 15000)")
    p.add_argument("--players", type=int, default=_env_int("GD_BENCH_PLAYERS", 3),
                   help="player_joined events per game; capacity is this + 1 (default 3)")
    p.add_argument("--repeats", type=int, help="runs per throughput figure, best kept "
                   "(env GD_BENCH_REPEATS, default 3)")
    p.add_argument("--latency-games", type=int,
                   help="games whose events are applied one by one (env GD_BENCH_LATENCY_GAMES)")
    p.add_argument("--lobby-games", type=int,
                   help="lobby size for get_open_games (env GD_BENCH_LOBBY_GAMES, default 100000)")
    p.add_argument("--open-reps", type=int, help="get_open_games calls per layout (default 1000)")
    p.add_argument("--memory-games", type=int, help="games in the memory:// runs (default 20000)")
    p.add_argument("--batch-sizes", default=os.environ.get("GD_BENCH_BATCH_SIZES", "1,10,100,1000"),
                   help="batch sizes of the chart (default 1,10,100,1000)")
    p.add_argument("--out-dir", type=Path, default=Path(os.environ.get(
        "GD_BENCH_OUT_DIR", str(HERE / "results"))), help="where the table and chart go")
    p.add_argument("--embedded-results", type=Path,
                   default=Path(os.environ["GD_BENCH_EMBEDDED_RESULTS"])
                   if os.environ.get("GD_BENCH_EMBEDDED_RESULTS") else None,
                   help="embedded_bench's output from the same ./dev bench run (C++ memory:// rows)")
    args = p.parse_args(argv)
    env = {"stream_games": "GD_BENCH_STREAM_GAMES", "repeats": "GD_BENCH_REPEATS",
           "latency_games": "GD_BENCH_LATENCY_GAMES", "lobby_games": "GD_BENCH_LOBBY_GAMES",
           "open_reps": "GD_BENCH_OPEN_REPS", "memory_games": "GD_BENCH_MEMORY_GAMES"}
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key, None) is None:  # not given: the environment, else the preset
            from_env = os.environ.get(env.get(key, ""))
            setattr(args, key, int(from_env) if from_env else value)
    args.batch_sizes = [int(b) for b in str(args.batch_sizes).split(",") if b.strip()]
    return args


# -- the server, INFO windows and the MONITOR census ---------------------------------------------

@dataclass
class Window:
    """What one measured stretch cost: wall seconds, commandstats deltas, main thread CPU."""

    seconds: float
    commands: dict[str, tuple[int, int]]  # command -> (calls, usec)
    cpu_s: float


def _snapshot(r: redis.Redis) -> tuple[dict[str, tuple[int, int]], float]:
    stats = r.info("commandstats")
    cpu_s = main_thread_cpu(r)
    cmds = {k[len("cmdstat_"):]: (int(v["calls"]), int(v["usec"])) for k, v in stats.items()}
    return cmds, cpu_s


class Bench(Report):
    def __init__(self, args: argparse.Namespace, server: RedisServer, tmp: Path) -> None:
        super().__init__()
        self.args = args
        self.server = server
        self.tmp = tmp
        self.r = redis_client(server)
        self.apply_sha = self.r.script_load(hw.APPLY_LUA)
        self.scan_sha = self.r.script_load(hw.OPEN_SCAN_LUA)
        self.redis_cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        self.resp_pipe = find_resp_pipe(tmp, self.notes)
        self._census: dict[str, dict[str, float]] = {}
        self._census_active = False

    # server
    def reset(self) -> None:
        """Empty the server between variants so each starts from the same state."""
        self.r.flushall()
        self.apply_sha = self.r.script_load(hw.APPLY_LUA)
        self.scan_sha = self.r.script_load(hw.OPEN_SCAN_LUA)

    def measure(self, fn: Callable[[], Any]) -> tuple[Any, Window]:
        """Run fn, timing it and taking INFO before and after. The ECHO markers bound what the
        MONITOR census counts; they and the INFO calls fall outside the figures."""
        self.r.echo(MARK_START)
        cmds0, cpu0 = _snapshot(self.r)
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
        cmds1, cpu1 = _snapshot(self.r)
        self.r.echo(MARK_END)
        delta = {}
        for name, (calls, usec) in cmds1.items():
            c0, u0 = cmds0.get(name, (0, 0))
            if calls - c0 and name.split("|")[0] not in ("info", "echo"):
                delta[name] = (calls - c0, usec - u0)
        return result, Window(seconds, delta, cpu1 - cpu0)

    def census(self, key: str, run_small: Callable[[], Any]) -> dict[str, float]:
        """Share of each command's calls made from inside scripts, by MONITOR over a small run
        of the same variant (between the measure() markers). Cached per variant."""
        if key in self._census:
            return self._census[key]
        counts: dict[str, list[int]] = {}
        line_re = re.compile(r'^\S+ \[\d+ ([^\]]*)\] "([^"]*)"')
        mon_client = redis_client(self.server)
        mon = mon_client.monitor()
        mon.__enter__()
        seen_end = threading.Event()

        def reader() -> None:
            inside = False
            try:
                while True:
                    raw = mon.connection.read_response()
                    line = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
                    m = line_re.match(line)
                    if not m:
                        continue
                    client, name = m.group(1), m.group(2).lower()
                    if name == "echo" and MARK_START in line:
                        inside = True
                    elif name == "echo" and MARK_END in line:
                        seen_end.set()
                        return
                    elif inside and name not in ("info", "echo"):
                        entry = counts.setdefault(name, [0, 0])
                        entry[1] += 1
                        if client == "lua":
                            entry[0] += 1
            except (redis.ConnectionError, OSError, ValueError):
                return

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        try:
            run_small()
        finally:
            seen_end.wait(timeout=30)
            try:
                mon.__exit__(None, None, None)
            except (redis.RedisError, OSError):
                pass
            thread.join(timeout=5)
            mon_client.close()
        self.check(seen_end.is_set(), f"MONITOR census of {key} did not see its end marker")
        fractions = {name: lua / total for name, (lua, total) in counts.items() if total}
        self._census[key] = fractions
        return fractions

    def cpu_us(self, win: Window, fractions: dict[str, float], applied: int) -> dict[str, float]:
        """Per applied event: commandstats with nested work counted once ("once"), the plain
        sum of commandstats ("info_sum"), and the server main thread's CPU time ("rusage").

        Redis adds a nested command's time both to its own entry and to the command that ran
        it: a script's calls (EVAL/EVALSHA/FCALL) and a transaction's queued commands (EXEC).
        "once" therefore leaves out EXEC (each command it ran is listed under its own name)
        and the share of every command's calls made from inside scripts (from the census)."""
        n = max(applied, 1)
        total = 0.0
        nested = 0.0
        for name, (_calls, usec) in win.commands.items():
            base = name.split("|")[0]
            total += usec
            nested += usec if base == "exec" else usec * fractions.get(base, 0.0)
        return {"once": (total - nested) / n, "info_sum": total / n,
                "rusage": win.cpu_s * 1e6 / n}


def redis_client(server: RedisServer) -> redis.Redis:
    """redis-py with the same long timeout as the matchmakers (redis-py's default is 5 s)."""
    return redis.Redis(host=server.host, port=server.port,
                       socket_timeout=COMMAND_TIMEOUT_MS / 1000)


def find_resp_pipe(tmp: Path, notes: list[str]) -> Path | None:
    """bench/resp_pipe.cpp as built by ./dev bench (or ./dev test), else compiled here."""
    source = HERE / "resp_pipe.cpp"
    candidates = []
    if os.environ.get("GD_BENCH_RESP_PIPE"):
        candidates.append(Path(os.environ["GD_BENCH_RESP_PIPE"]))
    candidates += [REPO / "build" / "bench" / "bench" / "resp_pipe",
                   REPO / "build" / "cpp" / "bench" / "resp_pipe"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK) and c.stat().st_mtime >= source.stat().st_mtime:
            return c
    out = tmp / "resp_pipe"
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "hiredis"], check=True,
                               capture_output=True, text=True).stdout.split()
        subprocess.run([os.environ.get("CXX", "g++"), "-O2", "-std=c++20", str(source), "-o",
                        str(out), *flags], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as err:
        detail = getattr(err, "stderr", "") or str(err)
        notes.append(f"resp_pipe unavailable (C-level PING and batched ceilings skipped): "
                     f"{detail.strip()[:200]}")
        return None
    return out


# -- results ---------------------------------------------------------------------------------------

@dataclass
class Run:
    """One variant over one workload."""

    events: int
    applied: int
    win: Window
    cpu: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None  # when the tool timed itself (resp_pipe); else win.seconds

    @property
    def rate(self) -> float:
        s = self.seconds if self.seconds is not None else self.win.seconds
        return self.events / s if s > 0 else 0.0


def best(runs: list[Run]) -> Run:
    """The fastest run; its CPU figures are replaced by the lowest seen (least disturbed)."""
    top = max(runs, key=lambda r: r.rate)
    if top.cpu:
        top.cpu = {k: min(r.cpu[k] for r in runs) for k in top.cpu}
    return top


# -- the project's variants (public API only) ------------------------------------------------------

def project_events(wl: hw.Workload) -> list[Event]:
    cached = wl._cache.get("events")
    if cached is None:
        cached = [Event(type=t, game_id=g, server_id=s, player_id=p or None, seq=q)
                  for t, g, s, p, q in wl.events]
        wl._cache["events"] = cached
    return cached  # type: ignore[return-value]


def stream_fields(wl: hw.Workload) -> list[dict[str, str]]:
    cached = wl._cache.get("fields")
    if cached is None:
        ts = str(wl.now_ms)
        cached = []
        for t, g, s, p, q in wl.events:
            f = {"type": t, "game_id": g, "server_id": s}
            if p:
                f["player_id"] = p
            f["ts"] = ts
            f["seq"] = str(q)
            cached.append(f)
        wl._cache["fields"] = cached
    return cached  # type: ignore[return-value]


def publish(r: redis.Redis, stream: str, wl: hw.Workload) -> None:
    """Raw pipelined XADD of the workload's events (not timed)."""
    pipe = r.pipeline(transaction=False)
    for i, f in enumerate(stream_fields(wl), 1):
        pipe.xadd(stream, f)
        if i % 1000 == 0:
            pipe.execute()
    pipe.execute()


def connect_redis(b: Bench) -> game_data.Matchmaker:
    """A matchmaker in a fresh namespace. The command timeout is long: on a shared machine the
    server can stall for seconds (other jobs, memory pressure), and a benchmark should report
    that as a slow figure, not die of it."""
    return game_data.connect(b.server.url, namespace=f"bench-{uuid.uuid4().hex[:8]}",
                             timeout_ms=COMMAND_TIMEOUT_MS)


def new_matchmaker(b: Bench, wl: hw.Workload) -> game_data.Matchmaker:
    mm = connect_redis(b)
    for gid, creator, server, cap in wl.games:
        mm.create_game(creator_id=creator, capacity=cap, server_id=server, game_id=gid)
    return mm


def project_stream(b: Bench, wl: hw.Workload, batch: int) -> Run:
    b.reset()
    mm = new_matchmaker(b, wl)
    publish(b.r, mm.default_stream, wl)
    consumer = mm.consumer(name="bench")
    total = len(wl)

    def drain() -> tuple[int, int]:
        seen = applied = 0
        while seen < total:
            results = consumer.poll(count=batch, block_ms=0)
            if not results:
                break
            seen += len(results)
            applied += sum(1 for r in results if r.status is ApplyStatus.APPLIED)
        return seen, applied

    (seen, applied), win = b.measure(drain)
    b.check(seen == total and applied == total,
            f"project consumer: {applied} of {total} events applied ({seen} read)")
    b.check(all(v == 0 for v in mm.counts().values()), "project consumer: games left in sets")
    return Run(total, applied, win)


def project_apply_many(b: Bench, wl: hw.Workload, batch: int) -> Run:
    b.reset()
    mm = new_matchmaker(b, wl)
    events = project_events(wl)

    def run() -> int:
        applied = 0
        for i in range(0, len(events), batch):
            applied += sum(1 for r in mm.apply_many(events[i:i + batch])
                           if r.status is ApplyStatus.APPLIED)
        return applied

    applied, win = b.measure(run)
    b.check(applied == len(events), f"project apply_many: {applied} of {len(events)} applied")
    return Run(len(events), applied, win)


# -- the hand-written baseline and the ceilings ----------------------------------------------------

BL = hw.Keys("hw:{b}:")
CEIL_SCRIPT = hw.Keys("hw:{s}:")
CEIL_RAW = hw.Keys("hw:{r}:")


def baseline_stream(b: Bench, wl: hw.Workload, batch: int) -> Run:
    """The hand-written consumer: XREADGROUP COUNT batch, one pipelined EVALSHA per event and
    one XACK in the same round trip."""
    b.reset()
    hw.create_games(b.r, BL, wl.games, wl.now_ms)
    r = redis_client(b.server)
    stream = BL.stream
    r.xgroup_create(stream, "g", id="0", mkstream=True)
    publish(b.r, stream, wl)
    sha = b.apply_sha
    p = BL.prefix.encode()
    sets = [k.encode() for k in BL.sets]
    total = len(wl)

    def drain() -> tuple[int, int]:
        seen = applied = 0
        while seen < total:
            reply = r.xreadgroup("g", "c", {stream: ">"}, count=batch)
            if not reply or not reply[0][1]:
                break
            entries = reply[0][1]
            now = int(time.time() * 1000)
            pipe = r.pipeline(transaction=False)
            for _eid, f in entries:
                gid = f[b"game_id"]
                pipe.evalsha(sha, 6, p + b"game:" + gid, *sets, p + b"tomb:" + gid, gid,
                             f[b"type"], f[b"server_id"], f.get(b"player_id", b""),
                             f.get(b"seq", b"0"), now)
            pipe.xack(stream, "g", *[eid for eid, _f in entries])
            out = pipe.execute()
            seen += len(entries)
            applied += sum(1 for x in out[:-1] if x == 0)
        return seen, applied

    (seen, applied), win = b.measure(drain)
    r.close()
    b.check(seen == total and applied == total,
            f"baseline consumer: {applied} of {total} events applied ({seen} read)")
    b.check(sum(b.r.zcard(k) for k in BL.sets) == 0, "baseline consumer: games left in sets")
    return Run(total, applied, win)


def baseline_apply_many(b: Bench, wl: hw.Workload, batch: int) -> Run:
    """The hand-written apply_many: one pipelined EVALSHA per event, `batch` per round trip."""
    b.reset()
    hw.create_games(b.r, BL, wl.games, wl.now_ms)
    r = redis_client(b.server)
    sha = b.apply_sha
    sets = BL.sets

    def run() -> int:
        applied = 0
        for i in range(0, len(wl.events), batch):
            now = int(time.time() * 1000)
            pipe = r.pipeline(transaction=False)
            for t, g, s, pl, q in wl.events[i:i + batch]:
                pipe.evalsha(sha, 6, BL.game(g), *sets, BL.tomb(g), g, t, s, pl, q, now)
            applied += sum(1 for x in pipe.execute() if x == 0)
        return applied

    applied, win = b.measure(run)
    r.close()
    b.check(applied == len(wl), f"baseline apply_many: {applied} of {len(wl)} applied")
    return Run(len(wl), applied, win)


def encoded(b: Bench, wl: hw.Workload, kind: str) -> tuple[hw.Keys, list[tuple[int, bytes]]]:
    """The ceilings' per-event commands, RESP-encoded once per workload."""
    keys = CEIL_SCRIPT if kind == "script" else CEIL_RAW
    key = f"enc-{kind}"
    if key not in wl._cache:
        per_event = (hw.evalsha_commands(keys, b.apply_sha, wl) if kind == "script"
                     else hw.apply_commands(keys, wl))
        wl._cache[key] = hw.encode_events(per_event)
    return keys, wl._cache[key]  # type: ignore[return-value]


def _verify_ceiling(b: Bench, keys: hw.Keys, wl: hw.Workload, what: str) -> None:
    left = sum(b.r.zcard(k) for k in keys.sets)
    b.check(left == 0 and b.r.dbsize() == len(wl.games),
            f"{what}: {left} games left in sets, {b.r.dbsize()} keys (want {len(wl.games)} "
            "tombstones)")


def ceiling_pipe(b: Bench, wl: hw.Workload, kind: str) -> Run:
    """All events through `redis-cli --pipe` (timed around the redis-cli process)."""
    keys, enc = encoded(b, wl, kind)
    path = b.tmp / f"ceiling-{kind}-{len(wl)}.resp"
    if not path.exists():
        path.write_bytes(hw.pipe_file(enc))
    b.reset()
    hw.create_games(b.r, keys, wl.games, wl.now_ms)
    commands = sum(n for n, _d in enc)

    def run() -> str:
        with path.open("rb") as f:
            proc = subprocess.run([b.redis_cli, "-h", b.server.host, "-p", str(b.server.port),
                                   "--pipe"], stdin=f, capture_output=True, text=True, check=False)
        return proc.stdout + proc.stderr

    out, win = b.measure(run)
    m = re.search(r"errors: (\d+), replies: (\d+)", out)
    ok = bool(m) and int(m.group(1)) == 0 and int(m.group(2)) == commands
    b.check(ok, f"redis-cli --pipe ({kind}): {out.strip()[-200:]!r}, want {commands} replies")
    _verify_ceiling(b, keys, wl, f"{kind} ceiling (--pipe)")
    return Run(len(wl), len(wl) if ok else 0, win)


def run_resp_pipe(b: Bench, path: Path, warmup: int = 0) -> dict[str, float]:
    assert b.resp_pipe is not None
    proc = subprocess.run([str(b.resp_pipe), b.server.host, str(b.server.port), str(path),
                           str(warmup)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        b.check(False, f"resp_pipe failed: {proc.stderr.strip()[:200]}")
        return {}
    if proc.stderr.strip():
        b.notes.append(proc.stderr.strip()[:200])
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", proc.stdout)}


def ceiling_batched(b: Bench, wl: hw.Workload, kind: str, batch: int) -> Run | None:
    """Batches of `batch` events through resp_pipe: one round trip per batch, C-level client."""
    if b.resp_pipe is None:
        return None
    keys, enc = encoded(b, wl, kind)
    path = b.tmp / f"ceiling-{kind}-{len(wl)}-b{batch}.resp"
    path.write_bytes(hw.batch_file(enc, batch))
    b.reset()
    hw.create_games(b.r, keys, wl.games, wl.now_ms)
    out, win = b.measure(lambda: run_resp_pipe(b, path))
    path.unlink()
    ok = bool(out) and out.get("errors", 1) == 0
    b.check(ok, f"resp_pipe {kind} ceiling at batch {batch}: {out}")
    _verify_ceiling(b, keys, wl, f"{kind} ceiling (batch {batch})")
    return Run(len(wl), len(wl) if ok else 0, win, seconds=out.get("seconds"))


# -- the sections ------------------------------------------------------------------------------------

@dataclass
class Results:
    stream: dict[str, Run] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)
    many: dict[str, Run] = field(default_factory=dict)
    open_games: dict[str, dict[str, float]] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)
    chart: dict[str, dict[int, float]] = field(default_factory=dict)


STREAM_VARIANTS: dict[str, Callable[[Bench, hw.Workload], Run | None]] = {
    "project": lambda b, wl: project_stream(b, wl, PROJECT_BATCH),
    "baseline": lambda b, wl: baseline_stream(b, wl, PROJECT_BATCH),
    "script ceiling": lambda b, wl: ceiling_pipe(b, wl, "script"),
    "raw ceiling": lambda b, wl: ceiling_pipe(b, wl, "raw"),
    # The same two ceilings from the C-level client, PROJECT_BATCH events per round trip:
    # redis-cli --pipe is not always the fastest way to send them.
    "script ceiling (C client)": lambda b, wl: ceiling_batched(b, wl, "script", PROJECT_BATCH),
    "raw ceiling (C client)": lambda b, wl: ceiling_batched(b, wl, "raw", PROJECT_BATCH),
}


def section_stream(b: Bench, res: Results) -> None:
    a = b.args
    wl = hw.make_workload(a.stream_games, a.players)
    small = hw.make_workload(a.census_games, a.players)
    b.section("stream", f"stream end to end: {len(wl)} events, {a.repeats} round(s) of "
               f"{len(STREAM_VARIANTS)} variants")
    fractions = {name: b.census(name, lambda fn=fn: fn(b, small))
                 for name, fn in STREAM_VARIANTS.items()}
    runs: dict[str, list[Run]] = {name: [] for name in STREAM_VARIANTS}
    for _ in range(a.repeats):  # interleaved, so every variant sees the same machine weather
        for name, fn in STREAM_VARIANTS.items():
            run = fn(b, wl)
            if run is not None:
                run.cpu = b.cpu_us(run.win, fractions[name], run.applied)
                runs[name].append(run)
    res.stream = {name: best(rs) for name, rs in runs.items() if rs}


def section_latency(b: Bench, res: Results) -> None:
    """mm.apply one event at a time, each followed by a redis-py PING; C-level PING bursts
    (resp_pipe) before, between and after three stretches of applies, median of their
    percentiles, so that all three see the same machine weather."""
    a = b.args
    wl = hw.make_workload(a.latency_games, a.players)
    b.section("latency", f"single apply latency: {len(wl)} applies, each beside a PING")
    b.reset()
    mm = new_matchmaker(b, wl)
    warm = mm.create_game(creator_id="w", capacity=2, server_id="gs-w", game_id="warm")
    for _ in range(50):  # scripts loaded, connections open, caches warm
        mm.apply(Event(type="heartbeat", game_id=warm.id, server_id="gs-w"))
        b.r.ping()
    bursts: list[dict[str, float]] = []
    ping_file = b.tmp / "ping.resp"
    warmup = 100
    if b.resp_pipe is not None:
        one = hw.resp(["PING"])
        per_burst = max(a.ping_count // 4, 50)
        ping_file.write_bytes(b"".join(b"@1 %d\n%s" % (len(one), one)
                                       for _ in range(per_burst + warmup)))

    def c_ping() -> None:
        if b.resp_pipe is not None:
            out = run_resp_pipe(b, ping_file, warmup)
            if out:
                bursts.append(out)

    apply_us: list[float] = []
    ping_us: list[float] = []
    applied = 0
    clock = time.perf_counter_ns
    events = project_events(wl)
    stretch = -(-len(events) // 3)
    for start in range(0, len(events), stretch):
        c_ping()
        for ev in events[start:start + stretch]:
            t0 = clock()
            result = mm.apply(ev)
            t1 = clock()
            b.r.ping()
            t2 = clock()
            apply_us.append((t1 - t0) / 1000)
            ping_us.append((t2 - t1) / 1000)
            applied += result.status is ApplyStatus.APPLIED
    c_ping()
    b.check(applied == len(wl), f"single apply: {applied} of {len(wl)} applied")
    res.latency = {"apply_p50": pct(apply_us, 0.5), "apply_p99": pct(apply_us, 0.99),
                   "ping_p50": pct(ping_us, 0.5), "ping_p99": pct(ping_us, 0.99),
                   "n": float(len(apply_us))}
    if bursts:
        res.latency["cping_p50"] = statistics.median(x["p50_us"] for x in bursts)
        res.latency["cping_p99"] = statistics.median(x["p99_us"] for x in bursts)
        res.latency["cping_n"] = sum(x["batches"] for x in bursts)
        res.latency["cping_bursts"] = len(bursts)
        b.notes.append("C-level PING p50 of each burst: "
                       + ", ".join(f"{x['p50_us']:.1f}" for x in bursts) + " us (the table takes their median)")


def section_apply_many(b: Bench, res: Results) -> None:
    a = b.args
    wl = hw.make_workload(a.stream_games, a.players)
    b.section("apply_many", f"apply_many({PROJECT_BATCH}): {len(wl)} events")
    runs: dict[str, list[Run]] = {"project": [], "baseline": []}
    for _ in range(a.repeats):
        runs["project"].append(project_apply_many(b, wl, PROJECT_BATCH))
        runs["baseline"].append(baseline_apply_many(b, wl, PROJECT_BATCH))
    res.many = {k: best(v) for k, v in runs.items()}


def section_open_games(b: Bench, res: Results, layout: str) -> None:
    """get_open_games(50) over lobby_games lobby games of capacity 2, 90% of them full: every
    tenth game open ("spread"), or the oldest 90% full ("oldest", where players fill the
    oldest games first, as get_open_games serves them)."""
    a = b.args
    n = a.lobby_games
    b.section(f"open {layout}", f"get_open_games(50), {layout}: building {n} lobby games twice")
    full = (lambda i: i % 10 != 9) if layout == "spread" else (lambda i: i < n * 9 // 10)
    b.reset()
    mm = connect_redis(b)
    ids = [f"g{i:07d}" for i in range(n)]
    for i, gid in enumerate(ids):
        mm.create_game(creator_id=f"c{i}", capacity=2, server_id="gs-1", game_id=gid)
    joins = [Event(type="creator_joined", game_id=gid, server_id="gs-1", player_id=f"c{i}")
             for i, gid in enumerate(ids)]
    joins += [Event(type="player_joined", game_id=gid, server_id="gs-1", player_id=f"p{i}")
              for i, gid in enumerate(ids) if full(i)]
    applied = 0
    for i in range(0, len(joins), 1000):
        applied += sum(r.status is ApplyStatus.APPLIED for r in mm.apply_many(joins[i:i + 1000]))
    b.check(applied == len(joins), f"open games setup: {applied} of {len(joins)} applied")
    # The hand-written tracker's lobby: the same games, no open index.
    now = int(time.time() * 1000)
    lobby = BL.sets[1]
    pipe = b.r.pipeline(transaction=False)
    for i, gid in enumerate(ids):
        pipe.hset(BL.game(gid), mapping={
            "id": gid, "state": "creator_joined", "creator_id": f"c{i}", "capacity": 2,
            "server_id": "gs-1", "players": f"c{i},p{i}" if full(i) else f"c{i}",
            "metadata": "{}", "created_at": now, "updated_at": now, "last_seq": 0})
        pipe.zadd(lobby, {gid: i})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    want = [gid for i, gid in enumerate(ids) if not full(i)][:50]
    ours = [g.id for g in mm.get_open_games(50)]
    theirs = b.r.evalsha(b.scan_sha, 1, lobby, 50, BL.prefix + "game:")
    b.check(ours == want, f"get_open_games ({layout}): not the 50 oldest open games")
    b.check(len(theirs) == len(want), f"unindexed scan ({layout}): {len(theirs)} games")
    p_us: list[float] = []
    s_us: list[float] = []
    deadline = time.monotonic() + a.open_budget_s
    clock = time.perf_counter_ns
    for rep in range(a.open_reps):  # alternating, so both see the same machine weather
        t0 = clock()
        mm.get_open_games(50)
        t1 = clock()
        b.r.evalsha(b.scan_sha, 1, lobby, 50, BL.prefix + "game:")
        t2 = clock()
        p_us.append((t1 - t0) / 1000)
        s_us.append((t2 - t1) / 1000)
        if rep >= 20 and time.monotonic() > deadline:
            break
    res.open_games[layout] = {"p50": pct(p_us, 0.5), "p99": pct(p_us, 0.99),
                              "scan_p50": pct(s_us, 0.5), "scan_p99": pct(s_us, 0.99),
                              "reps": float(len(p_us))}
    b.reset()


def section_memory(b: Bench, res: Results) -> None:
    a = b.args
    wl = hw.make_workload(a.memory_games, a.players)
    b.section("memory", f"memory:// from Python: {len(wl)} events")
    events = project_events(wl)
    loop_rates: list[float] = []
    many_rates: list[float] = []
    for _ in range(a.repeats):
        for kind in ("loop", "many"):
            mm = game_data.connect("memory://")
            for gid, creator, server, cap in wl.games:
                mm.create_game(creator_id=creator, capacity=cap, server_id=server, game_id=gid)
            t0 = time.perf_counter()
            if kind == "loop":
                apply = mm.apply
                out = [apply(e) for e in events]
            else:
                out = []
                for i in range(0, len(events), PROJECT_BATCH):
                    out += mm.apply_many(events[i:i + PROJECT_BATCH])
            rate = len(events) / (time.perf_counter() - t0)
            ok = sum(r.status is ApplyStatus.APPLIED for r in out)
            b.check(ok == len(events), f"memory:// {kind}: {ok} of {len(events)} applied")
            (loop_rates if kind == "loop" else many_rates).append(rate)
    res.memory["py_apply"] = max(loop_rates)
    res.memory["py_many"] = max(many_rates)
    # C++ figures from embedded_bench in the same ./dev bench run.
    path = b.args.embedded_results
    if path and path.is_file():
        for line in path.read_text().splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 5 and cells[3].replace(".", "").isdigit():
                key = {"baseline: apply_event on a map": "cpp_base",
                       "Matchmaker::apply": "cpp_apply",
                       "Matchmaker::apply_many (1000)": "cpp_many"}.get(cells[0])
                if key:
                    res.memory[key] = float(cells[3])
            # get_open_games(50) over embedded_bench's lobby, and its lobby scan: p50 us.
            if len(cells) == 3 and cells[1].replace(".", "").isdigit():
                key = {"baseline: scan lobby skipping full": "cpp_open_scan",
                       "get_open_games (open index)": "cpp_open"}.get(cells[0])
                if key:
                    res.memory[key] = float(cells[1])
        if "cpp_apply" not in res.memory:
            b.notes.append(f"no apply rows found in {path}")
    else:
        b.notes.append("C++ memory:// rows: not run here (./dev bench runs embedded_bench first "
                       "and passes its output with GD_BENCH_EMBEDDED_RESULTS)")


def section_chart(b: Bench, res: Results) -> None:
    a = b.args
    series: dict[str, dict[int, float]] = {
        "project consumer.poll(count=b)": {}, "project apply_many(b)": {},
        "baseline: redis-py, Lua per event": {}, "ceiling: Lua per event (C client)": {},
        "raw ceiling: no script (C client)": {}}
    step = a.players + 4
    for batch in a.batch_sizes:
        events = min(max(batch * 300, a.chart_min_events), a.chart_max_events)
        wl = hw.make_workload(max(1, events // step), a.players)
        b.section(f"chart b={batch}", f"chart: batch {batch}, {len(wl)} events")
        runs = [("project consumer.poll(count=b)", project_stream(b, wl, batch)),
                ("project apply_many(b)", project_apply_many(b, wl, batch)),
                ("baseline: redis-py, Lua per event", baseline_stream(b, wl, batch)),
                ("ceiling: Lua per event (C client)", ceiling_batched(b, wl, "script", batch)),
                ("raw ceiling: no script (C client)", ceiling_batched(b, wl, "raw", batch))]
        for name, run in runs:
            if run is not None:
                series[name][batch] = run.rate
    res.chart = series


# -- output ----------------------------------------------------------------------------------------

def _rate(run: Run | None) -> float | None:
    return run.rate if run else None


def build_rows(res: Results) -> list[Row]:
    s = res.stream
    p, bl, sc, raw = (s.get(k) for k in ("project", "baseline", "script ceiling", "raw ceiling"))
    pr = _rate(p)
    r_base, r_ceil = ratio(pr, _rate(bl)), ratio(pr, _rate(sc))
    rows = [
        Row(ROW_STREAM_BASE, f_rate(pr), "redis-py XREADGROUP + EVALSHA/event + XACK",
            f_rate(_rate(bl)), r_base, ">= 25x", _at_least(r_base, 25.0)),
        Row(ROW_STREAM_CEIL, f_rate(pr), "same Lua per event, redis-cli --pipe",
            f_rate(_rate(sc)), r_ceil, ">= 1.0x", _at_least(r_ceil, 1.0)),
        Row(ROW_STREAM_RAW, f_rate(pr), "HMGET/HSET/ZREM/ZADD, redis-cli --pipe",
            f_rate(_rate(raw)), ratio(pr, _rate(raw))),
    ]
    for name, key, label in (
            (ROW_STREAM_CEIL_C, "script ceiling (C client)", "same Lua per event"),
            (ROW_STREAM_RAW_C, "raw ceiling (C client)", "HMGET/HSET/ZREM/ZADD")):
        other = _rate(s.get(key))
        rows.append(Row(name, f_rate(pr), f"{label}, C client, {PROJECT_BATCH}/round trip",
                        f_rate(other), ratio(pr, other)))
    pc = p.cpu["once"] if p else None
    for name, run, label, target in (
            (ROW_CPU_BASE, bl, "baseline", "<= 6.0 us"),
            (ROW_CPU_CEIL, sc, "per-event-script ceiling", "-"),
            (ROW_CPU_RAW, raw, "raw ceiling", "-")):
        other = run.cpu["once"] if run else None
        rows.append(Row(name, f_us(pc), label, f_us(other), ratio(pc, other), target,
                        _at_most(pc, 6.0)))
    pt, bt = (run.cpu["rusage"] if run else None for run in (p, bl))
    rows.append(Row(ROW_CPU_THREAD, f_us(pt), "baseline (getrusage of the server thread)",
                    f_us(bt), ratio(pt, bt)))
    lat = res.latency
    a50, a99 = lat.get("apply_p50"), lat.get("apply_p99")
    r_ping = ratio(a50, lat.get("ping_p50"))
    r_cping = ratio(a50, lat.get("cping_p50"))
    rows += [
        Row(ROW_APPLY_P50, f_us(a50), "redis-py r.ping() p50", f_us(lat.get("ping_p50")),
            r_ping, "<= 3x", _at_most(r_ping, 3.0)),
        Row(ROW_APPLY_P50_C, f_us(a50), "C-level PING p50 (resp_pipe)",
            f_us(lat.get("cping_p50")), r_cping, "<= 3x", _at_most(r_cping, 3.0)),
        Row(ROW_APPLY_P99, f_us(a99), "redis-py r.ping() p99", f_us(lat.get("ping_p99")),
            ratio(a99, lat.get("ping_p99"))),
    ]
    pm, bm = _rate(res.many.get("project")), _rate(res.many.get("baseline"))
    rows.append(Row(ROW_MANY, f_rate(pm), "redis-py, 1000 pipelined EVALSHA per round trip",
                    f_rate(bm), ratio(pm, bm), ">= 100,000/s", _at_least(pm, 100_000)))
    for layout, r50_name, r99_name in (("spread", ROW_OPEN_SPREAD_P50, ROW_OPEN_SPREAD_P99),
                                       ("oldest", ROW_OPEN_OLDEST_P50, ROW_OPEN_OLDEST_P99)):
        o = res.open_games.get(layout, {})
        rows += [
            Row(r50_name, f_us(o.get("p50")), "unindexed Lua scan of the lobby, p50",
                f_us(o.get("scan_p50")), ratio(o.get("p50"), o.get("scan_p50"))),
            Row(r99_name, f_us(o.get("p99")), "unindexed Lua scan of the lobby, p99",
                f_us(o.get("scan_p99")), ratio(o.get("p99"), o.get("scan_p99"))),
        ]
    m = res.memory
    ca, cm, cb = m.get("cpp_apply"), m.get("cpp_many"), m.get("cpp_base")
    co, cs = m.get("cpp_open"), m.get("cpp_open_scan")
    r_open = ratio(co, cs)
    pa, pmany = m.get("py_apply"), m.get("py_many")
    r_many = ratio(pmany, pa)
    rows += [
        Row(ROW_MEM_CPP_APPLY, f_rate(ca), "C++ apply_event on a map (embedded_bench)",
            f_rate(cb), ratio(ca, cb), ">= 2,000,000/s", _at_least(ca, 2e6)),
        Row(ROW_MEM_CPP_MANY, f_rate(cm), "C++ Matchmaker::apply", f_rate(ca), ratio(cm, ca)),
        Row(ROW_MEM_CPP_OPEN, f_us(co), "C++ lobby scan skipping full games (embedded_bench)",
            f_us(cs), r_open, "<= 1.0x", _at_most(r_open, 1.0)),
        Row(ROW_MEM_PY_APPLY, f_rate(pa), "C++ Matchmaker::apply", f_rate(ca), ratio(pa, ca),
            ">= 1,000,000/s", _at_least(pa, 1e6)),
        Row(ROW_MEM_PY_MANY, f_rate(pmany), "Python apply loop", f_rate(pa), r_many,
            ">= 1.0x loop", _at_least(r_many, 1.0)),
    ]
    return rows


def write_chart(b: Bench, res: Results, path: Path) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "chart skipped: matplotlib is not installed (pip install matplotlib)"
    fig, ax = plt.subplots(figsize=(8, 5))
    markers = iter("osD^v")
    for name, points in res.chart.items():
        if points:
            xs = sorted(points)
            ax.plot(xs, [points[x] for x in xs], marker=next(markers), label=name)
    for name, style in (("script ceiling", "--"), ("raw ceiling", ":")):
        run = res.stream.get(name)
        if run:
            ax.axhline(run.rate, linestyle=style, color="grey",
                       label=f"{name}: redis-cli --pipe, unbatched")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch size (events per round trip)")
    ax.set_ylabel("events/s")
    ax.set_title("game_data on Redis: events/s against batch size (same run)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"chart: {path}"


def report(b: Bench, res: Results, started: float, load0: str) -> None:
    a = b.args
    rows = build_rows(res)
    b.say_heading(TABLE_TITLE, load0, f"{_redis_version(b)}; redis-py {redis.__version__} "
                  f"({_parser()}); game_data {game_data.__version__}", a.quick)
    for line in render_table(rows):
        b.say(line)
    b.say()
    b.say("Ratios are project / comparison. Throughput figures are the best of "
          f"{a.repeats} interleaved round(s); CPU figures the lowest.")
    b.say()
    b.say("### details")
    wl_events = a.stream_games * (a.players + 4)
    b.say(f"- workload: {a.stream_games} games x (creator_joined, player_joined x {a.players}, "
          f"game_started, heartbeat, game_ended) = {wl_events} events, interleaved per 100 "
          f"games, published with pipelined XADD before timing; the consumer batch is "
          f"{PROJECT_BATCH}; --pipe ceilings are timed around the redis-cli process, C client ones "
          "(bench/resp_pipe) by the client itself")
    for name, run in res.stream.items():
        c = run.cpu
        secs = run.seconds if run.seconds is not None else run.win.seconds
        b.say(f"- stream {name}: {run.events} events in {secs:.3f}s = "
              f"{run.rate:,.0f}/s; Redis us/event: {c['once']:.2f} commandstats (nested work "
              f"once), {c['info_sum']:.2f} commandstats summed as listed, {c['rusage']:.2f} "
              f"main thread CPU")
    for name, run in res.many.items():
        b.say(f"- apply_many {name}: {run.events} events in {run.win.seconds:.3f}s = "
              f"{run.rate:,.0f}/s")
    if res.latency:
        lat = res.latency
        c = (f"; C-level PING p50 {lat['cping_p50']:.1f} p99 {lat['cping_p99']:.1f} us (median "
             f"of {int(lat['cping_bursts'])} bursts, {int(lat['cping_n'])} PINGs, between "
             "stretches of applies)" if "cping_p50" in lat else "")
        b.say(f"- single apply: {int(lat['n'])} applies, each followed by a redis-py PING{c}")
    for layout, o in res.open_games.items():
        b.say(f"- get_open_games(50), {layout}: {a.lobby_games} lobby games of capacity 2, 90% "
              f"full, {int(o['reps'])} alternating calls of each")
    for name, points in res.chart.items():
        pts = ", ".join(f"b={k}: {v:,.0f}/s" for k, v in sorted(points.items())) or "n/a"
        b.say(f"- chart {name}: {pts}")
    b.say_run_details(started)


def _redis_version(b: Bench) -> str:
    return f"redis-server {b.r.info('server').get('redis_version', '?')}"


def _parser() -> str:
    try:
        import hiredis  # noqa: F401
    except ImportError:
        return "pure-Python parser"
    return "hiredis parser"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load0 = _loadavg()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    res = Results()
    with tempfile.TemporaryDirectory(prefix="gd-redis-bench-") as tmp, RedisServer() as server:
        b = Bench(args, server, Path(tmp))
        sections: list[tuple[str, Callable[[], None]]] = [
            ("stream", lambda: section_stream(b, res)),
            ("latency", lambda: section_latency(b, res)),
            ("apply_many", lambda: section_apply_many(b, res)),
            ("open games, spread", lambda: section_open_games(b, res, "spread")),
            ("open games, oldest", lambda: section_open_games(b, res, "oldest")),
            ("memory", lambda: section_memory(b, res)),
            ("chart", lambda: section_chart(b, res)),
        ]
        b.run_sections(sections)
        b.notes.append(write_chart(b, res, args.out_dir / "redis_throughput.png"))
        report(b, res, started, load0)
        return b.write(args.out_dir / "redis_bench.txt")


if __name__ == "__main__":
    sys.exit(main())
