#!/usr/bin/env python3
"""Many resident games on one Redis core (issue 17): one table, each figure beside its floor
measured in the same run on a private redis-server.

    python bench/scale_bench.py                     # 100k resident games (./dev bench runs it)
    python bench/scale_bench.py --games 1000000     # the issue's 1M
    python bench/scale_bench.py --quick             # 20k games, a smoke test

The resident mix is the issue's: 20% pending, 50% lobby (capacity 2-8, some players), 30%
active; metadata {mode, region}; filter_keys ("mode", "region"); 12-character ids. Rows:

- heartbeats: Redis main-thread CPU per heartbeat consumed through `consumer().poll(count=1000)`
  (XREADGROUP, the heartbeat script, XACK), beside the raw floor: `HSET <record> updated_at T
  score T` and one `ZADD <set> T <id>` per heartbeat through `redis-cli --pipe`;
- get_open_games(50), unfiltered and with both filters: p50/p99 latency, beside the same reads
  pipelined without Lua (ZRANGE of the index and HGETALL of each game returned);
- create_games(1000 per call): games/s from one client, beside the raw floor of HSET + ZADD
  per game through `redis-cli --pipe`;
- Redis memory per resident game (used_memory after populating / games), informational.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import redis  # noqa: E402

import game_data  # noqa: E402
from benchlib.handwritten import resp  # noqa: E402
from benchlib.runner import Report  # noqa: E402
from benchlib.server import main_thread_cpu  # noqa: E402
from benchlib.table import Row, at_most, f_rate, f_us, pct, ratio, render_table  # noqa: E402
from benchlib.table import loadavg as _loadavg  # noqa: E402
from game_data import ApplyStatus, Event  # noqa: E402
from game_data.testing import RedisServer  # noqa: E402

TABLE_TITLE = "game_data at scale on one Redis: issue 17 benchmark"

ROW_HEARTBEAT = "heartbeat Redis CPU us/event vs raw floor"
ROW_HEARTBEAT_FULL = "heartbeat Redis CPU us/event vs the full path"
ROW_HEARTBEAT_RATE = "heartbeat e2e events/s (poll(count=1000))"
ROW_OPEN_P50 = "get_open_games(50) p50 us vs pipelined reads"
ROW_OPEN_P99 = "get_open_games(50) p99 us"
ROW_OPEN2_P50 = "get_open_games(50, mode+region) p50 us vs pipelined reads"
ROW_OPEN2_P99 = "get_open_games(50, mode+region) p99 us"
ROW_CREATE = "create_games(1000) games/s vs raw floor"
ROW_MEMORY = "Redis memory B/game"
ROW_REAP = "reap() games/s (every pending game stale)"
ROW_REAP_LONGEST = "reap longest Redis call us"
ROW_NAMES = (ROW_HEARTBEAT, ROW_HEARTBEAT_FULL, ROW_HEARTBEAT_RATE, ROW_OPEN_P50, ROW_OPEN_P99, ROW_OPEN2_P50,
             ROW_OPEN2_P99, ROW_CREATE, ROW_REAP, ROW_REAP_LONGEST, ROW_MEMORY)

BATCH = 1000
MODES = ("duel", "squad", "ffa", "ranked")
REGIONS = ("eu", "us", "asia")
TIMEOUT_MS = 300_000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="20k games, fewer samples: a smoke test")
    p.add_argument("--games", type=int, help="resident games (default 100000; --quick 20000)")
    p.add_argument("--heartbeats", type=int, help="heartbeats measured (default min(games, 200000))")
    p.add_argument("--open-reps", type=int, help="get_open_games calls per variant (default 1000)")
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--out-dir", type=Path, default=Path(os.environ.get(
        "GD_BENCH_OUT_DIR", str(HERE / "results"))), help="where the table goes")
    # ./dev bench passes the same arguments to every bench/*.py: those of the others are ignored.
    args, ignored = p.parse_known_args(argv)
    if ignored:
        print(f"scale_bench: ignoring arguments for other benchmarks: {' '.join(ignored)}",
              file=sys.stderr)
    if args.games is None:
        args.games = 20_000 if args.quick else 100_000
    if args.heartbeats is None:
        args.heartbeats = min(args.games, 20_000 if args.quick else 200_000)
    if args.open_reps is None:
        args.open_reps = 100 if args.quick else 1_000
    return args


class Scale(Report):
    def __init__(self, args: argparse.Namespace, server: RedisServer, tmp: Path) -> None:
        super().__init__()
        self.args = args
        self.server = server
        self.tmp = tmp
        self.r = redis.Redis(host=server.host, port=server.port, socket_timeout=TIMEOUT_MS / 1000)
        self.redis_cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        self.rng = random.Random(args.seed)
        self.ns = f"scale-{uuid.uuid4().hex[:6]}"
        self.prefix = f"{self.ns}:{{0}}:"
        self.mm = game_data.connect(server.url, namespace=self.ns, timeout_ms=TIMEOUT_MS,
                                    filter_keys=("mode", "region"))
        self.ids: list[str] = []
        self.set_of: dict[str, str] = {}
        self.figures: dict[str, float | None] = {}

    def pipe(self, name: str, commands: list[bytes]) -> tuple[bool, float, float]:
        """Commands through redis-cli --pipe: (all replied without error, seconds, CPU s)."""
        path = self.tmp / f"{name}.resp"
        path.write_bytes(b"".join(commands))
        cpu0 = main_thread_cpu(self.r)
        t0 = time.perf_counter()
        with path.open("rb") as f:
            proc = subprocess.run([self.redis_cli, "-h", self.server.host, "-p",
                                   str(self.server.port), "--pipe"], stdin=f,
                                  capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - t0
        cpu = main_thread_cpu(self.r) - cpu0
        m = re.search(r"errors: (\d+), replies: (\d+)", proc.stdout + proc.stderr)
        ok = bool(m) and int(m.group(1)) == 0 and int(m.group(2)) == len(commands)
        self.check(ok, f"redis-cli --pipe ({name}): {(proc.stdout + proc.stderr).strip()[-200:]!r}")
        return ok, seconds, cpu


def game_spec(s: Scale, i: int) -> dict[str, object]:
    gid = f"g{i:011d}"
    return {"game_id": gid, "creator_id": f"c{i:011d}", "capacity": 2 + i % 7,
            "server_id": f"srv{i % 97:03d}",
            "metadata": {"mode": MODES[i % len(MODES)], "region": REGIONS[(i // 4) % len(REGIONS)]}}


def section_populate(s: Scale) -> None:
    s.section("populate", f"creating {s.args.games:,} games")
    mem0 = int(s.r.info("memory")["used_memory"])
    n = s.args.games
    t0 = time.perf_counter()
    for start in range(0, n, BATCH):
        batch = [game_spec(s, i) for i in range(start, min(n, start + BATCH))]
        s.mm.create_games(batch)
    created_s = time.perf_counter() - t0
    s.figures["create_rate"] = n / created_s
    events: list[Event] = []
    for i in range(n):
        spec = game_spec(s, i)
        gid, server = str(spec["game_id"]), str(spec["server_id"])
        s.ids.append(gid)
        kind = i % 10  # 0-1 pending, 2-6 lobby, 7-9 active
        if kind < 2:
            s.set_of[gid] = "pending"
            continue
        events.append(Event(type="creator_joined", game_id=gid, server_id=server,
                            player_id=str(spec["creator_id"])))
        for p in range(i % 3 if kind < 7 else 1):
            events.append(Event(type="player_joined", game_id=gid, server_id=server,
                                player_id=f"p{i:010d}{p}"))
        if kind >= 7:
            events.append(Event(type="game_started", game_id=gid, server_id=server))
            s.set_of[gid] = "active"
        else:
            s.set_of[gid] = "lobby"
    for start in range(0, len(events), BATCH):
        results = s.mm.apply_many(events[start:start + BATCH])
        bad = [r for r in results if r.status is not ApplyStatus.APPLIED]
        s.check(not bad, f"populate: {len(bad)} events not applied, first {bad[:1]}")
    mem1 = int(s.r.info("memory")["used_memory"])
    s.figures["bytes_per_game"] = (mem1 - mem0) / n
    counts = s.mm.counts()
    want = {"pending": n - sum(1 for v in s.set_of.values() if v != "pending"),
            "lobby": sum(1 for v in s.set_of.values() if v == "lobby"),
            "active": sum(1 for v in s.set_of.values() if v == "active")}
    s.check(dict(counts) == want, f"populate: counts {dict(counts)}, want {want}")
    s.progress(f"populated in {time.perf_counter() - t0:.1f}s ({created_s:.1f}s creating)")


def _consume_heartbeats(s: Scale, chosen: list[str], beside_noop: bool) -> tuple[int, float, float]:
    """Publish a heartbeat per chosen game (untimed), then consume them: (heartbeats applied,
    seconds, Redis main-thread CPU seconds). With `beside_noop`, each heartbeat follows a
    player_left of a player not in the game (a duplicate that writes nothing), which sends
    the game the full way: read, decide, guarded commit."""
    stream = s.mm.default_stream
    pipe = s.r.pipeline(transaction=False)
    for k, gid in enumerate(chosen, 1):
        server = f"srv{int(gid[1:]) % 97:03d}"
        if beside_noop:
            pipe.xadd(stream, {"type": "player_left", "game_id": gid, "server_id": server,
                               "player_id": "nobody"})
        pipe.xadd(stream, {"type": "heartbeat", "game_id": gid, "server_id": server})
        if k % 500 == 0:
            pipe.execute()
    pipe.execute()
    total = len(chosen) * (2 if beside_noop else 1)
    consumer = s.mm.consumer(name=f"scale-{'full' if beside_noop else 'blind'}")
    applied = seen = 0
    cpu0 = main_thread_cpu(s.r)
    t0 = time.perf_counter()
    while seen < total:
        results = consumer.poll(count=BATCH, block_ms=0)
        if not results:
            break
        seen += len(results)
        applied += sum(1 for r in results if r.status is ApplyStatus.APPLIED)
    seconds = time.perf_counter() - t0
    cpu = main_thread_cpu(s.r) - cpu0
    s.check(seen == total, f"heartbeats: {seen} of {total} entries read")
    return applied, seconds, cpu


def section_heartbeats(s: Scale) -> None:
    h = s.args.heartbeats
    s.section("heartbeats", f"{h:,} heartbeats")
    chosen = [s.ids[s.rng.randrange(len(s.ids))] for _ in range(h)]
    open_before = s.r.zcard(s.prefix + "open")
    counts_before = dict(s.mm.counts())
    applied, seconds, cpu = _consume_heartbeats(s, chosen, beside_noop=False)
    s.check(applied == h, f"heartbeats: {applied} of {h} applied")
    s.check(dict(s.mm.counts()) == counts_before, "heartbeats moved games between sets")
    s.check(s.r.zcard(s.prefix + "open") == open_before, "heartbeats changed the open index")
    s.figures["hb_us"] = cpu / h * 1e6
    s.figures["hb_rate"] = h / seconds
    full = chosen[: max(1, h // 4)]
    applied, _seconds, cpu = _consume_heartbeats(s, full, beside_noop=True)
    s.check(applied == len(full), f"full-path heartbeats: {applied} of {len(full)} applied")
    s.figures["hb_full_us"] = cpu / len(full) * 1e6
    # The floor: the two writes a heartbeat needs, as plain commands.
    t = str(int(time.time() * 1000))
    cmds = []
    for gid in chosen:
        cmds.append(resp(["HSET", s.prefix + "game:" + gid, "updated_at", t, "score", t]))
        cmds.append(resp(["ZADD", s.prefix + s.set_of[gid], t, gid]))
    ok, seconds_f, cpu_f = s.pipe("heartbeat-floor", cmds)
    s.figures["hb_floor_us"] = cpu_f / h * 1e6 if ok else None
    s.figures["hb_floor_rate"] = h / seconds_f if ok else None


def _latencies(fn: Callable[[], object], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e6)
    return out


def section_open(s: Scale) -> None:
    reps = s.args.open_reps
    s.section("open games", f"get_open_games(50) x {reps}")
    filters = {"mode": "duel", "region": "eu"}
    got = s.mm.get_open_games(50)
    s.check(len(got) == 50, f"get_open_games(50) returned {len(got)}")
    got2 = s.mm.get_open_games(50, filters=filters)
    s.check(len(got2) == 50 and all(g.metadata == filters for g in got2),
            f"get_open_games(50, mode+region) returned {len(got2)} games, or others")
    s.figures["open"] = _latencies(lambda: s.mm.get_open_games(50), reps)
    s.figures["open2"] = _latencies(lambda: s.mm.get_open_games(50, filters=filters), reps)

    def pipelined(index: str) -> None:
        ids = s.r.zrange(s.prefix + index, 0, 49)
        pipe = s.r.pipeline(transaction=False)
        for gid in ids:
            pipe.hgetall(s.prefix + "game:" + gid.decode())
        pipe.execute()

    s.figures["open_floor"] = _latencies(lambda: pipelined("open"), reps)
    s.figures["open2_floor"] = _latencies(
        lambda: pipelined('open:mode="duel"'), reps)  # one index: the floor of two filters too


def section_reap(s: Scale) -> None:
    pending = sum(1 for v in s.set_of.values() if v == "pending")
    s.section("reap", f"reaping {pending:,} stale pending games")
    s.r.config_set("slowlog-log-slower-than", "500")
    s.r.config_set("slowlog-max-len", "100000")
    s.r.slowlog_reset()
    t0 = time.perf_counter()
    reaped = s.mm.reap(now=s.mm.now() + 61_000)  # past the pending age only
    seconds = time.perf_counter() - t0
    s.check(len(reaped) == pending, f"reap: {len(reaped)} games reaped, want {pending}")
    slow = [e for e in s.r.slowlog_get(100000)
            if e["command"].split()[:1] in ([b"EVALSHA"], [b"EVAL"], ["EVALSHA"], ["EVAL"])]
    s.figures["reap_rate"] = len(reaped) / seconds
    s.figures["reap_longest_us"] = float(max((e["duration"] for e in slow), default=0))
    s.figures["reap_slow_calls"] = float(len(slow))
    s.r.config_set("slowlog-log-slower-than", "10000")


def section_create_floor(s: Scale) -> None:
    n = min(s.args.games, 100_000)
    s.section("create floor", f"raw HSET + ZADD of {n:,} records")
    t = str(int(time.time() * 1000))
    cmds = []
    for i in range(n):
        spec = game_spec(s, i)
        gid = "f" + str(spec["game_id"])[1:]
        cmds.append(resp(["HSET", s.prefix + "floor:" + gid, "id", gid, "state", "created",
                         "creator_id", str(spec["creator_id"]), "capacity", str(spec["capacity"]),
                         "server_id", str(spec["server_id"]), "players", "",
                         "metadata", '{"mode":"duel","region":"eu"}', "created_at", t,
                         "updated_at", t, "last_seq", "0", "rev", "1", "score", t]))
        cmds.append(resp(["ZADD", s.prefix + "floor-pending", t, gid]))
    ok, seconds, _cpu = s.pipe("create-floor", cmds)
    s.figures["create_floor_rate"] = n / seconds if ok else None


def build_rows(s: Scale) -> list[Row]:
    f = s.figures
    n = f"{s.args.games:,} games"
    hb, hb_floor = f.get("hb_us"), f.get("hb_floor_us")
    rows = [Row(ROW_HEARTBEAT, f_us(hb), f"HSET+ZADD per event, redis-cli --pipe ({n})",
                f_us(hb_floor), ratio(hb, hb_floor), "<= 1.00x",
                at_most(ratio(hb, hb_floor), 1.0)),
            Row(ROW_HEARTBEAT_FULL, f_us(hb), "read, decide, commit (beside a no-op event)",
                f_us(f.get("hb_full_us")), ratio(hb, f.get("hb_full_us"))),
            Row(ROW_HEARTBEAT_RATE, f_rate(f.get("hb_rate")), "the floor's commands/2 per s",
                f_rate(f.get("hb_floor_rate")), ratio(f.get("hb_rate"), f.get("hb_floor_rate")))]
    for name, p99name, key in ((ROW_OPEN_P50, ROW_OPEN_P99, "open"),
                               (ROW_OPEN2_P50, ROW_OPEN2_P99, "open2")):
        lat, floor = f.get(key), f.get(key + "_floor")
        if isinstance(lat, list) and isinstance(floor, list):
            p50, p50f = statistics.median(lat), statistics.median(floor)
            p99 = pct(lat, 0.99)
            rows.append(Row(name, f_us(p50), "ZRANGE + HGETALL x50, pipelined", f_us(p50f),
                            ratio(p50, p50f)))
            rows.append(Row(p99name, f_us(p99), "1 ms", "1,000.0", ratio(p99, 1000.0),
                            "<= 1.00x", at_most(p99, 1000.0)))
    rows.append(Row(ROW_CREATE, f_rate(f.get("create_rate")), "HSET+ZADD per game, redis-cli --pipe",
                    f_rate(f.get("create_floor_rate")),
                    ratio(f.get("create_rate"), f.get("create_floor_rate"))))
    rows.append(Row(ROW_REAP, f_rate(f.get("reap_rate")), "50k/s (issue 17's target)", "50,000",
                    ratio(f.get("reap_rate"), 50_000.0), ">= 1.00x",
                    None if f.get("reap_rate") is None else f["reap_rate"] >= 50_000))
    rows.append(Row(ROW_REAP_LONGEST, f_us(f.get("reap_longest_us")), "2 ms budget per call",
                    "2,000.0", ratio(f.get("reap_longest_us"), 2000.0), "<= 1.00x",
                    at_most(f.get("reap_longest_us"), 2000.0)))
    rows.append(Row(ROW_MEMORY, f_rate(f.get("bytes_per_game")), "300 B (issue 17's target)",
                    "300", ratio(f.get("bytes_per_game"), 300.0)))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load0 = _loadavg()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gd-scale-bench-") as tmp, RedisServer() as server:
        s = Scale(args, server, Path(tmp))
        s.run_sections([
            ("populate", lambda: section_populate(s)),
            ("heartbeats", lambda: section_heartbeats(s)),
            ("open games", lambda: section_open(s)),
            ("reap", lambda: section_reap(s)),
            ("create floor", lambda: section_create_floor(s)),
        ])
        version = s.r.info("server")["redis_version"]
        s.say_heading(TABLE_TITLE, load0, f"Redis {version}, game_data {game_data.__version__}",
                      args.quick)
        for line in render_table(build_rows(s)):
            s.say(line)
        s.say()
        s.say(f"- {args.games:,} resident games (20% pending, 50% lobby, 30% active), "
              f"{args.heartbeats:,} heartbeats in batches of {BATCH}; CPU is the redis-server "
              "main thread's (INFO cpu) over each stretch")
        s.say_run_details(started)
        return s.write(args.out_dir / "scale_bench.txt")


if __name__ == "__main__":
    sys.exit(main())
