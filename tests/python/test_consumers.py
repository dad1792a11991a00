"""Several consumers on one group, and consumers that die mid-batch: every event is applied
exactly once in effect (at-least-once delivery, idempotent transitions), and no reader ever
sees a game in two sets."""

from __future__ import annotations

import json
import os
import random
import re
import socket
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from dataclasses import dataclass

import pytest

import game_data
from game_data import ApplyStatus, Event, EventType, GameState
from game_data.testing import SimulatedGameServer, wait_for

from conftest import STREAM_BACKENDS


@dataclass
class Backend:
    url: str
    mm: game_data.Matchmaker
    redis_url: str | None  # set on Redis, for direct inspection with redis-py


@pytest.fixture
def backend(stream_backend_url: str, gd_namespace: str) -> Backend:
    url = stream_backend_url
    return Backend(url, game_data.connect(url, namespace=gd_namespace), None if url == "memory://" else url)


class ConsumerThread(threading.Thread):
    """Polls its own consumer until told to stop; keeps every result it got."""

    def __init__(self, consumer, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.consumer = consumer
        self.stop_event = stop
        self.results: list = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                self.results.extend(self.consumer.poll(count=50, block_ms=20))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


class SetWatcher(threading.Thread):
    """Checks, over and over while consumers run, that every live game is in exactly one set.

    All games stay live during the run, so the atomic counts() must always sum to the number
    of games: a game in two sets, or in none, would show. On Redis it also reads the three
    sorted sets in one MULTI and checks no id is in two of them.
    """

    def __init__(self, mm, games: int, redis_url: str | None, namespace: str) -> None:
        super().__init__(daemon=True)
        self.mm, self.games = mm, games
        self.stop_event = threading.Event()
        self.violations: list[str] = []
        self.checks = 0
        self.redis_url, self.namespace = redis_url, namespace

    def run(self) -> None:
        client = None
        if self.redis_url:
            import redis

            client = redis.Redis.from_url(self.redis_url)
        try:
            while not self.stop_event.is_set():
                counts = self.mm.counts()
                if sum(counts.values()) != self.games:
                    self.violations.append(f"counts {counts} do not sum to {self.games}")
                if client is not None:
                    pipe = client.pipeline(transaction=True)
                    for set_name in ("pending", "lobby", "active"):
                        pipe.zrange(f"{self.namespace}:{{0}}:{set_name}", 0, -1)
                    members = [set(ids) for ids in pipe.execute()]
                    both = (members[0] & members[1]) | (members[0] & members[2]) | (members[1] & members[2])
                    if both:
                        self.violations.append(f"in two sets: {sorted(both)[:3]}")
                    if sum(len(m) for m in members) != self.games:
                        self.violations.append(f"{sum(len(m) for m in members)} ids in sets")
                self.checks += 1
                self.stop_event.wait(0.001)  # pacing only: leave the cores to the consumers
        finally:
            if client is not None:
                client.close()


@pytest.mark.parametrize("consumers", [2, 4], ids=lambda n: f"{n}-consumers")
def test_consumers_sharing_a_group_apply_every_event_once_in_effect(backend, gd_namespace, consumers):
    mm = backend.mm
    rng = random.Random(consumers)
    servers = [SimulatedGameServer(matchmaker=mm, server_id=f"gs-{i}") for i in range(3)]
    games = [mm.create_game(creator_id=f"c{i}", capacity=rng.randint(2, 5), server_id=f"gs-{i % 3}")
             for i in range(60)]
    server_of = {g.id: servers[i % 3] for i, g in enumerate(games)}
    stop = threading.Event()
    threads = [ConsumerThread(mm.consumer(name=f"c-{i}", claim_idle_ms=60_000), stop)
               for i in range(consumers)]
    watcher = SetWatcher(mm, len(games), backend.redis_url, gd_namespace)
    for t in [*threads, watcher]:
        t.start()

    published = effective = duplicates = 0

    def processed() -> int:
        return sum(len(t.results) for t in threads)

    def phase(steps) -> None:
        # Consumers of one group may apply one game's events in any order. Within a phase
        # every order must give the same outcome: lifecycle events wait for the previous
        # phase, while the joins of one game's different players (seq is per player) may race.
        # Each entry is redelivered at random: the copy is a duplicate, but a heartbeat's
        # copy is applied again (it only refreshes the score).
        nonlocal published, effective, duplicates
        for game, step in steps:
            server = server_of[game.id]
            entry = server.send(server.prepare(game, *step))
            published += 1
            effective += 1
            if rng.random() < 0.5:
                server.duplicate(entry)
                published += 1
                if step[0] is EventType.HEARTBEAT:
                    effective += 1
                else:
                    duplicates += 1
        wait_for(lambda: processed() == published, what=f"{published} entries to be processed")

    try:
        phase((g, (EventType.CREATOR_JOINED, g.creator_id)) for g in games)
        phase((g, (EventType.PLAYER_JOINED, f"{g.id}-p{seat}"))
              for seat in range(1, 5) for g in games if g.capacity > seat)
        phase((g, (EventType.ALL_PLAYERS_JOINED,)) for g in games)
        phase((g, (EventType.GAME_STARTED,)) for g in games)
        phase((g, (EventType.HEARTBEAT,)) for g in games)
    finally:
        stop.set()
        watcher.stop_event.set()
        for t in [*threads, watcher]:
            t.join(timeout=10)

    assert [t.error for t in threads] == [None] * consumers
    results = [r for t in threads for r in t.results]
    entry_counts = Counter(r.entry_id for r in results)
    assert len(entry_counts) == published and set(entry_counts.values()) == {1}
    statuses = Counter(r.status for r in results)
    assert statuses == Counter({ApplyStatus.APPLIED: effective, ApplyStatus.DUPLICATE: duplicates})
    assert sum(t.consumer.stats["applied"] for t in threads) == effective
    assert watcher.violations == [] and watcher.checks > 0
    for game in games:
        current = mm.get_game(game.id)
        assert current.state is GameState.IN_PROGRESS
        assert len(current.players) == game.capacity
    assert mm.counts() == {"pending": 0, "lobby": 0, "active": len(games)}
    assert mm.stream_length(f"{mm.default_stream}:dead") == 0


def default_name_in_a_child(url: str, namespace: str) -> str:
    """The default name of a consumer made (and polled once, so it joins the group) in a
    process that then exits."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import game_data
        consumer = game_data.connect({url!r}, namespace={namespace!r}).consumer()
        consumer.poll(block_ms=0)
        print(consumer.name)
        """)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


SHORT_HOST = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0])[:64] or "host"


def test_default_consumer_names_are_unique_per_consumer_and_process(backend):
    mine = [backend.mm.consumer().name, backend.mm.consumer().name]
    assert mine[0] != mine[1]
    for name in mine:
        assert re.fullmatch(rf"{re.escape(SHORT_HOST)}-{os.getpid()}-[0-9a-f]{{6}}", name), name


def test_a_consumer_removes_the_one_a_dead_process_left_idle_with_nothing_pending(redis_url, gd_namespace):
    import redis

    mm = game_data.connect(redis_url, namespace=gd_namespace)
    dead = default_name_in_a_child(redis_url, gd_namespace)  # another process: another pid
    assert re.fullmatch(rf"{re.escape(SHORT_HOST)}-\d+-[0-9a-f]{{6}}", dead)
    assert dead.split("-")[-2] != str(os.getpid())
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        def names() -> set[str]:
            return {c["name"] for c in client.xinfo_consumers(mm.default_stream, "matchmaker")}

        assert names() == {dead}
        live = mm.consumer(remove_idle_consumers_ms=50)
        wait_for(lambda: live.poll(block_ms=10) == [] and dead not in names(), what="the dead consumer to go")
        assert names() == {live.name}
        assert live.stats["consumers_removed"] == 1
    finally:
        client.close()


def test_a_consumer_stopped_between_polls_leaves_nothing_pending(backend):
    mm = backend.mm
    server = SimulatedGameServer(matchmaker=mm, server_id="gs-1")
    game = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1")
    sent = server.play(game, end=False)
    stop = threading.Event()
    thread = ConsumerThread(mm.consumer(name="stopper"), stop)
    thread.start()

    wait_for(lambda: len(thread.results) == len(sent), what="the events to be applied")
    stop.set()
    thread.join(timeout=10)

    assert thread.consumer.group_info() == {"pending": 0, "lag": 0}
    assert mm.get_game(game.id).state is GameState.IN_PROGRESS


def test_consumer_run_returns_when_stop_is_set_with_its_batch_acknowledged(backend):
    mm = backend.mm
    server = SimulatedGameServer(matchmaker=mm, server_id="gs-1")
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    server.play(game)
    consumer = mm.consumer(name="runner")
    stop = threading.Event()
    runner = threading.Thread(target=consumer.run, kwargs={"stop": stop, "block_ms": 20}, daemon=True)
    runner.start()

    wait_for(lambda: mm.get_game(game.id) is None, what="the game to end")
    stop.set()
    runner.join(timeout=10)

    assert not runner.is_alive()
    assert consumer.group_info() == {"pending": 0, "lag": 0}
    assert consumer.stats["applied"] == 6


if "redis" in STREAM_BACKENDS:

    VICTIM = textwrap.dedent(
        """
        import signal, sys
        import redis
        url, stream, group, name, count = sys.argv[1:6]
        client = redis.Redis.from_url(url)
        # Read like a consumer, then hang before acknowledging: the test SIGKILLs us here.
        reply = client.xreadgroup(group, name, {stream: ">"}, count=int(count))
        print(sum(len(entries) for _, entries in reply), flush=True)
        signal.pause()
        """
    )

    def read_and_get_killed(redis_url: str, stream: str, name: str, count: int) -> int:
        """A consumer process that reads `count` entries and is SIGKILLed before its ack."""
        args = [sys.executable, "-c", VICTIM, redis_url, stream, "matchmaker", name, str(count)]
        with subprocess.Popen(args, stdout=subprocess.PIPE, text=True) as proc:
            try:
                read = int(proc.stdout.readline())
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        return read

    def published_lifecycle(mm, games: int = 5) -> tuple[list, int]:
        server = SimulatedGameServer(matchmaker=mm, server_id="gs-1")
        made = [mm.create_game(creator_id=f"c{i}", capacity=2, server_id="gs-1") for i in range(games)]
        events = sum(len(server.play(g, end=False)) for g in made)
        return made, events

    def test_entries_of_a_consumer_killed_before_its_ack_are_claimed_and_applied_once(
        redis_url, gd_namespace
    ):
        mm = game_data.connect(redis_url, namespace=gd_namespace)
        rescuer = mm.consumer(name="rescuer", claim_idle_ms=200)
        assert rescuer.poll(block_ms=0) == []  # creates the group at the start of the stream
        games, events = published_lifecycle(mm)

        assert read_and_get_killed(redis_url, mm.default_stream, "victim", events) == events
        assert rescuer.group_info() == {"pending": events, "lag": 0}
        assert all(mm.get_game(g.id).state is GameState.CREATED for g in games)

        results: list = []
        wait_for(lambda: results.extend(rescuer.poll(count=100, block_ms=20)) or len(results) >= events,
                 what="the rescuer to claim the victim's entries")

        assert len(results) == events
        assert len({r.entry_id for r in results}) == events
        assert {r.status for r in results} == {ApplyStatus.APPLIED}
        assert rescuer.stats["claimed"] == events
        assert rescuer.group_info() == {"pending": 0, "lag": 0}
        assert all(mm.get_game(g.id).state is GameState.IN_PROGRESS for g in games)
        assert rescuer.poll(block_ms=0) == []

    def test_a_restarted_consumer_finishes_its_own_unacknowledged_entries_first(redis_url, gd_namespace):
        mm = game_data.connect(redis_url, namespace=gd_namespace)
        assert mm.consumer(name="mm-restart").poll(block_ms=0) == []
        games, events = published_lifecycle(mm, games=3)

        read_and_get_killed(redis_url, mm.default_stream, "mm-restart", events)
        restarted = mm.consumer(name="mm-restart", claim_idle_ms=600_000)
        results = restarted.poll(count=1000, block_ms=0)

        assert len(results) == events and {r.status for r in results} == {ApplyStatus.APPLIED}
        assert restarted.stats["claimed"] == 0
        assert restarted.group_info() == {"pending": 0, "lag": 0}
        assert all(mm.get_game(g.id).state is GameState.IN_PROGRESS for g in games)

    def test_an_entry_delivered_too_often_is_dead_lettered(redis_url, gd_namespace):
        import redis

        mm = game_data.connect(redis_url, namespace=gd_namespace)
        rescuer = mm.consumer(name="rescuer", claim_idle_ms=50, max_deliveries=2)
        assert rescuer.poll(block_ms=0) == []
        game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
        entry_id = mm.publisher("gs-1").creator_joined(game.id, "alice")
        client = redis.Redis.from_url(redis_url)
        client.xreadgroup("matchmaker", "crasher-1", {mm.default_stream: ">"})
        client.xclaim(mm.default_stream, "matchmaker", "crasher-2", 0, [entry_id])  # 2nd delivery
        client.close()

        results: list = []
        wait_for(lambda: results.extend(rescuer.poll(block_ms=20)) or results, what="the claim")

        (result,) = results
        assert result.status is ApplyStatus.REJECTED
        assert "delivered 3 times" in result.reason
        (letter,) = mm.stream_entries(f"{mm.default_stream}:dead")
        assert letter[1]["error"] == result.reason
        assert mm.get_game(game.id).state is GameState.CREATED
        assert rescuer.group_info() == {"pending": 0, "lag": 0}

    def test_a_killed_consume_daemon_is_taken_over_by_another_with_every_event_applied_once(
        redis_url, gd_namespace
    ):
        import redis

        mm = game_data.connect(redis_url, namespace=gd_namespace)
        client = redis.Redis.from_url(redis_url)
        stream = mm.default_stream
        games = [mm.create_game(creator_id=f"c{i}", capacity=3, server_id="gs-1") for i in range(20)]
        server = SimulatedGameServer(matchmaker=mm, server_id="gs-1")

        def daemon(name: str) -> subprocess.Popen:
            return subprocess.Popen(
                [sys.executable, "-m", "game_data.cli", "consume", "--url", redis_url, "--namespace",
                 gd_namespace, "--name", name, "--count", "10", "--block-ms", "20",
                 "--claim-idle-ms", "300", "--log-level", "WARNING"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        with daemon("daemon-a") as first:
            for game in games:
                server.creator_joins(game)
            wait_for(lambda: mm.counts()["lobby"] == len(games), what="daemon-a to apply the first phase")
            for game in games:  # the rest of each lobby; daemon-a dies somewhere in it
                server.player_joins(game, f"{game.id}-p1")
                server.player_joins(game, f"{game.id}-p2")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        for game in games:
            server.all_players_joined(game)
            server.start(game)

        # Whatever daemon-a read and never acknowledged must be idle long enough to be claimed
        # before daemon-b reads anything newer (claims come first in a poll round).
        def a_idle_enough() -> bool:
            stuck = client.xpending_range(stream, "matchmaker", min="-", max="+", count=100)
            return all(entry["time_since_delivered"] >= 300 for entry in stuck)

        wait_for(a_idle_enough, what="daemon-a's entries to become claimable")
        with daemon("daemon-b") as second:
            wait_for(lambda: mm.counts()["active"] == len(games), what="daemon-b to finish the games")
            wait_for(lambda: client.xpending(stream, "matchmaker")["pending"] == 0,
                     what="nothing left pending")
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=10) == 0
            assert "Traceback" not in second.stderr.read()

        for game in games:
            current = mm.get_game(game.id)
            assert current.state is GameState.IN_PROGRESS
            assert current.players == [game.creator_id, f"{game.id}-p1", f"{game.id}-p2"]
        assert mm.stream_length(f"{stream}:dead") == 0
        assert mm.consumer(name="inspector").group_info() == {"pending": 0, "lag": 0}
        client.close()

    def test_a_join_claimed_after_a_newer_join_of_its_game_still_takes_effect(redis_url, gd_namespace):
        mm = game_data.connect(redis_url, namespace=gd_namespace)
        rescuer = mm.consumer(name="rescuer", claim_idle_ms=200)
        assert rescuer.poll(block_ms=0) == []
        game = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1")
        server = SimulatedGameServer(matchmaker=mm, server_id="gs-1")
        server.creator_joins(game)
        assert len(rescuer.poll(block_ms=0)) == 1
        bob = server.player_joins(game, "bob")

        read_and_get_killed(redis_url, mm.default_stream, "victim", 1)  # holds bob's join
        carol = server.player_joins(game, "carol")
        # Another consumer of the group applies carol's newer join first; it claims nothing
        # (bob's entry will not be idle for ten minutes).
        reader = mm.consumer(name="reader", claim_idle_ms=600_000)
        (first,) = reader.poll(block_ms=0)
        assert (first.entry_id, first.status) == (carol, ApplyStatus.APPLIED)
        results: list = []
        wait_for(lambda: results.extend(rescuer.poll(block_ms=20)) or results,
                 what="the claim of bob's join")

        (claimed,) = results
        assert (claimed.entry_id, claimed.status) == (bob, ApplyStatus.APPLIED)
        assert rescuer.stats["claimed"] == 1
        current = mm.get_game(game.id)
        assert current.players == ["alice", "bob", "carol"]  # the publish order, not the delivery's
        seqs = {e.fields["player_id"]: int(e.fields["seq"]) for e in server.sent}
        assert seqs["bob"] < seqs["carol"]  # bob's join really was the older one
        assert current.player_seqs == seqs
        assert current.last_seq == seqs["carol"]
        assert rescuer.group_info() == {"pending": 0, "lag": 0}

    # -- issue 7: rosters converge to the publish order whatever the consumers' order -------

    CONSUMER_LOOP = textwrap.dedent(
        """
        import json, signal, sys
        from collections import Counter
        import game_data
        url, namespace, name, claim_idle_ms = sys.argv[1:5]
        consumer = game_data.connect(url, namespace=namespace).consumer(
            name=name, claim_idle_ms=int(claim_idle_ms))
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        reasons = Counter()
        print("ready", flush=True)
        sys.stdin.readline()  # "go": every consumer starts on the backlog at once
        while not stopping:
            for r in consumer.poll(count=20, block_ms=20):
                reasons[f"{r.status.value}: {r.reason}"] += 1
        print(json.dumps({"stats": dict(consumer.stats), "reasons": dict(reasons)}), flush=True)
        """
    )

    def roster_script(rng: random.Random, gid: str, creator: str, capacity: int,
                      creator_wanders: bool) -> tuple[list[tuple[str, str | None]], list[str]]:
        """One game's events as its server publishes them -- creator_joined, then joins, leaves
        and re-joins that never seat more than `capacity` -- and the roster they leave: the
        creator first, then the others in the order of the joins that seated them.

        A wandering creator leaves and comes back too; half of all games are started at the end,
        so a delayed creator_joined can be overtaken both by the start and by the creator's own
        newer roster events."""
        steps: list[tuple[str, str | None]] = [("creator_joined", creator)]
        seated = [creator]
        pool = [creator, *(f"{gid}-p{k}" for k in range(6))]
        for _ in range(rng.randint(4, 9)):
            can_leave = [p for p in seated if creator_wanders or p != creator]
            if can_leave and (len(seated) == capacity or rng.random() < 0.35):
                player = rng.choice(can_leave)
                seated.remove(player)
                steps.append(("player_left", player))
            else:
                player = rng.choice([p for p in pool if p not in seated])
                seated.append(player)
                steps.append(("player_joined", player))
        if rng.random() < 0.5:
            steps.append(("game_started", None))
        return steps, sorted(seated, key=lambda p: p != creator)  # stable: join order kept

    def test_four_consumer_processes_with_a_crash_leave_every_roster_as_published(
        redis_url, gd_namespace
    ):
        import redis

        games_n, servers_n, claim_idle_ms = 640, 8, 250
        rng = random.Random(7)
        mm = game_data.connect(redis_url, namespace=gd_namespace)
        stream = mm.default_stream
        inspector = mm.consumer(name="inspector")  # reads nothing; only looks at the group
        assert inspector.poll(block_ms=0) == []  # creates the group at the start of the stream
        client = redis.Redis.from_url(redis_url)
        publishers = [mm.publisher(f"gs-{s}") for s in range(servers_n)]
        games, scripts, expected = [], {}, {}
        for i in range(games_n):
            game = mm.create_game(creator_id=f"c{i}", capacity=rng.randint(2, 5),
                                  server_id=f"gs-{i % servers_n}", game_id=f"g{i}")
            games.append(game)
            scripts[game.id], expected[game.id] = roster_script(
                rng, game.id, game.creator_id, game.capacity, creator_wanders=i % 3 == 0)
        total = sum(len(s) for s in scripts.values())

        names = iter(f"mm-{k}" for k in range(100))
        procs: dict[str, subprocess.Popen] = {}

        def start_consumers(n: int) -> list[str]:
            started = [next(names) for _ in range(n)]
            for name in started:
                procs[name] = subprocess.Popen(
                    [sys.executable, "-c", CONSUMER_LOOP, redis_url, gd_namespace, name, str(claim_idle_ms)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for name in started:
                assert procs[name].stdout.readline() == "ready\n"
            for name in started:
                procs[name].stdin.write("go\n")
                procs[name].stdin.flush()
            return started

        def pending_of(name: str) -> int:
            return len(client.xpending_range(stream, "matchmaker", min="-", max="+", count=10_000,
                                             consumername=name))

        # Each server publishes its games' events (stamping seqs), a dozen games interleaved at
        # a time so one game's events sit close together on the stream. Half go out before the
        # consumers start: they take that backlog in parallel batches, applying one game's
        # events in any order. Then one consumer is frozen until it is caught holding entries
        # it read but did not acknowledge, and SIGKILLed: they are left for the others to claim.
        waiting, active = [g.id for g in reversed(games)], []
        cursors = {gid: 0 for gid in scripts}
        published, kills, stranded = 0, 0, 0
        live: list[str] = []

        def publish_one() -> None:
            nonlocal published
            while len(active) < 12 and waiting:
                active.append(waiting.pop())
            gid = rng.choice(active)
            type_, player = scripts[gid][cursors[gid]]
            pub = publishers[int(gid[1:]) % servers_n]
            getattr(pub, type_)(gid) if player is None else getattr(pub, type_)(gid, player)
            published += 1
            cursors[gid] += 1
            if cursors[gid] == len(scripts[gid]):
                active.remove(gid)

        try:
            while published < total // 2:
                publish_one()
            live = start_consumers(4)
            while published < total:
                publish_one()
                if stranded == 0:
                    victim = procs[live[0]]
                    victim.send_signal(signal.SIGSTOP)
                    if pending_of(live[0]) == 0:
                        victim.send_signal(signal.SIGCONT)
                        continue
                    victim.send_signal(signal.SIGKILL)
                    victim.wait(timeout=10)
                    kills += 1
                    stranded = pending_of(live[0])  # read, never acknowledged: left to claims
                    live = [*live[1:], *start_consumers(1)]
            assert published == total
            assert stranded > 0, f"{kills} consumers killed, none caught holding unacknowledged entries"

            wait_for(lambda: inspector.group_info() == {"pending": 0, "lag": 0}, timeout=45,
                     what="the group to drain (nothing pending, nothing unread)")
        finally:
            outputs = {}
            for name, proc in procs.items():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGCONT)  # in case a failure left it frozen
                    proc.send_signal(signal.SIGTERM)
            for name, proc in procs.items():
                try:
                    outputs[name] = proc.communicate(timeout=20)[0]
                except subprocess.TimeoutExpired:
                    proc.kill()
                    outputs[name] = proc.communicate()[0]
            client.close()

        survivors = [json.loads(outputs[name]) for name in live]
        assert [procs[name].returncode for name in live] == [0] * 4
        stats, reasons = Counter(), Counter()
        for survivor in survivors:
            stats.update(survivor["stats"])
            reasons.update(survivor["reasons"])
        assert stats["rejected"] == stats["dead_lettered"] == 0
        assert stats["claimed"] >= stranded
        # Events really were applied out of publish order: stale roster events came after
        # newer ones of the same player (e.g. the claimed ones, applied last).
        assert reasons["duplicate: seq already applied"] > 0, reasons
        assert mm.stream_length(f"{stream}:dead") == 0

        # The publish order, applied one by one on a memory:// matchmaker.
        reference = game_data.connect("memory://")
        for game in games:
            reference.create_game(creator_id=game.creator_id, capacity=game.capacity,
                                  server_id=game.server_id, game_id=game.id)
        entries = mm.stream_entries(stream)
        assert len(entries) == total
        in_order = reference.apply_many([Event.from_fields(fields) for _, fields in entries])
        assert {r.status for r in in_order} == {ApplyStatus.APPLIED}

        def outcome(g) -> tuple:
            return (g.state, g.players, g.held, g.player_seqs, g.last_seq, g.creator_seen, g.seq_floor)

        differing = [(gid, outcome(mm.get_game(gid)), outcome(reference.get_game(gid)))
                     for gid in scripts if outcome(mm.get_game(gid)) != outcome(reference.get_game(gid))]
        assert differing == [], f"{len(differing)} of {games_n} rosters differ, e.g. {differing[:3]}"
        assert {gid: reference.get_game(gid).players for gid in scripts} == expected
