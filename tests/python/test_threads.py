"""Many Python threads on one Matchmaker: the GIL is released inside the core, and the
invariants of SPEC section 2 hold afterwards."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import game_data
from conftest import STREAM_BACKENDS
from game_data import ApplyStatus, Event, EventType, GameState
from game_data.testing import RedisServer, wait_for

THREADS = 6
GAMES_PER_THREAD = 40
SERVER = "gs-1"


def drive(mm: game_data.Matchmaker, barrier: threading.Barrier, worker: int) -> dict[str, GameState]:
    """Create games and move each to a state chosen by its index; returns id -> final state."""
    barrier.wait()
    final: dict[str, GameState] = {}
    for i in range(GAMES_PER_THREAD):
        gid = f"w{worker}-g{i}"
        mm.create_game(creator_id="alice", capacity=3, server_id=SERVER, game_id=gid)
        steps = i % 5  # 0: created .. 4: ended
        events = [
            Event(type=EventType.CREATOR_JOINED, game_id=gid, server_id=SERVER, player_id="alice"),
            Event(type=EventType.PLAYER_JOINED, game_id=gid, server_id=SERVER, player_id="bob"),
            Event(type=EventType.GAME_STARTED, game_id=gid, server_id=SERVER),
            Event(type=EventType.GAME_ENDED, game_id=gid, server_id=SERVER),
        ]
        for event in events[:steps]:
            assert mm.apply(event).status is ApplyStatus.APPLIED
            assert mm.apply(event).status is ApplyStatus.DUPLICATE  # replays are harmless
        final[gid] = [GameState.CREATED, GameState.CREATOR_JOINED, GameState.CREATOR_JOINED,
                      GameState.IN_PROGRESS, GameState.ENDED][steps]
    return final


def reader(mm: game_data.Matchmaker, barrier: threading.Barrier, stop: threading.Event) -> int:
    """Reads concurrently; every open game it sees must be a lobby game with a free seat."""
    barrier.wait()
    reads = 0
    while True:  # at least one pass, however fast the writers finish
        for game in mm.get_open_games(limit=1000):
            assert game.state is GameState.CREATOR_JOINED
            assert game.free_seats > 0
        counts = mm.counts()
        assert min(counts.values()) >= 0
        reads += 1
        if stop.is_set():
            return reads


def test_threads_hammering_one_matchmaker_keep_invariants(mm: game_data.Matchmaker) -> None:
    barrier = threading.Barrier(THREADS + 1)
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=THREADS + 1) as pool:
        read_future = pool.submit(reader, mm, barrier, stop)
        futures = [pool.submit(drive, mm, barrier, w) for w in range(THREADS)]
        final: dict[str, GameState] = {}
        try:
            for f in futures:
                final.update(f.result(timeout=60))
        finally:
            stop.set()
        assert read_future.result(timeout=60) > 0

    expected = {"pending": 0, "lobby": 0, "active": 0}
    for gid, state in final.items():
        game = mm.get_game(gid)
        if state is GameState.ENDED:
            assert game is None
            assert mm.set_entry(gid) is None
            continue
        assert game is not None
        assert game.state is state
        set_name, _ = mm.set_entry(gid)
        assert set_name == game_data.set_of(state)
        expected[set_name] += 1
    assert mm.counts() == expected
    open_ids = {g.id for g in mm.get_open_games(limit=10_000)}
    assert open_ids == {gid for gid, s in final.items() if s is GameState.CREATOR_JOINED}


def test_racing_creates_of_one_id_have_one_winner(mm: game_data.Matchmaker) -> None:
    barrier = threading.Barrier(THREADS)

    def create(worker: int) -> str:
        barrier.wait()
        try:
            mm.create_game(creator_id=f"c{worker}", capacity=2, server_id=SERVER, game_id="contested")
        except game_data.GameExistsError:
            return "lost"
        return "won"

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(create, range(THREADS)))
    assert outcomes.count("won") == 1
    assert mm.counts() == {"pending": 1, "lobby": 0, "active": 0}


MAX_HELD_JOINS = 16  # joins a full game keeps waiting for a seat


def test_racing_joins_never_overfill_a_game(mm: game_data.Matchmaker) -> None:
    """More joins than seats and hold together race: every join is seated or held, until the
    hold is full; no reader ever sees more players than seats or more joins held than kept."""
    gid = mm.create_game(creator_id="alice", capacity=4, server_id=SERVER).id
    mm.apply(Event(type=EventType.CREATOR_JOINED, game_id=gid, server_id=SERVER, player_id="alice"))
    joiners = 3 + MAX_HELD_JOINS + 5
    barrier = threading.Barrier(joiners + 1)
    stop = threading.Event()

    def join(worker: int) -> tuple[ApplyStatus, str]:
        barrier.wait()
        r = mm.apply(Event(type=EventType.PLAYER_JOINED, game_id=gid, server_id=SERVER,
                           player_id=f"p{worker}"))
        return r.status, r.reason

    def watch() -> int:
        barrier.wait()
        reads = 0
        while not stop.is_set():
            game = mm.get_game(gid)
            held = [p for p, _ in game.held]
            assert len(game.players) <= game.capacity and len(held) <= MAX_HELD_JOINS
            assert not set(held) & set(game.players)
            reads += 1
        return reads

    with ThreadPoolExecutor(max_workers=joiners + 1) as pool:
        watcher = pool.submit(watch)
        try:
            outcomes = list(pool.map(join, range(joiners)))
        finally:
            stop.set()
        assert watcher.result(timeout=60) > 0
    assert Counter(outcomes) == Counter({(ApplyStatus.APPLIED, ""): 3,
                                         (ApplyStatus.APPLIED, "held until a seat frees"): MAX_HELD_JOINS,
                                         (ApplyStatus.REJECTED, "game is full"): 5})
    game = mm.get_game(gid)
    joined = {f"p{w}" for w, (status, _) in enumerate(outcomes) if status is ApplyStatus.APPLIED}
    seated = {f"p{w}" for w, outcome in enumerate(outcomes) if outcome == (ApplyStatus.APPLIED, "")}
    assert game.players[0] == "alice" and set(game.players[1:]) == seated
    assert {p for p, _ in game.held} == joined - seated
    assert game.free_seats == 0
    assert mm.get_open_games() == []
    # A seat that frees goes to the longest-held join (seq-less joins keep their arrival order).
    first_held = game.held[0][0]
    mm.apply(Event(type=EventType.PLAYER_LEFT, game_id=gid, server_id=SERVER, player_id=game.players[1]))
    after = mm.get_game(gid)
    assert after.players == [*game.players[:1], *game.players[2:], first_held]
    assert after.held == game.held[1:]


def test_consumer_run_stops_on_event_after_applying(stream_mm: game_data.Matchmaker) -> None:
    mm = stream_mm
    game = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
    pub = mm.publisher(server_id=SERVER)
    pub.creator_joined(game.id, "alice")
    pub.game_started(game.id)
    consumer = mm.consumer(name="mm-run")
    stop = threading.Event()
    outcome: dict[str, dict[str, int]] = {}
    runner = threading.Thread(target=lambda: outcome.update(stats=consumer.run(stop, block_ms=20)))
    runner.start()
    try:
        wait_for(lambda: consumer.stats["applied"] >= 2, what="run() to apply both events")
    finally:
        stop.set()
        runner.join(timeout=10)
    assert not runner.is_alive()
    assert outcome["stats"]["applied"] == 2
    assert mm.get_game(game.id).state is GameState.IN_PROGRESS


def test_consumer_run_in_main_thread_stops_on_sigterm_and_restores_signal_handlers(
        stream_mm: game_data.Matchmaker) -> None:
    mm = stream_mm
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    consumer = mm.consumer(name="mm-sig")
    game = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
    mm.publisher(server_id=SERVER).creator_joined(game.id, "alice")
    stop = threading.Event()
    # run() loops in the core, in the main thread; SIGTERM arrives once the first event is
    # applied. The loop must run the Python handler, finish the batch and return, not die.
    def terminate_once_applied() -> None:
        pause = threading.Event()
        deadline = time.monotonic() + 10
        while consumer.stats["applied"] < 1 and time.monotonic() < deadline:
            pause.wait(0.005)  # polling the condition with a deadline
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=terminate_once_applied)
    killer.start()
    stats = consumer.run(stop, block_ms=10)
    killer.join(timeout=10)
    assert stop.is_set()
    assert stats["applied"] == 1
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_blocking_poll_releases_the_gil(stream_mm: game_data.Matchmaker) -> None:
    # A poll blocking for up to 20 s must not hold the GIL: the main thread publishes while it
    # waits, and the poll wakes with that event long before its timeout.
    mm = stream_mm
    game = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
    consumer = mm.consumer(name="mm-gil")
    assert consumer.poll(block_ms=0) == []  # creates the group; nothing to read yet
    out: list[list[game_data.ApplyResult]] = []
    waiter = threading.Thread(target=lambda: out.append(consumer.poll(block_ms=20_000)))
    started = time.monotonic()
    waiter.start()
    mm.publisher(server_id=SERVER).creator_joined(game.id, "alice")
    waiter.join(timeout=30)
    assert not waiter.is_alive()
    assert [r.status for r in out[0]] == [ApplyStatus.APPLIED]
    assert time.monotonic() - started < 10



def start_run(consumer: game_data.Consumer, stop: threading.Event) -> tuple[threading.Thread, list[BaseException]]:
    """consumer.run(stop) on a thread of its own; whatever it raises lands in the list."""
    failures: list[BaseException] = []

    def loop() -> None:
        try:
            consumer.run(stop, block_ms=20)
        except BaseException as err:  # reported to the test thread
            failures.append(err)

    runner = threading.Thread(target=loop)
    runner.start()
    return runner, failures


def wait_for_state(mm: game_data.Matchmaker, game_id: str, state: GameState, timeout: float = 15) -> None:
    """Wait until the game reaches ``state``, riding out a backend that is coming back."""
    wait_for(lambda: (game := mm.get_game(game_id)) is not None and game.state is state,
             timeout=timeout, what=f"game {game_id} to reach {state}",
             ignore=(game_data.BackendConnectionError,))


if "redis" in STREAM_BACKENDS:  # needs a server it can crash; collected once the backend exists

    def test_consumer_run_survives_a_redis_crash(fresh_redis_server: RedisServer, gd_namespace: str) -> None:
        server = fresh_redis_server
        mm = game_data.connect(server.url, namespace=gd_namespace, connect_timeout_ms=500, timeout_ms=2000)
        game = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
        consumer = mm.consumer(name="mm-crash")
        stop = threading.Event()
        runner, failures = start_run(consumer, stop)
        try:
            game_data.EventPublisher(server.url, SERVER, stream=mm.default_stream).creator_joined(game.id, "alice")
            wait_for_state(mm, game.id, GameState.CREATOR_JOINED)
            server.restart(kill=True)  # append-only with fsync always: nothing acknowledged is lost
            game_data.EventPublisher(server.url, SERVER, stream=mm.default_stream).game_started(game.id)
            wait_for_state(mm, game.id, GameState.IN_PROGRESS)
        finally:
            stop.set()
            runner.join(timeout=15)
        assert not runner.is_alive()
        assert failures == []
        # A batch whose ack died with the server is not counted (its outcome is unknown); its
        # entries come back as duplicates unless the ack had landed. The event published after
        # the restart is always applied by the loop that survived.
        stats = consumer.stats
        assert stats["applied"] >= 1
        assert stats["rejected"] == 0
        assert consumer.group_info()["pending"] == 0


if "redis" in STREAM_BACKENDS:  # a private server it can fill up

    def test_consumer_run_rides_out_an_out_of_memory_redis_and_counts_it(gd_namespace: str) -> None:
        with RedisServer() as server:
            mm = game_data.connect(server.url, namespace=gd_namespace)
            game = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
            consumer = mm.consumer(name="mm-oom")
            consumer.poll(block_ms=0)  # the group exists
            mm.publisher(server_id=SERVER).creator_joined(game.id, "alice")
            server.command("CONFIG", "SET", "maxmemory", "1")
            stop = threading.Event()
            runner, failures = start_run(consumer, stop)
            oom = 'game_data_backend_errors_total{kind="oom"}'
            try:
                deadline = time.monotonic() + 15
                while mm.stats().get(oom, 0) < 2 and runner.is_alive() and time.monotonic() < deadline:
                    stop.wait(0.01)  # polling the condition with a deadline
                assert runner.is_alive() and not failures, failures
                assert mm.stats()[oom] >= 2
                server.command("CONFIG", "SET", "maxmemory", "0")
                wait_for_state(mm, game.id, GameState.CREATOR_JOINED)
            finally:
                stop.set()
                runner.join(timeout=15)
            assert failures == []
            assert consumer.stats["applied"] == 1
            assert consumer.group_info() == {"pending": 0, "lag": 0}
