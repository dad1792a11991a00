"""Change callbacks (SPEC section 8) on every backend: ``mm.on_change(cb)`` is called once per
change committed through ``mm`` (and the consumers made from it), in the calling thread, never
for duplicates, rejections or refused calls; what a callback raises is logged and counted and
never leaves the call that made the change."""

from __future__ import annotations

import threading

import pytest

import game_data
from game_data import ApplyStatus, Change, Event, EventType, GameState

FAR_FUTURE_MS = 365 * 24 * 3_600_000
ERRORS = "game_data_callback_errors_total"


def joined(game_id: str, player: str = "alice", type_: EventType = EventType.CREATOR_JOINED) -> Event:
    return Event(type=type_, game_id=game_id, server_id="gs-1", player_id=player)


def started(game_id: str) -> Event:
    return Event(type=EventType.GAME_STARTED, game_id=game_id, server_id="gs-1")


@pytest.fixture
def seen(mm: game_data.Matchmaker) -> list[Change]:
    """Every change mm announces from now on."""
    changes: list[Change] = []
    mm.on_change(changes.append)
    return changes


def open_game(mm: game_data.Matchmaker, capacity: int = 4) -> str:
    game = mm.create_game(creator_id="alice", capacity=capacity, server_id="gs-1")
    mm.apply(joined(game.id))
    return game.id


def test_create_game_announces_a_created_change(mm, seen):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    assert len(seen) == 1
    change = seen[0]
    assert isinstance(change, Change)
    assert (change.kind, change.game_id, change.state, change.event) == ("created", game.id, GameState.CREATED, None)


def test_apply_announces_the_event_and_the_state_after_it(mm):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    seen: list[Change] = []
    mm.on_change(seen.append)
    event = joined(game.id)
    mm.apply(event)
    assert [(c.kind, c.game_id, c.state, c.event) for c in seen] == [
        ("applied", game.id, GameState.CREATOR_JOINED, event)
    ]


def test_duplicates_rejections_and_refused_calls_announce_nothing(mm):
    game_id = open_game(mm, capacity=2)
    seen: list[Change] = []
    mm.on_change(seen.append)
    assert mm.apply(joined(game_id)).status is ApplyStatus.DUPLICATE
    assert mm.apply(started("no-such-game")).status is ApplyStatus.REJECTED
    with pytest.raises(game_data.SeatUnavailableError):
        mm.reserve_seat(game_id, "alice")
    with pytest.raises(game_data.GameExistsError):
        mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", game_id=game_id)
    with pytest.raises(game_data.InvalidArgumentError):
        mm.create_game(creator_id="bad id", capacity=2, server_id="gs-1")
    assert mm.cancel_reservation(game_id, "nobody") is False
    assert seen == []


def test_apply_many_announces_each_applied_event_in_order(mm):
    first = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1").id
    second = mm.create_game(creator_id="bob", capacity=3, server_id="gs-1").id
    seen: list[Change] = []
    mm.on_change(seen.append)
    events = [joined(second, "bob"), joined(second, "bob"), started("missing"), started(first),
              joined(second, "carol", EventType.PLAYER_JOINED)]
    mm.apply_many(events)
    assert [(c.game_id, c.state, c.event) for c in seen] == [
        (second, GameState.CREATOR_JOINED, events[0]),
        (first, GameState.IN_PROGRESS, events[3]),
        (second, GameState.CREATOR_JOINED, events[4]),
    ]
    assert {c.kind for c in seen} == {"applied"}


def test_reservations_and_cancellations_are_announced_without_a_state(mm):
    game_id = open_game(mm)
    seen: list[Change] = []
    mm.on_change(seen.append)
    mm.reserve_seat(game_id, "bob")
    assert mm.quick_join("carol") is not None
    assert mm.cancel_reservation(game_id, "bob") is True
    assert [(c.kind, c.game_id, c.state, c.event) for c in seen] == [
        ("reserved", game_id, None, None),
        ("reserved", game_id, None, None),
        ("reservation_cancelled", game_id, None, None),
    ]


def test_reap_announces_each_reaped_game_with_its_state(mm):
    pending = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1").id
    lobby = open_game(mm)
    seen: list[Change] = []
    mm.on_change(seen.append)
    reaped = mm.reap(now=mm.now() + FAR_FUTURE_MS)
    assert sorted((c.game_id, c.state) for c in seen) == sorted(
        [(pending, GameState.CREATED), (lobby, GameState.CREATOR_JOINED)]
    )
    assert [c.game_id for c in seen] == [g.id for g in reaped]
    assert {c.kind for c in seen} == {"reaped"}


def test_consumer_batches_are_announced_in_the_polling_thread_after_the_commit(stream_mm):
    mm = stream_mm
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    calls: list[tuple[Change, int, GameState]] = []

    def record(change: Change) -> None:
        # The whole batch is committed before its changes are announced.
        calls.append((change, threading.get_ident(), mm.get_game(change.game_id).state))

    mm.on_change(record)
    pub = mm.publisher("gs-1")
    pub.creator_joined(game.id, player_id="alice")
    pub.creator_joined(game.id, player_id="alice")  # a duplicate
    pub.game_started("no-such-game")                  # rejected and dead-lettered
    pub.game_started(game.id)
    consumer = mm.consumer()
    poller = threading.Thread(target=consumer.poll, kwargs={"count": 100, "block_ms": 0})
    poller.start()
    poller.join()
    assert [(c.kind, c.state, c.event.type) for c, _, _ in calls] == [
        ("applied", GameState.CREATOR_JOINED, EventType.CREATOR_JOINED),
        ("applied", GameState.IN_PROGRESS, EventType.GAME_STARTED),
    ]
    assert {thread for _, thread, _ in calls} == {poller.ident}
    assert [state for _, _, state in calls] == [GameState.IN_PROGRESS, GameState.IN_PROGRESS]


def test_a_raising_callback_is_logged_and_counted_and_stops_neither_the_change_nor_the_others(mm, capfd):
    before: list[str] = []
    after: list[str] = []
    mm.on_change(lambda c: before.append(c.kind))

    def broken(change: Change) -> None:
        raise ValueError(f"audit store is down ({change.kind})")

    mm.on_change(broken)
    mm.on_change(lambda c: after.append(c.kind))
    assert mm.stats()[ERRORS] == 0
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    result = mm.apply(joined(game.id))
    assert result.status is ApplyStatus.APPLIED
    assert before == after == ["created", "applied"]
    assert mm.get_game(game.id).state is GameState.CREATOR_JOINED
    assert mm.stats()[ERRORS] == 2
    logged = capfd.readouterr().err
    assert "change callback failed on created of game" in logged
    assert "ValueError: audit store is down (applied)" in logged


def test_a_removed_callback_is_not_called_and_removing_twice_is_safe(mm):
    seen: list[Change] = []
    handle = mm.on_change(seen.append)
    assert isinstance(handle, game_data.ChangeHandle)
    assert handle.active
    mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    handle.remove()
    handle.remove()
    assert not handle.active
    mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    assert len(seen) == 1


def test_a_callback_may_remove_itself_while_being_called(mm):
    calls: list[str] = []
    handles: list[game_data.ChangeHandle] = []

    def once(change: Change) -> None:
        calls.append(change.kind)
        handles[0].remove()

    handles.append(mm.on_change(once))
    mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    assert calls == ["created"]


def test_callbacks_from_many_threads_each_run_once_per_change(mm):
    lock = threading.Lock()
    counted: list[str] = []

    def count(change: Change) -> None:
        with lock:
            counted.append(change.game_id)

    mm.on_change(count)

    def work(n: int) -> None:
        for i in range(20):
            mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", game_id=f"t{n}-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(counted) == sorted(f"t{n}-{i}" for n in range(4) for i in range(20))


def test_on_change_needs_a_callable(mm):
    with pytest.raises(game_data.InvalidArgumentError):
        mm.on_change("not callable")


def test_a_change_reads_as_a_dict_and_a_repr(mm, seen):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    mm.apply(joined(game.id))
    created, applied = seen
    assert created.to_dict() == {"kind": "created", "game_id": game.id, "state": "created", "event": None}
    assert applied.to_dict()["event"] == joined(game.id).to_dict()
    assert repr(created) == f"Change(kind='created', game_id='{game.id}', state=<GameState.CREATED: 'created'>, event=None)"
    assert created == created and created != applied
