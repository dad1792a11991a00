"""Races between processes against one redis-server (SPEC section 7): seats handed out by
reservations and quick joins, janitors reaping the same games, and events racing a janitor.

Each worker is a separate process (multiprocessing, spawn: no state inherited from the test
process) that connects by itself; all of them start together at a barrier.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import random
import threading
import traceback
from collections import Counter
from typing import Any, Callable

import pytest

import game_data
from game_data import ApplyStatus, Event, EventType, GameState

SERVER = "gs-1"
LONG_TTL_MS = 120_000  # no reservation may expire during a race: every grant must stay counted
TINY_MAX_AGE = {"pending": 1_000, "lobby": 1_000, "active": 1_000}
PROCESS_TIMEOUT_S = 60

SPAWN = multiprocessing.get_context("spawn")


def next_ms(mm: game_data.Matchmaker) -> int:
    start = mm.now()
    while (now := mm.now()) <= start:
        pass
    return now


def ev(type_: EventType, game_id: str, player_id: str | None = None) -> Event:
    return Event(type=type_, game_id=game_id, server_id=SERVER, player_id=player_id)


def run_processes(target: Callable[..., Any], args: list[tuple], shared: tuple = ()) -> list[Any]:
    """Runs target(barrier, *shared, *args[i], results) in one process per args tuple and
    returns what each put on `results`, in process order. A child's exception fails the test
    with its traceback."""
    results = SPAWN.Queue()
    barrier = SPAWN.Barrier(len(args))
    procs = [SPAWN.Process(target=_child, args=(target, i, barrier, *shared, *a, results), daemon=True)
             for i, a in enumerate(args)]
    for p in procs:
        p.start()
    got: dict[int, Any] = {}
    try:
        while len(got) < len(procs):
            index, ok, value = results.get(timeout=PROCESS_TIMEOUT_S)
            if not ok:
                pytest.fail(f"worker {index} failed:\n{value}")
            got[index] = value
    except queue.Empty:
        pytest.fail(f"workers {sorted(set(range(len(procs))) - set(got))} did not report in time")
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
        results.close()
        results.join_thread()
    assert [p.exitcode for p in procs] == [0] * len(procs)
    return [got[i] for i in range(len(procs))]


def _child(target, index, barrier, *rest) -> None:
    *args, results = rest
    try:
        results.put((index, True, target(barrier, *args)))
    except BaseException:  # noqa: BLE001 - reported to the test process
        results.put((index, False, traceback.format_exc()))


# ---- (a) reservations and quick joins on the last seats -------------------------------------


def _seat_taker(barrier, url: str, namespace: str, game_ids: list[str], worker: int) -> dict:
    """Takes seats with quick joins (filtered or not) and reservations in random games until
    an unfiltered quick join finds no seat anywhere. A third of the granted players then join
    (consuming their reservation) at once."""
    mm = game_data.connect(url, namespace=namespace, filter_keys=("mode",))
    rng = random.Random(worker)
    granted: list[tuple[str, str]] = []
    refused: Counter = Counter()
    barrier.wait()
    n = 0
    while True:
        n += 1
        player = f"w{worker}-{n}"
        roll = rng.random()
        if roll < 0.4:
            try:
                r = mm.reserve_seat(rng.choice(game_ids), player, ttl_ms=LONG_TTL_MS)
            except game_data.SeatUnavailableError as err:
                refused[err.reason] += 1
                continue
        else:
            filters = {"mode": rng.choice(["duel", "ffa"])} if roll < 0.7 else None
            r = mm.quick_join(player, filters=filters, ttl_ms=LONG_TTL_MS)
            if r is None:
                refused["no game"] += 1
                if filters is None:
                    break
                continue
        assert r.player_id == player
        granted.append((r.game_id, player))
        if rng.random() < 1 / 3:
            result = mm.apply(ev(EventType.PLAYER_JOINED, r.game_id, player))
            assert result.status is ApplyStatus.APPLIED and result.reason == "", result
    return {"granted": granted, "refused": dict(refused), "attempts": n}


class OverfillWatcher(threading.Thread):
    """Reads every game over and over during the race: players + live reservations must never
    exceed capacity."""

    def __init__(self, mm: game_data.Matchmaker, game_ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.mm, self.game_ids = mm, game_ids
        self.stop = threading.Event()
        self.violations: list[str] = []
        self.sweeps = 0

    def run(self) -> None:
        while not self.stop.is_set():
            for game_id in self.game_ids:
                g = self.mm.get_game(game_id)
                if len(g.players) + len(g.reservations) > g.capacity:
                    self.violations.append(f"{game_id}: {g.players} + {g.reservations} > {g.capacity}")
                if set(g.players) & set(g.reservations):
                    self.violations.append(f"{game_id}: seated and reserved {g.players} {g.reservations}")
            self.sweeps += 1


def test_processes_racing_for_the_last_seats_never_over_fill_and_take_each_seat_once(redis_url, gd_namespace):
    mm = game_data.connect(redis_url, namespace=gd_namespace, filter_keys=("mode",))
    rng = random.Random(7)
    games: dict[str, int] = {}  # id -> free seats before the race
    for i in range(300):
        capacity = rng.randint(2, 6)
        taken = rng.randint(max(1, capacity - 3), capacity - 1)  # 1 to 3 seats left
        game = mm.create_game(creator_id=f"c{i}", capacity=capacity, server_id=SERVER,
                              metadata={"mode": rng.choice(["duel", "ffa"])})
        mm.apply(ev(EventType.CREATOR_JOINED, game.id, f"c{i}"))
        for p in range(1, taken):
            mm.apply(ev(EventType.PLAYER_JOINED, game.id, f"c{i}-p{p}"))
        games[game.id] = mm.get_game(game.id).free_seats
    assert set(games.values()) == {1, 2, 3}
    free_seats = sum(games.values())
    watcher = OverfillWatcher(mm, list(games))
    watcher.start()
    try:
        workers = 6
        reports = run_processes(_seat_taker, [(w,) for w in range(workers)],
                                shared=(redis_url, gd_namespace, list(games)))
    finally:
        watcher.stop.set()
        watcher.join(timeout=10)

    granted = [g for r in reports for g in r["granted"]]
    per_game = Counter(game_id for game_id, _ in granted)
    print(f"\n{workers} processes, {len(games)} games, {free_seats} free seats, {len(granted)} granted, "
          f"{sum(r['attempts'] for r in reports)} attempts, refusals "
          f"{sum((Counter(r['refused']) for r in reports), Counter())}, {watcher.sweeps} watcher sweeps")
    assert watcher.violations == [] and watcher.sweeps > 0
    assert len(granted) == free_seats, "each free seat handed out exactly once"
    assert per_game == Counter(games)
    for game_id, free in games.items():
        g = mm.get_game(game_id)
        mine = {player for gid, player in granted if gid == game_id}
        assert len(g.players) + len(g.reservations) == g.capacity, game_id
        assert set(g.reservations) | (set(g.players) & mine) == mine, game_id
    assert mm.get_open_games() == []
    assert mm.quick_join("late", ttl_ms=LONG_TTL_MS) is None


# ---- (b) janitors reaping the same games ----------------------------------------------------


def _reap_until_empty(mm: game_data.Matchmaker, now: int) -> list[str]:
    """Reaps again and again until a reap finds nothing; the ids this janitor reaped."""
    reaped: list[str] = []
    while batch := mm.reap(now=now):
        reaped.extend(g.id for g in batch)
    return reaped


def _janitor(barrier, url: str, namespace: str, now: int, worker: int) -> list[str]:
    mm = game_data.connect(url, namespace=namespace, max_age_ms=TINY_MAX_AGE)
    barrier.wait()
    return _reap_until_empty(mm, now)


def test_janitor_processes_reap_each_stale_game_exactly_once(redis_url, gd_namespace):
    mm = game_data.connect(redis_url, namespace=gd_namespace, max_age_ms=TINY_MAX_AGE)
    ordered = [mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id for _ in range(1_800)]
    stale = set(ordered)
    states = [GameState.CREATED, GameState.CREATOR_JOINED, GameState.IN_PROGRESS]
    mm.apply_many([ev(EventType.CREATOR_JOINED, gid, "alice")
                   for k, gid in enumerate(ordered) if states[k % 3] is not GameState.CREATED])
    mm.apply_many([ev(EventType.GAME_STARTED, gid) for k, gid in enumerate(ordered)
                   if states[k % 3] is GameState.IN_PROGRESS])
    cut = next_ms(mm)  # every score so far is below cut; every later one above
    next_ms(mm)
    fresh = {mm.create_game(creator_id="late", capacity=2, server_id=SERVER).id for _ in range(50)}
    assert mm.counts() == {"pending": 600 + len(fresh), "lobby": 600, "active": 600}

    reports = run_processes(_janitor, [(w,) for w in range(4)],
                            shared=(redis_url, gd_namespace, cut + TINY_MAX_AGE["pending"]))

    everything = Counter(gid for r in reports for gid in r)
    print(f"\n4 janitors reaped {[len(r) for r in reports]} of {len(stale)} stale games")
    assert set(everything) == stale
    assert set(everything.values()) == {1}, "no game reaped twice"
    stream = [fields["game_id"] for _, fields in mm.stream_entries(f"{gd_namespace}:{{0}}:reaped")]
    assert len(stream) == len(stale) and set(stream) == stale, "one reaped entry per game"
    assert mm.counts() == {"pending": len(fresh), "lobby": 0, "active": 0}
    assert all(mm.get_game(gid) is not None for gid in fresh)


# ---- (c) events racing a janitor ------------------------------------------------------------

RACING_EVENTS = [EventType.HEARTBEAT, EventType.GAME_STARTED, EventType.GAME_ENDED, EventType.PLAYER_JOINED]


def _event_sender(barrier, url: str, namespace: str, started, reaping, start_after: int,
                  plan: list[tuple[str, str]], worker: int) -> list[tuple[str, str, str]]:
    """Applies one event per game of `plan` (shuffled), counting in `started`, and once
    `start_after` were applied in all, waits for a janitor to begin before going on, so both
    outcomes occur however the processes are scheduled. Returns (game id, status, reason)."""
    mm = game_data.connect(url, namespace=namespace)
    barrier.wait()
    out = []
    for game_id, type_name in plan:
        if started.value >= start_after:
            assert reaping.wait(timeout=30), "no janitor began"
        t = EventType(type_name)
        result = mm.apply(ev(t, game_id, f"{game_id}-joiner" if t is EventType.PLAYER_JOINED else None))
        out.append((game_id, result.status.value, result.reason))
        with started.get_lock():
            started.value += 1
    return out


def _racing_janitor(barrier, url: str, namespace: str, started, reaping, start_after: int, now: int,
                    worker: int) -> list[str]:
    """Reaps once the senders are under way, then again until nothing is left."""
    mm = game_data.connect(url, namespace=namespace, max_age_ms=TINY_MAX_AGE)
    barrier.wait()
    while started.value < start_after:
        pass
    reaping.set()
    return _reap_until_empty(mm, now)


def test_an_event_racing_the_janitor_lands_or_finds_the_game_reaped_never_both(redis_url, gd_namespace):
    mm = game_data.connect(redis_url, namespace=gd_namespace, max_age_ms=TINY_MAX_AGE)
    games = [mm.create_game(creator_id="alice", capacity=4, server_id=SERVER).id for _ in range(1_200)]
    mm.apply_many([ev(EventType.CREATOR_JOINED, gid, "alice") for gid in games])
    cut = next_ms(mm)
    next_ms(mm)  # every event of the race is scored after cut, so a landed rescore saves the game
    event_of = {gid: RACING_EVENTS[k % len(RACING_EVENTS)] for k, gid in enumerate(games)}
    plan = [(gid, event_of[gid].value) for gid in games]
    random.Random(3).shuffle(plan)
    started, reaping, start_after = SPAWN.Value("i", 0), SPAWN.Event(), len(games) // 5
    now = cut + TINY_MAX_AGE["lobby"]
    args = [(_event_sender, (started, reaping, start_after, plan[0::2])),
            (_event_sender, (started, reaping, start_after, plan[1::2])),
            (_racing_janitor, (started, reaping, start_after, now)),
            (_racing_janitor, (started, reaping, start_after, now))]

    reports = run_processes(_role, [(fn, rest, w) for w, (fn, rest) in enumerate(args)],
                            shared=(redis_url, gd_namespace))

    outcomes = {gid: (status, reason) for r in reports[:2] for gid, status, reason in r}
    reaped_by_janitors = Counter(gid for r in reports[2:] for gid in r)
    entries = mm.stream_entries(f"{gd_namespace}:{{0}}:reaped")
    in_stream = {fields["game_id"]: json.loads(fields["game"]) for _, fields in entries}
    assert len(in_stream) == len(entries), "one reaped entry per game"
    assert set(reaped_by_janitors) == set(in_stream) and set(reaped_by_janitors.values()) <= {1}
    tally: Counter = Counter()
    for gid in games:
        t, (status, reason) = event_of[gid], outcomes[gid]
        applied = status == "applied"
        reaped = gid in in_stream
        if t is EventType.PLAYER_JOINED:
            # A join does not rescore: the game is reaped either way, with the player seated if
            # and only if the join landed first.
            assert reaped, gid
            assert applied == (f"{gid}-joiner" in in_stream[gid]["players"]), (gid, status, reason)
            if not applied:
                assert (status, reason) == ("rejected", "game was reaped"), gid
        else:
            assert applied != reaped, (gid, t, status, reason, reaped)
            if not applied:
                want = "duplicate" if t is EventType.GAME_ENDED else "rejected"
                assert (status, reason) == (want, "game was reaped"), gid
                assert mm.get_game(gid) is None
            elif t is EventType.GAME_ENDED:
                assert mm.get_game(gid) is None
            else:
                want_set = "active" if t is EventType.GAME_STARTED else "lobby"
                assert mm.set_entry(gid)[0] == want_set, gid
        tally[(t.value, "applied" if applied else "reaped first")] += 1
    print(f"\n2 senders, 2 janitors, {len(games)} games: {dict(sorted(tally.items()))}")
    landed = sum(n for (t, o), n in tally.items() if o == "applied" and t != "player_joined")
    lost = sum(n for (t, o), n in tally.items() if o == "reaped first")
    assert landed > 0 and lost > 0, "the race had both outcomes"


def _role(barrier, url: str, namespace: str, fn, rest: tuple, worker: int):
    return fn(barrier, url, namespace, *rest, worker)
