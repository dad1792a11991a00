"""SimulatedGameServer: each way a game server behaves (or misbehaves) leads to the documented
outcome once a consumer has applied its events (SPEC sections 2 and 3). And the simulation's
own seat and reaped-feed bookkeeping (game_data.simulate.SeatLedger, ReapedLedger): each
invariant it checks reports the broken result it exists to catch."""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import game_data
from game_data import ApplyStatus, EventType, Game, GameState
from game_data.simulate import ReapedLedger, SeatLedger
from game_data.testing import SimulatedGameServer, drain
from game_data.testing.simulator import GARBAGE_KINDS, garbage_fields


@pytest.fixture
def mm(stream_mm: game_data.Matchmaker) -> game_data.Matchmaker:
    """A matchmaker on every backend whose event stream works (conftest.py)."""
    return stream_mm


@pytest.fixture
def consumer(mm):
    return mm.consumer(name="sim-test")


@pytest.fixture
def server(mm) -> SimulatedGameServer:
    return SimulatedGameServer(matchmaker=mm, server_id="gs-1")


def dead_letters(mm) -> list[dict]:
    return [fields for _, fields in mm.stream_entries(f"{mm.default_stream}:dead")]


def statuses(results) -> list[ApplyStatus]:
    return [r.status for r in results]


def test_step_by_step_lifecycle_moves_the_game_through_each_set(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1")

    server.creator_joins(game)
    drain(consumer)
    assert mm.get_game(game.id).state is GameState.CREATOR_JOINED
    assert [g.id for g in mm.get_open_games()] == [game.id]

    server.player_joins(game, "bob")
    server.player_joins(game, "carol")
    server.all_players_joined(game)
    drain(consumer)
    current = mm.get_game(game.id)
    assert current.state is GameState.ALL_PLAYERS_JOINED
    assert current.players == ["alice", "bob", "carol"]
    assert mm.get_open_games() == []
    assert mm.counts() == {"pending": 0, "lobby": 1, "active": 0}

    server.start(game)
    server.heartbeat(game)
    drain(consumer)
    assert mm.get_game(game.id).state is GameState.IN_PROGRESS
    assert mm.counts() == {"pending": 0, "lobby": 0, "active": 1}

    server.end(game)
    results = drain(consumer)
    assert results[-1].state is GameState.ENDED
    assert mm.get_game(game.id) is None


def test_full_play_ends_with_the_game_gone_and_counts_zero(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=4, server_id="gs-1")

    ids = server.play(game, heartbeats=2)

    results = drain(consumer)
    # creator, 3 players, all_players_joined, started, 2 heartbeats, ended
    assert len(ids) == 9
    assert statuses(results) == [ApplyStatus.APPLIED] * 9
    assert [r.entry_id for r in results] == ids
    assert mm.get_game(game.id) is None
    assert mm.counts() == {"pending": 0, "lobby": 0, "active": 0}
    assert dead_letters(mm) == []


def test_every_event_delivered_twice_has_the_effect_of_once(mm, consumer, server):
    once = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1")
    twice = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1")
    server.play(once, ["bob", "carol"], heartbeats=2, end=False)
    drain(consumer)

    ids = server.play(twice, ["bob", "carol"], heartbeats=2, end=False, duplicate_each=True)

    results = drain(consumer)
    assert [r.entry_id for r in results] == ids
    # creator, bob, carol, full, started: each copy after the first is a duplicate. A
    # heartbeat's copy is applied again: it only refreshes the score, whatever its seq.
    A, D = ApplyStatus.APPLIED, ApplyStatus.DUPLICATE
    assert statuses(results) == [A, D] * 5 + [A, A] * 2
    assert [r.reason for r in results if r.status is D] == [
        "state already reached", "seq already applied", "seq already applied",
        "state already reached", "state already reached"]
    a, b = mm.get_game(once.id), mm.get_game(twice.id)
    assert (b.state, b.players, sorted(b.player_seqs)) == (a.state, a.players, sorted(a.player_seqs))
    assert b.players == ["alice", "bob", "carol"] and b.state is GameState.IN_PROGRESS
    assert b.last_seq == max(int(e.fields["seq"]) for e in server.sent if e.fields["game_id"] == twice.id)
    assert mm.counts() == {"pending": 0, "lobby": 0, "active": 2}


def test_a_redelivered_heartbeat_refreshes_the_score_and_changes_nothing_else(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    server.play(game, ["bob"], heartbeats=1, end=False)
    drain(consumer)
    before = mm.get_game(game.id)
    _, score = mm.set_entry(game.id)
    start = mm.now()
    while mm.now() <= start:  # the next score is strictly later
        pass

    server.duplicate()  # the last event: the heartbeat, same seq

    (result,) = drain(consumer)
    assert (result.status, result.state) == (ApplyStatus.APPLIED, GameState.IN_PROGRESS)
    after = mm.get_game(game.id)
    assert (after.state, after.players, after.player_seqs, after.last_seq) == (
        before.state, before.players, before.player_seqs, before.last_seq)
    set_name, new_score = mm.set_entry(game.id)
    assert set_name == "active" and new_score > score
    assert mm.counts() == {"pending": 0, "lobby": 0, "active": 1}


def test_joins_of_two_players_delivered_out_of_order_both_take_effect(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1")
    server.creator_joins(game)
    drain(consumer)

    bob_id, carol_id = server.out_of_order(
        game, [(EventType.PLAYER_JOINED, "bob"), (EventType.PLAYER_JOINED, "carol")])

    results = drain(consumer)
    assert [r.entry_id for r in results] == [carol_id, bob_id]
    assert statuses(results) == [ApplyStatus.APPLIED, ApplyStatus.APPLIED]
    assert mm.get_game(game.id).players == ["alice", "bob", "carol"]  # the publish order
    assert mm.get_open_games() == []


def test_a_join_that_overtakes_the_leave_freeing_its_seat_is_held_then_seated(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    server.creator_joins(game)
    server.player_joins(game, "bob")
    drain(consumer)

    left_id, joined_id = server.out_of_order(
        game, [(EventType.PLAYER_LEFT, "bob"), (EventType.PLAYER_JOINED, "carol")])

    results = drain(consumer)
    assert [(r.entry_id, r.status, r.reason) for r in results] == [
        (joined_id, ApplyStatus.APPLIED, "held until a seat frees"), (left_id, ApplyStatus.APPLIED, "")]
    current = mm.get_game(game.id)
    assert (current.players, current.held) == (["alice", "carol"], [])
    assert dead_letters(mm) == []


def test_joins_that_overtake_the_creators_join_land_with_the_creator_first(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1")

    server.out_of_order(game, [(EventType.CREATOR_JOINED, "alice"), (EventType.PLAYER_JOINED, "bob"),
                               (EventType.PLAYER_JOINED, "carol")])

    results = drain(consumer)
    assert statuses(results) == [ApplyStatus.APPLIED] * 3
    current = mm.get_game(game.id)
    assert (current.state, current.players, current.held) == (
        GameState.CREATOR_JOINED, ["alice", "bob", "carol"], [])
    assert mm.get_open_games() == []


def test_a_creator_join_that_arrives_after_the_start_still_seats_the_creator(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")

    server.out_of_order(game, [(EventType.CREATOR_JOINED, "alice"), (EventType.PLAYER_JOINED, "bob"),
                               EventType.ALL_PLAYERS_JOINED, EventType.GAME_STARTED])

    results = drain(consumer)
    # Delivered: started, full (a state already passed), bob, alice.
    assert statuses(results) == [ApplyStatus.APPLIED, ApplyStatus.DUPLICATE, ApplyStatus.APPLIED,
                                 ApplyStatus.APPLIED]
    current = mm.get_game(game.id)
    assert (current.state, current.players, current.creator_seen) == (
        GameState.IN_PROGRESS, ["alice", "bob"], True)
    assert mm.counts() == {"pending": 0, "lobby": 0, "active": 1}


def test_a_join_overtaken_by_the_same_players_leave_does_not_reseat_them(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1")
    server.creator_joins(game)
    drain(consumer)

    joined_id, left_id = server.out_of_order(
        game, [(EventType.PLAYER_JOINED, "bob"), (EventType.PLAYER_LEFT, "bob")])

    results = drain(consumer)
    assert [r.entry_id for r in results] == [left_id, joined_id]
    assert statuses(results) == [ApplyStatus.APPLIED, ApplyStatus.DUPLICATE]
    assert results[1].reason == "seq already applied"
    assert mm.get_game(game.id).players == ["alice"]
    assert [g.id for g in mm.get_open_games()] == [game.id]


def test_duplicate_of_an_old_join_does_not_bring_back_a_player_who_left(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1")
    server.creator_joins(game)
    joined = server.player_joins(game, "bob")
    server.player_leaves(game, "bob")

    server.duplicate(joined)

    results = drain(consumer)
    assert results[-1].status is ApplyStatus.DUPLICATE
    assert server.sent[-1].fields == server.sent[1].fields  # same fields, same seq
    assert mm.get_game(game.id).players == ["alice"]


def test_out_of_order_start_overtakes_full_and_the_late_event_is_a_duplicate(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    server.creator_joins(game)
    server.player_joins(game, "bob")
    drain(consumer)

    full_id, started_id = server.out_of_order(game, [EventType.ALL_PLAYERS_JOINED, EventType.GAME_STARTED])

    results = drain(consumer)
    assert [r.entry_id for r in results] == [started_id, full_id]
    assert statuses(results) == [ApplyStatus.APPLIED, ApplyStatus.DUPLICATE]
    assert mm.get_game(game.id).state is GameState.IN_PROGRESS
    assert mm.counts() == {"pending": 0, "lobby": 0, "active": 1}


def test_event_from_the_wrong_server_is_dead_lettered_and_changes_nothing(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    server.creator_joins(game)
    drain(consumer)
    before = mm.get_game(game.id)

    entry_id = server.send_as("gs-2", game, EventType.GAME_STARTED)

    results = drain(consumer)
    assert statuses(results) == [ApplyStatus.REJECTED]
    assert results[0].reason == "wrong server"
    assert mm.get_game(game.id) == before
    (letter,) = dead_letters(mm)
    assert letter["error"] == "wrong server"
    assert letter["server_id"] == "gs-2"
    assert {k: v for k, v in letter.items() if k != "error"} == dict(server.sent[-1].fields)
    assert server.sent[-1].entry_id == entry_id


@pytest.mark.parametrize("kind", sorted(GARBAGE_KINDS))
def test_garbage_entry_is_dead_lettered_with_its_reason_and_good_events_around_it_apply(
    mm, consumer, server, kind
):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    server.creator_joins(game)
    server.send_garbage(kind, game if kind != "unknown_game" else None)
    server.player_joins(game, "bob")

    results = drain(consumer)

    assert statuses(results) == [ApplyStatus.APPLIED, ApplyStatus.REJECTED, ApplyStatus.APPLIED]
    assert GARBAGE_KINDS[kind] in results[1].reason
    (letter,) = dead_letters(mm)
    assert GARBAGE_KINDS[kind] in letter["error"]
    assert {k: v for k, v in letter.items() if k != "error"} == dict(server.sent[1].fields)
    assert mm.get_game(game.id).players == ["alice", "bob"]


def test_garbage_fields_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown garbage kind"):
        garbage_fields("gremlins", "gs-1")


@pytest.mark.parametrize(("die_in", "set_name", "state"), [
    ("lobby", "lobby", GameState.ALL_PLAYERS_JOINED),
    ("active", "active", GameState.IN_PROGRESS),
])
def test_silent_death_leaves_the_game_in_its_set_until_reaped(mm, consumer, server, die_in, set_name, state):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    server.play(game, die_in=die_in)
    drain(consumer)
    sent = len(server.sent)

    assert not server.alive
    assert server.end(game) is None
    assert server.heartbeat(game) is None
    assert len(server.sent) == sent and server.dropped == 2
    assert mm.get_game(game.id).state is state
    assert mm.counts()[set_name] == 1

    max_age = mm.max_age_ms[set_name]
    assert mm.reap(now=mm.now() + max_age // 2) == []
    reaped = mm.reap(now=mm.now() + max_age + 1)

    assert [g.id for g in reaped] == [game.id]
    assert mm.get_game(game.id) is None
    assert mm.counts() == {"pending": 0, "lobby": 0, "active": 0}


def test_creator_who_never_connects_leaves_the_game_pending_until_reaped(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")

    assert server.play(game, creator_connects=False) == []
    drain(consumer)

    assert mm.get_game(game.id).state is GameState.CREATED
    assert mm.get_open_games() == []
    max_age = mm.max_age_ms["pending"]
    assert mm.reap(now=mm.now() + max_age - 1_000) == []
    reaped = mm.reap(now=mm.now() + max_age + 1)
    assert [(g.id, g.state) for g in reaped] == [(game.id, GameState.CREATED)]
    assert mm.counts() == {"pending": 0, "lobby": 0, "active": 0}


def test_events_after_a_game_was_reaped_are_dead_lettered(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    mm.reap(now=mm.now() + mm.max_age_ms["pending"] + 1)

    server.creator_joins(game)  # the creator shows up too late

    results = drain(consumer)
    assert statuses(results) == [ApplyStatus.REJECTED]
    assert dead_letters(mm)[0]["error"] == results[0].reason


def test_server_bound_by_url_publishes_to_the_same_stream(stream_backend_url, gd_namespace):
    # A publisher opened by URL has no namespace: a named memory backend is shared per
    # (name, namespace), so on memory:// the matchmaker uses the default namespace too.
    backend_url, namespace = stream_backend_url, gd_namespace
    if backend_url == "memory://":
        backend_url, namespace = f"memory://sim-{uuid.uuid4().hex[:12]}", "gd"
    mm = game_data.connect(backend_url, namespace=namespace)
    consumer = mm.consumer(name="by-url")
    server = SimulatedGameServer(url=backend_url, server_id="gs-9", stream=mm.default_stream)
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-9")

    server.play(game)

    assert statuses(drain(consumer)) == [ApplyStatus.APPLIED] * 6
    assert mm.get_game(game.id) is None


def test_seq_increases_per_game_and_ts_is_the_server_clock(server):
    game_id = "g-1"
    first = server.prepare(game_id, EventType.HEARTBEAT)
    second = server.prepare(game_id, EventType.HEARTBEAT)
    assert int(second["seq"]) > int(first["seq"])
    assert abs(int(first["ts"]) - time.time() * 1000) < 60_000


def test_a_deleted_game_is_deleted_once_and_its_server_sends_nothing_more_for_it(mm, consumer, server):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    other = mm.create_game(creator_id="bob", capacity=2, server_id="gs-1")
    server.creator_joins(game)
    server.die()

    assert server.delete(game) is True  # a dead server's host still takes the order
    assert server.delete(game.id) is False  # the same order delivered again: nothing to do
    assert server.deleted == {game.id}

    live = SimulatedGameServer(matchmaker=mm, server_id="gs-1")
    live.delete(game)
    assert live.heartbeat(game) is None and live.dropped == 1
    assert live.creator_joins(other) is not None  # other games are untouched
    assert [r.game_id for r in drain(consumer)] == [game.id, other.id]


def test_server_needs_a_publisher_matchmaker_or_url():
    with pytest.raises(ValueError):
        SimulatedGameServer()
    with pytest.raises(ValueError):
        SimulatedGameServer(server_id="gs-1")


def test_play_refuses_more_players_than_seats(mm, server):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    with pytest.raises(ValueError, match="do not fit"):
        server.play(game, ["bob", "carol"])
    assert server.sent == []


STATE_ORDER = [GameState.CREATED, GameState.CREATOR_JOINED, GameState.ALL_PLAYERS_JOINED,
               GameState.IN_PROGRESS, GameState.ENDED]
PLAYERS = [f"p{i}" for i in range(5)]
actions = st.one_of(
    st.tuples(st.sampled_from(["creator", "full", "start", "heartbeat", "end", "duplicate", "wrong_server"])),
    st.tuples(st.sampled_from(["join", "leave"]), st.sampled_from(PLAYERS)),
    st.tuples(st.just("garbage"), st.sampled_from(sorted(GARBAGE_KINDS))),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(capacity=st.integers(1, 4), script=st.lists(actions, max_size=25))
def test_any_sequence_of_server_behaviour_keeps_the_game_consistent(stream_backend_url, capacity, script):
    mm = game_data.connect(stream_backend_url, namespace=f"prop-{uuid.uuid4().hex[:12]}")
    consumer = mm.consumer(name="prop")
    assert consumer.poll(block_ms=0) == []  # creates the group
    server = SimulatedGameServer(matchmaker=mm, server_id="gs-1")
    game = mm.create_game(creator_id="alice", capacity=capacity, server_id="gs-1")
    reached = 0
    for action, *arg in script:
        if action == "creator":
            server.creator_joins(game)
        elif action == "join":
            server.player_joins(game, arg[0])
        elif action == "leave":
            server.player_leaves(game, arg[0])
        elif action == "full":
            server.all_players_joined(game)
        elif action == "start":
            server.start(game)
        elif action == "heartbeat":
            server.heartbeat(game)
        elif action == "end":
            server.end(game)
        elif action == "duplicate" and server.sent:
            server.duplicate(server.sent[-1])
        elif action == "wrong_server":
            server.send_as("gs-2", game)
        elif action == "garbage":
            server.send_garbage(arg[0], game if arg[0] != "unknown_game" else None)
        drain(consumer)

        current = mm.get_game(game.id)
        counts = mm.counts()
        if current is None:
            reached = STATE_ORDER.index(GameState.ENDED)
            assert counts == {"pending": 0, "lobby": 0, "active": 0}
            continue
        assert STATE_ORDER.index(current.state) >= reached, "a state moved backwards"
        reached = STATE_ORDER.index(current.state)
        assert mm.set_entry(game.id)[0] == game_data.set_of(current.state)
        assert sum(counts.values()) == 1 and counts[game_data.set_of(current.state)] == 1
        assert len(current.players) == len(set(current.players)) <= capacity
        held = [p for p, _ in current.held]
        assert len(held) == len(set(held)) <= 16 and not set(held) & set(current.players)
        assert not held or current.free_seats == 0  # only a full game holds joins
        waiting = current.state is GameState.CREATOR_JOINED
        assert current.is_open == (waiting and len(current.players) < capacity)

    stats = consumer.stats
    assert stats["applied"] + stats["duplicate"] + stats["rejected"] == len(server.sent)
    assert stats["dead_lettered"] == stats["rejected"] == mm.stream_length(f"{mm.default_stream}:dead")
    assert consumer.group_info() == {"pending": 0, "lag": 0}


# -- the simulation's own invariants, fed broken results -----------------------------------------

FAR = 2**50  # an expiry far in the future (ms)


def lobby_game(players=("alice",), capacity=3, reservations=None, creator_seen=True) -> Game:
    return Game(id="g1", state=GameState.CREATOR_JOINED, creator_id="alice", capacity=capacity,
                server_id="gs-1", players=list(players), reservations=reservations or {},
                creator_seen=creator_seen)


def kinds(problems) -> list[str]:
    return [kind for kind, _ in problems]


def test_ledger_accepts_a_game_whose_reservations_are_the_players():
    ledger = SeatLedger()
    ledger.reserve("g1", "bob", FAR, "join")
    ledger.reserve("g1", "gone", 1_000, "no_show")  # expired before the read

    assert ledger.audit(lobby_game(reservations={"bob": FAR}), t0=2_000, t1=2_001) == []


def test_ledger_reports_more_players_plus_reservations_than_capacity():
    ledger = SeatLedger()
    ledger.reserve("g1", "carol", FAR, "join")

    game = lobby_game(players=("alice", "bob"), capacity=2, reservations={"carol": FAR})
    problems = ledger.audit(game, t0=0, t1=1)

    assert kinds(problems) == ["capacity"]
    assert "2 players + 1 live reservations, capacity 2" in problems[0][1]


def test_ledger_reports_a_reservation_no_player_holds():
    # A join that did not consume its reservation, or a cancel that did not free the seat.
    problems = SeatLedger().audit(lobby_game(reservations={"bob": FAR}), t0=0, t1=1)

    assert kinds(problems) == ["reservations"]
    assert "no player holds" in problems[0][1]


def test_ledger_reports_an_expired_reservation_still_listed():
    ledger = SeatLedger()
    ledger.reserve("g1", "bob", 1_000, "no_show")

    problems = ledger.audit(lobby_game(reservations={"bob": 1_000}), t0=1_000, t1=1_002)

    assert kinds(problems) == ["reservations"]
    assert "expired at 1000 as live" in problems[0][1]


def test_ledger_reports_a_live_reservation_the_game_lost():
    ledger = SeatLedger()
    ledger.reserve("g1", "bob", 5_000, "join")

    problems = ledger.audit(lobby_game(), t0=1_000, t1=1_002)

    assert kinds(problems) == ["reservations"]
    assert "lost the live join reservation of bob" in problems[0][1]
    # Expiring during the read, it may be gone or not: no problem either way.
    assert ledger.audit(lobby_game(), t0=4_999, t1=5_000) == []


def test_ledger_reports_a_refresh_that_did_not_move_the_expiry():
    ledger = SeatLedger()
    ledger.reserve("g1", "bob", 5_000, "join")
    ledger.reserve("g1", "bob", 9_000, "join")  # reserved again: one seat, the new expiry

    problems = ledger.audit(lobby_game(reservations={"bob": 5_000}), t0=1_000, t1=1_001)

    assert kinds(problems) == ["reservations"] and "the player's at 9000" in problems[0][1]


def test_ledger_reports_a_seated_player_whose_reservation_was_not_consumed():
    ledger = SeatLedger()
    ledger.reserve("g1", "bob", FAR, "join")

    problems = ledger.audit(lobby_game(players=("alice", "bob")), t0=0, t1=1)

    assert kinds(problems) == ["reservations"] and "bob is seated" in problems[0][1]


def reaped_item(entry_id: str, game: Game, set_name: str = "lobby", reaped_at: int = 7):
    return SimpleNamespace(entry_id=entry_id, game=game, set=set_name, reaped_at=reaped_at)


def test_reaped_ledger_accepts_each_game_once_and_a_redelivery_after_a_lost_ack():
    g1, g2 = lobby_game(), Game.from_dict(lobby_game().to_dict() | {"id": "g2"})
    reaps = ReapedLedger()
    reaps.reaped([g1, g2], "lobby", 7)
    assert reaps.delivered(reaped_item("1-0", g1)) is True
    assert reaps.delivered(reaped_item("1-1", g2)) is True
    reaps.lost.add("1-1")

    assert reaps.delivered(reaped_item("1-1", g2)) is False

    assert reaps.problems() == []
    assert reaps.redelivered == ["1-1"]


def test_reaped_ledger_reports_a_game_the_feed_never_delivered():
    reaps = ReapedLedger()
    reaps.reaped([lobby_game()], "lobby", 7)

    assert reaps.problems() == ["1 reaped games never delivered by the feed, e.g. ['g1']"]


def test_reaped_ledger_reports_an_acknowledged_item_delivered_again():
    reaps = ReapedLedger()
    reaps.reaped([lobby_game()], "lobby", 7)
    reaps.delivered(reaped_item("1-0", lobby_game()))

    reaps.delivered(reaped_item("1-0", lobby_game()))

    problems = reaps.problems()
    assert any("delivered again after it was acknowledged" in p for p in problems)
    assert any("redelivered ['1-0']" in p for p in problems)


def test_reaped_ledger_reports_a_game_delivered_under_two_entries():
    reaps = ReapedLedger()
    reaps.reaped([lobby_game()], "lobby", 7)
    reaps.delivered(reaped_item("1-0", lobby_game()))

    assert reaps.delivered(reaped_item("2-0", lobby_game())) is True

    assert reaps.problems() == ["g1: delivered twice, under two entries"]


def test_reaped_ledger_reports_a_game_no_reap_returned():
    reaps = ReapedLedger()

    reaps.delivered(reaped_item("1-0", lobby_game()))

    assert reaps.problems() == ["g1: delivered by the reaped feed but no reap of this run returned it"]


def test_reaped_ledger_reports_a_delivered_record_that_is_not_the_reaped_one():
    reaps = ReapedLedger()
    reaps.reaped([lobby_game()], "lobby", 7)

    reaps.delivered(reaped_item("1-0", lobby_game(players=("alice", "bob")), set_name="active", reaped_at=8))

    assert reaps.problems() == [
        "g1: the feed's record differs from the one reap returned",
        "g1: delivered as reaped from active at 8, reap took it from lobby at 7",
    ]
