#!/usr/bin/env python3
"""The matchmaking benchmark of game_data (issue 9): filtered open games, quick join and a
reservation burst on Redis, one table, every figure beside its comparison from this run.

    python bench/matchmaking_bench.py            # full sizes (./dev bench runs it)
    python bench/matchmaking_bench.py --quick    # small sizes, a smoke test

Lobby games of capacity 2, 90% full (filled with apply_many), spread over 20 values of
`mode`: the matching set (mode m00, `--matching` games) and the others (m01..m19), every game
of either kind interleaved in age order. `get_open_games(50, filters={"mode": "m00"})` and
`quick_join(player, filters={"mode": "m00"})` are timed beside a hand-written tracker's Lua
scripts that walk the same lobby without an index (bench/benchlib/handwritten_seats.py), on
two layouts with the matching set fixed: `--others-small` and ten times as many
(`--others-large`) other games. A reservation burst then has `--burst-procs` processes
quick-join the last free seat of each of `--burst-games` games at once, beside the same burst
through the hand-written script, and counts the seats over-filled.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import redis  # noqa: E402

import game_data  # noqa: E402
from benchlib.handwritten_seats import (  # noqa: E402
    FILTERED_OPEN_SCAN_LUA, RESERVE_SCAN_LUA, SeatKeys, write_lobby)
from benchlib.runner import Report  # noqa: E402
from benchlib.table import (  # noqa: E402
    Row, at_most, f_rate, f_us, loadavg, pct, ratio, render_table)
from game_data import ApplyStatus, Event  # noqa: E402
from game_data.testing import RedisServer  # noqa: E402

TABLE_TITLE = "game_data on Redis: issue 9 matchmaking benchmark"
MODE = "m00"  # the filter value every query asks for
OTHER_MODES = [f"m{i:02d}" for i in range(1, 20)]
BURST_MODE = "burst"
LIMIT = 50
P99_TARGET_US = 1_000.0
GROWTH_TARGET = 1.5  # p50 with 10x the other games, over p50 with the fewer
COMMAND_TIMEOUT_MS = 120_000
TTL_MS = 600_000  # reservations outlive the run

# Row names (the first column); tests/python/test_bench_smoke.py checks each is printed.
ROW_OPEN_P50 = "get_open_games(50, mode) p50 us"
ROW_OPEN_P99 = "get_open_games(50, mode) p99 us"
ROW_OPEN_P99_SMALL = "get_open_games(50, mode) p99 us, 10x fewer others"
ROW_OPEN_GROWTH = "get_open_games(50, mode) p50 growth, others x10"
ROW_QJ_P50 = "quick_join(mode) p50 us"
ROW_QJ_P99 = "quick_join(mode) p99 us"
ROW_QJ_P99_SMALL = "quick_join(mode) p99 us, 10x fewer others"
ROW_QJ_GROWTH = "quick_join(mode) p50 growth, others x10"
ROW_BURST = "reservation burst reservations/s"
ROW_BURST_OVERFILL = "reservation burst over-filled seats"
ROW_NAMES = (ROW_OPEN_P50, ROW_OPEN_P99, ROW_OPEN_P99_SMALL, ROW_OPEN_GROWTH, ROW_QJ_P50,
             ROW_QJ_P99, ROW_QJ_P99_SMALL, ROW_QJ_GROWTH, ROW_BURST, ROW_BURST_OVERFILL)

FULL = {"matching": 5_000, "others_small": 10_000, "others_large": 100_000, "reps": 1_000,
        "budget_s": 20.0, "burst_games": 1_000, "burst_procs": 4}
QUICK = {"matching": 500, "others_small": 500, "others_large": 5_000, "reps": 60,
         "budget_s": 3.0, "burst_games": 100, "burst_procs": 4}
ENV = {"matching": "GD_BENCH_MM_MATCHING", "others_small": "GD_BENCH_MM_OTHERS_SMALL",
       "others_large": "GD_BENCH_MM_OTHERS_LARGE", "reps": "GD_BENCH_MM_REPS",
       "burst_games": "GD_BENCH_MM_BURST_GAMES", "burst_procs": "GD_BENCH_MM_BURST_PROCS"}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    p.add_argument("--matching", type=int, help="lobby games of the queried mode (default 5000)")
    p.add_argument("--others-small", type=int, help="other games, small layout (default 10000)")
    p.add_argument("--others-large", type=int, help="other games, large layout (default 100000)")
    p.add_argument("--reps", type=int, help="timed calls of each kind per layout (default 1000)")
    p.add_argument("--burst-games", type=int, help="games whose last seat the burst takes (default 1000)")
    p.add_argument("--burst-procs", type=int, help="processes reserving at once (default 4)")
    p.add_argument("--out-dir", type=Path, default=Path(os.environ.get(
        "GD_BENCH_OUT_DIR", str(HERE / "results"))), help="where the table goes")
    # ./dev bench passes the same arguments to every bench/*.py: those of the others are ignored.
    args, ignored = p.parse_known_args(argv)
    if ignored:
        print(f"matchmaking_bench: ignoring arguments for other benchmarks: {' '.join(ignored)}",
              file=sys.stderr)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key, None) is None:  # not given: the environment, else the preset
            from_env = os.environ.get(ENV.get(key, ""))
            setattr(args, key, int(from_env) if from_env else value)
    for key in ("matching", "others_small", "others_large", "reps", "burst_games", "burst_procs"):
        if getattr(args, key) < 1:
            p.error(f"--{key.replace('_', '-')} must be at least 1")
    if args.matching < 10 * LIMIT:
        p.error(f"--matching must be at least {10 * LIMIT}: {LIMIT} of its games must be open")
    return args


# -- the run -------------------------------------------------------------------------------------

@dataclass
class Results:
    layouts: dict[str, dict[str, float]] = field(default_factory=dict)  # small/large -> figures
    bursts: dict[str, dict[str, float]] = field(default_factory=dict)  # burst / burst small


class Bench(Report):
    def __init__(self, args: argparse.Namespace, server: RedisServer) -> None:
        super().__init__()
        self.args = args
        self.server = server
        self.r = redis.Redis(host=server.host, port=server.port,
                             socket_timeout=COMMAND_TIMEOUT_MS / 1000)
        self.load_scripts()

    def load_scripts(self) -> None:
        self.scan_sha = self.r.script_load(FILTERED_OPEN_SCAN_LUA)
        self.reserve_sha = self.r.script_load(RESERVE_SCAN_LUA)

    def reset(self) -> None:
        self.r.flushall()
        self.load_scripts()

    def connect(self) -> game_data.Matchmaker:
        return game_data.connect(self.server.url, namespace=f"mm-{uuid.uuid4().hex[:8]}",
                                 timeout_ms=COMMAND_TIMEOUT_MS, filter_keys=("mode",))


def create_games(mm: game_data.Matchmaker, games: list[tuple[str, int, str, str]]) -> None:
    """create_game for (id, capacity, creator, mode) from 4 threads (the GIL is released)."""
    def create(g: tuple[str, int, str, str]) -> None:
        gid, capacity, creator, mode = g
        mm.create_game(creator_id=creator, capacity=capacity, server_id="gs-1",
                       metadata={"mode": mode}, game_id=gid)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in pool.map(create, games, chunksize=256):
            pass


def apply_all(b: Bench, mm: game_data.Matchmaker, events: list[Event], what: str) -> None:
    applied = 0
    for i in range(0, len(events), 1000):
        applied += sum(r.status is ApplyStatus.APPLIED for r in mm.apply_many(events[i:i + 1000]))
    b.check(applied == len(events), f"{what}: {applied} of {len(events)} events applied")


def layout(matching: int, others: int) -> list[tuple[str, str, bool]]:
    """(id, mode, open) in age order: the matching games spread evenly among the others; every
    tenth game of each kind open, the rest full."""
    total = matching + others
    is_match = [False] * total
    for k in range(matching):
        is_match[k * total // matching] = True
    out, k, j = [], 0, 0
    for i in range(total):
        if is_match[i]:
            out.append((f"g{i:07d}", MODE, k % 10 == 9))
            k += 1
        else:
            out.append((f"g{i:07d}", OTHER_MODES[j % len(OTHER_MODES)], j % 10 == 9))
            j += 1
    return out


def section_layout(b: Bench, res: Results, name: str, others: int) -> None:
    """Builds one layout twice (the library's games, the hand-written lobby), then times
    get_open_games and quick_join against their unindexed scripts, alternating call by call so
    both see the same machine load."""
    a = b.args
    games = layout(a.matching, others)
    b.section(name, f"{name} layout: {a.matching} matching + {others} other lobby games, twice")
    b.reset()
    mm = b.connect()
    create_games(mm, [(gid, 2, f"c{i}", mode) for i, (gid, mode, _) in enumerate(games)])
    events = [Event(type="creator_joined", game_id=gid, server_id="gs-1", player_id=f"c{i}")
              for i, (gid, _, _) in enumerate(games)]
    events += [Event(type="player_joined", game_id=gid, server_id="gs-1", player_id=f"p{i}")
               for i, (gid, _, is_open) in enumerate(games) if not is_open]
    apply_all(b, mm, events, f"{name} layout")
    keys = SeatKeys("hw:{m}:")
    write_lobby(b.r, keys, ((gid, 2, [f"c{i}"] if is_open else [f"c{i}", f"p{i}"], mode)
                            for i, (gid, mode, is_open) in enumerate(games)))
    want = [gid for gid, mode, is_open in games if mode == MODE and is_open][:LIMIT]

    def scan() -> list[str]:
        arrays = b.r.evalsha(b.scan_sha, 1, keys.lobby, LIMIT, keys.game_prefix, MODE)
        return [dict(zip(arr[::2], arr[1::2])).get(b"id", b"?").decode() for arr in arrays]

    def hw_quick_join() -> str | None:
        got = b.r.evalsha(b.reserve_sha, 1, keys.lobby, keys.game_prefix, MODE)
        return got.decode() if got else None

    filters = {"mode": MODE}
    b.check([g.id for g in mm.get_open_games(LIMIT, filters=filters)] == want,
            f"{name}: get_open_games is not the {LIMIT} oldest open {MODE} games")
    b.check(scan() == want, f"{name}: the unindexed scan is not the {LIMIT} oldest open {MODE} games")
    samples: dict[str, list[float]] = {"open": [], "scan": [], "qj": [], "hw_qj": []}
    wrong_qj = wrong_hw = 0
    clock = time.perf_counter_ns
    deadline = time.monotonic() + a.budget_s
    for rep in range(a.reps):
        player = f"q{rep}"
        t0 = clock()
        mm.get_open_games(LIMIT, filters=filters)
        t1 = clock()
        b.r.evalsha(b.scan_sha, 1, keys.lobby, LIMIT, keys.game_prefix, MODE)
        t2 = clock()
        r = mm.quick_join(player, filters=filters, ttl_ms=TTL_MS)
        t3 = clock()
        got = hw_quick_join()
        t4 = clock()
        # Untimed: give the seats back, so every call meets the same lobby.
        if r is None or r.game_id != want[0] or not mm.cancel_reservation(r.game_id, player):
            wrong_qj += 1
        if got != want[0]:
            wrong_hw += 1
        if got is not None:
            b.r.hincrby(keys.game(got), "reserved", -1)
        for k, (s, e) in (("open", (t0, t1)), ("scan", (t1, t2)), ("qj", (t2, t3)), ("hw_qj", (t3, t4))):
            samples[k].append((e - s) / 1000)
        if rep >= 20 and time.monotonic() > deadline:
            break
    n = len(samples["open"])
    b.check(wrong_qj == 0, f"{name}: {wrong_qj} of {n} quick_joins not in the oldest open {MODE} game")
    b.check(wrong_hw == 0, f"{name}: {wrong_hw} of {n} hand-written quick joins elsewhere")
    figures = {"reps": float(n), "games": float(len(games))}
    for k, values in samples.items():
        figures[f"{k}_p50"] = pct(values, 0.5)
        figures[f"{k}_p99"] = pct(values, 0.99)
    res.layouts[name] = figures
    b.reset()


# -- the reservation burst -------------------------------------------------------------------------

def _burst_worker(url: str, host: str, port: int, namespace: str, variant: str, idx: int,
                  ready: Any, start: Any, out: Any) -> None:
    """One burst process: quick-join until no seat is left; reports the games it got."""
    try:
        if variant == "project":
            mm = game_data.connect(url, namespace=namespace, timeout_ms=COMMAND_TIMEOUT_MS,
                                   filter_keys=("mode",))
            mm.get_open_games(1, filters={"mode": BURST_MODE})  # connected and warm

            def take(n: int) -> str | None:
                r = mm.quick_join(f"b{idx}-{n}", filters={"mode": BURST_MODE}, ttl_ms=TTL_MS)
                return r.game_id if r is not None else None
        else:
            r = redis.Redis(host=host, port=port, socket_timeout=COMMAND_TIMEOUT_MS / 1000)
            keys = SeatKeys(namespace)
            sha = r.script_load(RESERVE_SCAN_LUA)

            def take(n: int) -> str | None:
                got = r.evalsha(sha, 1, keys.lobby, keys.game_prefix, BURST_MODE)
                return got.decode() if got else None
        ready.put(idx)
        start.wait()
        got, n = [], 0
        t0 = time.monotonic()
        while (gid := take(n)) is not None:
            got.append(gid)
            n += 1
        out.put((idx, got, t0, time.monotonic(), None))
    except Exception as err:  # noqa: BLE001 - the parent reports it
        out.put((idx, [], 0.0, 0.0, f"{type(err).__name__}: {err}"))


def run_burst(b: Bench, variant: str, namespace: str) -> tuple[float, dict[str, int]]:
    """All processes connect, then start together; returns (wall seconds, seats per game)."""
    a = b.args
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding connections
    ready, out, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_burst_worker, args=(b.server.url, b.server.host, b.server.port,
                                                     namespace, variant, i, ready, start, out))
             for i in range(a.burst_procs)]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready.get(timeout=120)
        t0 = time.monotonic()
        start.set()
        results = [out.get(timeout=600) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    taken: dict[str, int] = {}
    end = t0
    for idx, got, _, t_end, err in results:
        b.check(err is None, f"burst {variant} process {idx} failed: {err}")
        for gid in got:
            taken[gid] = taken.get(gid, 0) + 1
        end = max(end, t_end)
    return end - t0, taken


def section_burst(b: Bench, res: Results, n: int, key: str) -> None:
    """The last free seat of each of n games (capacity 4, three seated), taken by burst_procs
    processes quick-joining at once; then the library's and the hand-written burst are checked
    for seats taken twice and games holding more than their capacity."""
    a = b.args
    b.section(key, f"reservation burst: {a.burst_procs} processes, last seats of {n} games")
    b.reset()
    ids = [f"b{i:06d}" for i in range(n)]
    mm = b.connect()
    create_games(mm, [(gid, 4, f"c{i}", BURST_MODE) for i, gid in enumerate(ids)])
    events = [Event(type="creator_joined", game_id=gid, server_id="gs-1", player_id=f"c{i}")
              for i, gid in enumerate(ids)]
    for seat in (1, 2):
        events += [Event(type="player_joined", game_id=gid, server_id="gs-1", player_id=f"p{i}-{seat}")
                   for i, gid in enumerate(ids)]
    apply_all(b, mm, events, "burst layout")
    keys = SeatKeys("hw:{r}:")
    write_lobby(b.r, keys, ((gid, 4, [f"c{i}", f"p{i}-1", f"p{i}-2"], BURST_MODE)
                            for i, gid in enumerate(ids)))

    seconds, taken = run_burst(b, "project", mm.namespace)
    granted = sum(taken.values())
    # Over-filled seats, counted twice over: seats granted beyond the one free per game, and as
    # stored, players plus live reservations beyond capacity.
    over_granted = sum(max(0, c - 1) for c in taken.values())
    stored = [mm.get_game(gid) for gid in ids]
    over_stored = sum(max(0, len(g.players) + len(g.reservations) - g.capacity) for g in stored if g)
    b.check(all(stored), "burst: a game vanished")
    over = max(over_granted, over_stored)
    b.check(set(taken) == set(ids), f"burst: {len(taken)} of {n} last seats taken")
    b.check(over == 0, f"burst: {over} seats over-filled")

    hw_seconds, hw_taken = run_burst(b, "handwritten", keys.prefix)
    hw_over = sum(max(0, c - 1) for c in hw_taken.values())
    hw_granted = sum(hw_taken.values())
    b.check(set(hw_taken) == set(ids), f"hand-written burst: {len(hw_taken)} of {n} last seats taken")
    res.bursts[key] = {"games": float(n), "rate": granted / seconds if seconds > 0 else 0.0, "over": float(over),
                 "granted": float(granted), "seconds": seconds,
                 "hw_rate": hw_granted / hw_seconds if hw_seconds > 0 else 0.0,
                 "hw_over": float(hw_over), "hw_granted": float(hw_granted), "hw_seconds": hw_seconds}
    b.reset()


# -- output ----------------------------------------------------------------------------------------

def build_rows(res: Results, procs: int) -> list[Row]:
    small, large = res.layouts.get("small", {}), res.layouts.get("large", {})
    rows: list[Row] = []
    for key, against, p50_row, p99_row, small_row, growth_row in (
            ("open", "scan", ROW_OPEN_P50, ROW_OPEN_P99, ROW_OPEN_P99_SMALL, ROW_OPEN_GROWTH),
            ("qj", "hw_qj", ROW_QJ_P50, ROW_QJ_P99, ROW_QJ_P99_SMALL, ROW_QJ_GROWTH)):
        label = "unindexed Lua scan of the lobby" if key == "open" else "unindexed Lua quick join"
        p50, p99, s99 = large.get(f"{key}_p50"), large.get(f"{key}_p99"), small.get(f"{key}_p99")
        growth = ratio(p50, small.get(f"{key}_p50"))
        their_growth = ratio(large.get(f"{against}_p50"), small.get(f"{against}_p50"))
        rows += [
            Row(p50_row, f_us(p50), f"{label}, p50", f_us(large.get(f"{against}_p50")),
                ratio(p50, large.get(f"{against}_p50"))),
            Row(p99_row, f_us(p99), f"{label}, p99", f_us(large.get(f"{against}_p99")),
                ratio(p99, large.get(f"{against}_p99")), f"< {P99_TARGET_US:,.0f} us",
                None if p99 is None else p99 < P99_TARGET_US),
            Row(small_row, f_us(s99), f"{label}, p99", f_us(small.get(f"{against}_p99")),
                ratio(s99, small.get(f"{against}_p99")), f"< {P99_TARGET_US:,.0f} us",
                None if s99 is None else s99 < P99_TARGET_US),
            Row(growth_row, "n/a" if growth is None else f"{growth:.2f}x",
                "the same growth of the scan", "n/a" if their_growth is None else f"{their_growth:.2f}x",
                ratio(growth, their_growth), f"<= {GROWTH_TARGET}x", at_most(growth, GROWTH_TARGET)),
        ]
    bu = res.bursts.get("burst", {})
    rows += [
        Row(ROW_BURST, f_rate(bu.get("rate")), f"unindexed Lua quick join, {procs} processes",
            f_rate(bu.get("hw_rate")), ratio(bu.get("rate"), bu.get("hw_rate"))),
        Row(ROW_BURST_OVERFILL, f_rate(bu.get("over")), "the same, hand-written (atomic script)",
            f_rate(bu.get("hw_over")), None, "= 0",
            None if "over" not in bu else bu["over"] == 0),
    ]
    return rows


def report(b: Bench, res: Results, started: float, load0: str) -> None:
    a = b.args
    version = b.r.info("server").get("redis_version", "?")
    b.say_heading(TABLE_TITLE, load0, f"redis-server {version}; redis-py {redis.__version__}; "
                  f"game_data {game_data.__version__}", a.quick)
    for line in render_table(build_rows(res, a.burst_procs)):
        b.say(line)
    b.say()
    b.say("Ratios are project / comparison; growth is the p50 with the large layout over the "
          "p50 with the small one.")
    b.say()
    b.say("### details")
    for name, others in (("small", a.others_small), ("large", a.others_large)):
        f = res.layouts.get(name)
        if f:
            b.say(f"- {name} layout: {a.matching} lobby games of mode {MODE} and {others} of 19 "
                  f"other modes, capacity 2, 90% full, interleaved; {int(f['reps'])} alternating "
                  f"calls of each kind; quick_join and the hand-written one each give their seat "
                  f"back (untimed) before the next call")
    for key, bu in sorted(res.bursts.items()):
        b.say(f"- {key}: {a.burst_procs} processes, {int(bu['games'])} games of capacity 4 with 3 "
              f"seated; project {int(bu['granted'])} seats in {bu['seconds']:.3f}s = "
              f"{bu['rate']:,.0f}/s, hand-written {int(bu['hw_granted'])} in {bu['hw_seconds']:.3f}s "
              f"= {bu['hw_rate']:,.0f}/s (from the common start to the last process done)")
    b.say_run_details(started)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load0 = loadavg()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    res = Results()
    with RedisServer() as server:
        b = Bench(args, server)
        sections: list[tuple[str, Callable[[], None]]] = [
            ("small layout", lambda: section_layout(b, res, "small", args.others_small)),
            ("large layout", lambda: section_layout(b, res, "large", args.others_large)),
            ("burst", lambda: section_burst(b, res, args.burst_games, "burst")),
            # Ten times fewer last seats: how the burst's cost grows with the seats it takes.
            ("burst small", lambda: section_burst(b, res, max(1, args.burst_games // 10), "burst small")),
        ]
        b.run_sections(sections)
        report(b, res, started, load0)
        return b.write(args.out_dir / "matchmaking_bench.txt")


if __name__ == "__main__":
    sys.exit(main())
