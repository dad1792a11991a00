"""The Matchmaker API of SPEC sections 2 and 5 on every backend."""

from __future__ import annotations

import pytest

import game_data
from game_data import ApplyStatus, Event, EventType, GameState

SERVER = "gs-1"


def ev(type_: EventType, game_id: str, player_id: str | None = None, *, seq: int | None = None,
       server_id: str = SERVER) -> Event:
    return Event(type=type_, game_id=game_id, server_id=server_id, player_id=player_id, seq=seq)


def counts(pending: int = 0, lobby: int = 0, active: int = 0) -> dict[str, int]:
    return {"pending": pending, "lobby": lobby, "active": active}


def next_ms(mm: game_data.Matchmaker) -> int:
    """Wait for the matchmaker's clock to tick, so the next score is strictly later."""
    start = mm.now()
    while (now := mm.now()) <= start:
        pass
    return now


def live(mm: game_data.Matchmaker, game_id: str) -> game_data.Game:
    """The stored game, which must exist."""
    game = mm.get_game(game_id)
    assert game is not None, f"game {game_id} is gone"
    return game


def set_name(mm: game_data.Matchmaker, game_id: str) -> str:
    entry = mm.set_entry(game_id)
    assert entry is not None, f"game {game_id} is in no set"
    return entry[0]


def open_ids(mm: game_data.Matchmaker, limit: int = 50) -> list[str]:
    return [g.id for g in mm.get_open_games(limit)]


def test_connect_defaults_to_memory() -> None:
    mm = game_data.connect()
    assert isinstance(mm, game_data.Matchmaker)
    assert mm.namespace == "gd"
    assert mm.default_stream == "gd:events"
    assert mm.counts() == counts()


def test_namespace_and_max_ages_are_kept() -> None:
    mm = game_data.connect("memory://", namespace="mm-a", max_age_ms={"lobby": 5000})
    assert mm.namespace == "mm-a"
    assert mm.default_stream == "mm-a:events"
    assert mm.max_age_ms == {"pending": 60_000, "lobby": 5000, "active": 3_600_000}


def test_create_game_puts_it_in_pending(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=4, server_id=SERVER)
    assert mm.counts() == counts(pending=1)
    assert mm.set_entry(game.id) == ("pending", game.created_at)
    assert mm.get_open_games() == []


def test_create_game_generates_distinct_ids(mm: game_data.Matchmaker) -> None:
    ids = {mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id for _ in range(50)}
    assert len(ids) == 50
    assert mm.counts() == counts(pending=50)


def test_create_game_with_taken_id_raises_game_exists(mm: game_data.Matchmaker) -> None:
    first = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, game_id="dup")
    with pytest.raises(game_data.GameExistsError):
        mm.create_game(creator_id="bob", capacity=3, server_id="gs-2", game_id="dup")
    assert mm.get_game("dup") == first
    assert mm.counts() == counts(pending=1)


def test_full_lifecycle_moves_between_sets(mm: game_data.Matchmaker) -> None:
    game = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
    gid = game.id
    assert mm.counts() == counts(pending=1)

    r = mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice"))
    assert (r.status, r.state) == (ApplyStatus.APPLIED, GameState.CREATOR_JOINED)
    assert mm.counts() == counts(lobby=1)
    assert open_ids(mm) == [gid]
    assert live(mm, gid).players == ["alice"]

    r = mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob"))
    assert (r.status, r.state) == (ApplyStatus.APPLIED, GameState.CREATOR_JOINED)
    assert mm.counts() == counts(lobby=1)
    assert open_ids(mm) == []  # full: capacity 2
    assert live(mm, gid).free_seats == 0

    r = mm.apply(ev(EventType.ALL_PLAYERS_JOINED, gid))
    assert (r.status, r.state) == (ApplyStatus.APPLIED, GameState.ALL_PLAYERS_JOINED)
    assert mm.counts() == counts(lobby=1)
    assert set_name(mm, gid) == "lobby"

    r = mm.apply(ev(EventType.GAME_STARTED, gid))
    assert (r.status, r.state) == (ApplyStatus.APPLIED, GameState.IN_PROGRESS)
    assert mm.counts() == counts(active=1)
    assert live(mm, gid).state is GameState.IN_PROGRESS

    r = mm.apply(ev(EventType.GAME_ENDED, gid))
    assert (r.status, r.state) == (ApplyStatus.APPLIED, GameState.ENDED)
    assert mm.counts() == counts()
    assert mm.get_game(gid) is None
    assert mm.set_entry(gid) is None


def test_late_event_after_end_is_a_duplicate(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id
    mm.apply(ev(EventType.GAME_ENDED, gid))
    late = mm.apply(ev(EventType.HEARTBEAT, gid))
    assert late.status is ApplyStatus.DUPLICATE
    assert late.state is None
    assert mm.counts() == counts()


def test_ended_id_cannot_be_reused_while_tombstoned(mm: game_data.Matchmaker) -> None:
    mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, game_id="reuse")
    mm.apply(ev(EventType.GAME_ENDED, "reuse"))
    with pytest.raises(game_data.GameExistsError):
        mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, game_id="reuse")


def test_replayed_event_is_a_duplicate(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    first = mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice"))
    again = mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice"))
    assert first.status is ApplyStatus.APPLIED
    assert again.status is ApplyStatus.DUPLICATE
    assert again.state is GameState.CREATOR_JOINED
    assert live(mm, gid).players == ["alice"]
    assert mm.counts() == counts(lobby=1)


def test_backward_event_is_a_duplicate_and_changes_nothing(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    mm.apply(ev(EventType.GAME_STARTED, gid))
    before = mm.get_game(gid)
    for late in (ev(EventType.CREATOR_JOINED, gid, "alice"), ev(EventType.ALL_PLAYERS_JOINED, gid),
                 ev(EventType.GAME_STARTED, gid)):
        assert mm.apply(late).status is ApplyStatus.DUPLICATE
    assert mm.get_game(gid) == before
    assert mm.counts() == counts(active=1)


def test_seq_not_above_last_is_a_duplicate(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    assert mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=10)).status is ApplyStatus.APPLIED
    assert live(mm, gid).last_seq == 10
    stale = mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=10))
    assert stale.status is ApplyStatus.DUPLICATE
    assert live(mm, gid).players == ["alice"]
    assert mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=11)).status is ApplyStatus.APPLIED
    assert live(mm, gid).players == ["alice", "bob"]


def test_forward_skip_to_started_goes_straight_to_active(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    r = mm.apply(ev(EventType.GAME_STARTED, gid))
    assert (r.status, r.state) == (ApplyStatus.APPLIED, GameState.IN_PROGRESS)
    assert mm.counts() == counts(active=1)
    assert set_name(mm, gid) == "active"


def test_forward_skip_to_full_lobby_is_never_open(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    r = mm.apply(ev(EventType.ALL_PLAYERS_JOINED, gid))
    assert r.state is GameState.ALL_PLAYERS_JOINED
    assert mm.counts() == counts(lobby=1)
    assert open_ids(mm) == []


@pytest.mark.parametrize("state_events", [[], [EventType.ALL_PLAYERS_JOINED], [EventType.GAME_STARTED]],
                         ids=["created", "all_players_joined", "in_progress"])
def test_game_ended_is_accepted_from_every_live_state(mm: game_data.Matchmaker,
                                                     state_events: list[EventType]) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    for t in state_events:
        mm.apply(ev(t, gid))
    r = mm.apply(ev(EventType.GAME_ENDED, gid))
    assert (r.status, r.state) == (ApplyStatus.APPLIED, GameState.ENDED)
    assert mm.counts() == counts()


def test_roster_changes_update_free_seats_and_open_games(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice"))
    assert [g.free_seats for g in mm.get_open_games()] == [2]
    mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob"))
    assert [g.free_seats for g in mm.get_open_games()] == [1]
    mm.apply(ev(EventType.PLAYER_JOINED, gid, "carol"))
    assert mm.get_open_games() == []
    full = mm.apply(ev(EventType.PLAYER_JOINED, gid, "dave"))
    assert full.status is ApplyStatus.REJECTED
    mm.apply(ev(EventType.PLAYER_LEFT, gid, "bob"))
    (open_game,) = mm.get_open_games()
    assert open_game.players == ["alice", "carol"]
    assert open_game.free_seats == 1
    assert mm.counts() == counts(lobby=1)


def test_roster_duplicates(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice"))
    mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob"))
    assert mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob")).status is ApplyStatus.DUPLICATE
    assert mm.apply(ev(EventType.PLAYER_LEFT, gid, "zed")).status is ApplyStatus.DUPLICATE
    assert live(mm, gid).players == ["alice", "bob"]


def test_get_open_games_oldest_first_and_limit(mm: game_data.Matchmaker) -> None:
    # Ids sort opposite to the join order, so id order cannot pass for age order.
    ids = ["g-c", "g-b", "g-a"]
    for gid in ids:
        mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, game_id=gid)
    for gid in ids:
        next_ms(mm)
        mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice"))
    assert open_ids(mm) == ids
    assert open_ids(mm, limit=2) == ids[:2]
    assert open_ids(mm, limit=0) == []


def test_heartbeat_refreshes_the_set_score(mm: game_data.Matchmaker) -> None:
    for gid in ("first", "second"):
        mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, game_id=gid)
        next_ms(mm)
        mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice"))
    assert open_ids(mm) == ["first", "second"]
    entry_before = mm.set_entry("first")
    assert entry_before is not None
    next_ms(mm)
    assert mm.apply(ev(EventType.HEARTBEAT, "first")).status is ApplyStatus.APPLIED
    entry_after = mm.set_entry("first")
    assert entry_after is not None
    assert entry_after[0] == "lobby"
    assert entry_after[1] > entry_before[1]
    assert open_ids(mm) == ["second", "first"]


def test_wrong_server_is_rejected_and_changes_nothing(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id
    before = mm.get_game(gid)
    r = mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", server_id="gs-evil"))
    assert r.status is ApplyStatus.REJECTED
    assert "server" in r.reason
    assert r.state is GameState.CREATED
    assert mm.get_game(gid) == before
    assert mm.counts() == counts(pending=1)


def test_unknown_game_is_rejected(mm: game_data.Matchmaker) -> None:
    r = mm.apply(ev(EventType.CREATOR_JOINED, "ghost", "alice"))
    assert r.status is ApplyStatus.REJECTED
    assert r.game_id == "ghost"
    assert "unknown" in r.reason
    assert mm.counts() == counts()


def test_creator_joined_by_someone_else_is_rejected(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id
    r = mm.apply(ev(EventType.CREATOR_JOINED, gid, "mallory"))
    assert r.status is ApplyStatus.REJECTED
    assert mm.counts() == counts(pending=1)


def test_apply_many_applies_in_order(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id
    results = mm.apply_many([
        ev(EventType.CREATOR_JOINED, gid, "alice"),
        ev(EventType.CREATOR_JOINED, gid, "alice"),
        ev(EventType.GAME_STARTED, gid),
        ev(EventType.GAME_STARTED, "ghost"),
    ])
    assert [r.status for r in results] == [ApplyStatus.APPLIED, ApplyStatus.DUPLICATE,
                                           ApplyStatus.APPLIED, ApplyStatus.REJECTED]
    assert [r.state for r in results] == [GameState.CREATOR_JOINED, GameState.CREATOR_JOINED,
                                          GameState.IN_PROGRESS, None]
    assert mm.counts() == counts(active=1)
    assert mm.apply_many([]) == []


def test_reap_removes_old_games_and_returns_them(mm: game_data.Matchmaker) -> None:
    pending = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, game_id="p")
    mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, game_id="l")
    mm.apply(ev(EventType.CREATOR_JOINED, "l", "alice"))
    mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, game_id="a")
    mm.apply(ev(EventType.GAME_STARTED, "a"))
    assert mm.reap() == []  # nothing is old yet
    assert mm.counts() == counts(1, 1, 1)

    reaped = mm.reap(now=mm.now() + 10 * 3_600_000)
    assert sorted(g.id for g in reaped) == ["a", "l", "p"]
    assert next(g for g in reaped if g.id == "p") == pending
    assert {g.id: g.state for g in reaped} == {"p": GameState.CREATED,
                                               "l": GameState.CREATOR_JOINED,
                                               "a": GameState.IN_PROGRESS}
    assert mm.counts() == counts()
    assert mm.get_game("p") is None
    assert mm.reap(now=mm.now() + 10 * 3_600_000) == []


def test_reap_uses_each_sets_max_age(backend_url: str, gd_namespace: str) -> None:
    mm = game_data.connect(backend_url, namespace=gd_namespace,
                           max_age_ms={"pending": 1000, "lobby": 50_000, "active": 100_000})
    mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, game_id="p")
    mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, game_id="l")
    mm.apply(ev(EventType.CREATOR_JOINED, "l", "alice"))
    mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, game_id="a")
    mm.apply(ev(EventType.GAME_STARTED, "a"))
    now = mm.now()
    assert [g.id for g in mm.reap(now=now + 10_000)] == ["p"]
    assert mm.counts() == counts(0, 1, 1)
    assert [g.id for g in mm.reap(now=now + 60_000)] == ["l"]
    assert [g.id for g in mm.reap(now=now + 200_000)] == ["a"]
    assert mm.counts() == counts()


def test_events_for_a_reaped_game_are_rejected(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id
    mm.reap(now=mm.now() + 10 * 3_600_000)
    r = mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice"))
    assert r.status is ApplyStatus.REJECTED
    assert mm.counts() == counts()


def test_separate_namespaces_do_not_share_games(backend_url: str, gd_namespace: str) -> None:
    a = game_data.connect(backend_url, namespace=gd_namespace + "-a")
    b = game_data.connect(backend_url, namespace=gd_namespace + "-b")
    gid = a.create_game(creator_id="alice", capacity=2, server_id=SERVER).id
    assert b.get_game(gid) is None
    assert b.counts() == counts()


def test_named_memory_backend_is_shared() -> None:
    a = game_data.connect("memory://shared-test-instance", namespace="ns-shared")
    b = game_data.connect("memory://shared-test-instance", namespace="ns-shared")
    gid = a.create_game(creator_id="alice", capacity=2, server_id=SERVER).id
    assert b.get_game(gid) == a.get_game(gid)
    b.apply(ev(EventType.GAME_ENDED, gid))
    assert a.get_game(gid) is None
