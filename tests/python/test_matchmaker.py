"""The Matchmaker API of SPEC sections 2 and 5 on every backend."""

from __future__ import annotations

import json

import pytest

import game_data
from game_data import ApplyStatus, Event, EventType, GameState

SERVER = "gs-1"
MAX_HELD_JOINS = 16  # joins a full game keeps waiting for a seat (kMaxHeldJoins)
MAX_ABSENT_PLAYER_SEQS = 64  # seqs kept for players neither seated nor held (kMaxAbsentPlayerSeqs)
FAR_PAST_EVERY_MAX_AGE_MS = 10 * max(game_data.DEFAULT_MAX_AGE_MS.values())


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
    assert mm.max_age_ms == {**game_data.DEFAULT_MAX_AGE_MS, "lobby": 5000}


def test_default_max_ages_are_the_documented_ones() -> None:
    # README "Reaping": a minute in pending, ten minutes in the lobby, an hour active.
    assert game_data.DEFAULT_MAX_AGE_MS == {"pending": 60_000, "lobby": 600_000, "active": 3_600_000}
    assert game_data.connect("memory://").max_age_ms == game_data.DEFAULT_MAX_AGE_MS
    with pytest.raises(TypeError):
        game_data.DEFAULT_MAX_AGE_MS["pending"] = 1  # type: ignore[index]


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
    mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice"))  # late, but it seats her (next test)
    before = mm.get_game(gid)
    for late in (ev(EventType.CREATOR_JOINED, gid, "alice"), ev(EventType.ALL_PLAYERS_JOINED, gid),
                 ev(EventType.GAME_STARTED, gid)):
        assert mm.apply(late).status is ApplyStatus.DUPLICATE
    assert mm.get_game(gid) == before
    assert mm.counts() == counts(active=1)


# -- rosters converge to the publish order whatever the delivery order (README "Lifecycle") --


def test_a_creator_join_overtaken_by_the_start_seats_the_creator_once(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    assert mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=2)).status is ApplyStatus.APPLIED
    assert mm.apply(ev(EventType.GAME_STARTED, gid, seq=3)).status is ApplyStatus.APPLIED
    _, score = mm.set_entry(gid)
    assert live(mm, gid).creator_seen is False

    late = mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=1))

    assert (late.status, late.reason, late.state) == (ApplyStatus.APPLIED, "", GameState.IN_PROGRESS)
    game = live(mm, gid)
    assert (game.players, game.creator_seen, game.last_seq) == (["alice", "bob"], True, 3)
    assert mm.set_entry(gid) == ("active", score)  # no state change, no new score
    # Once seen, a replay without a seq after she left never seats her again.
    assert mm.apply(ev(EventType.PLAYER_LEFT, gid, "alice")).status is ApplyStatus.APPLIED
    replay = mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice"))
    assert (replay.status, replay.reason) == (ApplyStatus.DUPLICATE, "state already reached")
    assert live(mm, gid).players == ["bob"]


def test_a_creator_join_overtaken_by_the_start_and_by_the_creators_leave_frees_the_kept_seat(
    mm: game_data.Matchmaker,
) -> None:
    gid = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id
    # Published: alice joins (1) and leaves (2), bob (3) and carol (4) take the two seats, the
    # game starts (5). Delivered: 2, 5, 1, 3, 4.
    for event in (ev(EventType.PLAYER_LEFT, gid, "alice", seq=2), ev(EventType.GAME_STARTED, gid, seq=5),
                  ev(EventType.CREATOR_JOINED, gid, "alice", seq=1),
                  ev(EventType.PLAYER_JOINED, gid, "bob", seq=3),
                  ev(EventType.PLAYER_JOINED, gid, "carol", seq=4)):
        mm.apply(event)

    game = live(mm, gid)
    assert (game.players, game.held, game.creator_seen) == (["bob", "carol"], [], True)


def test_a_join_that_finds_the_game_full_is_held_until_the_leave_that_frees_its_seat(
    mm: game_data.Matchmaker,
) -> None:
    gid = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id
    mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=1))
    mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=2))
    # Published: bob leaves (3), carol joins (4); delivered the other way round.
    held = mm.apply(ev(EventType.PLAYER_JOINED, gid, "carol", seq=4))

    assert (held.status, held.reason) == (ApplyStatus.APPLIED, "held until a seat frees")
    game = live(mm, gid)
    assert (game.players, game.held, game.free_seats) == (["alice", "bob"], [("carol", 4)], 0)
    assert game.player_seqs == {"alice": 1, "bob": 2, "carol": 4} and game.last_seq == 4
    assert open_ids(mm) == []
    again = mm.apply(ev(EventType.PLAYER_JOINED, gid, "carol"))
    assert (again.status, again.reason) == (ApplyStatus.DUPLICATE, "player already held")

    left = mm.apply(ev(EventType.PLAYER_LEFT, gid, "bob", seq=3))

    assert (left.status, left.reason) == (ApplyStatus.APPLIED, "")
    game = live(mm, gid)
    assert (game.players, game.held, game.free_seats) == (["alice", "carol"], [], 0)
    assert open_ids(mm) == []


def test_a_held_player_who_leaves_is_no_longer_held(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id
    mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice"))
    mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob"))
    mm.apply(ev(EventType.PLAYER_JOINED, gid, "carol"))

    assert mm.apply(ev(EventType.PLAYER_LEFT, gid, "carol")).status is ApplyStatus.APPLIED

    game = live(mm, gid)
    assert (game.players, game.held) == (["alice", "bob"], [])
    mm.apply(ev(EventType.PLAYER_LEFT, gid, "bob"))
    assert live(mm, gid).players == ["alice"]  # nobody is waiting for bob's seat


def test_joins_before_the_creators_join_keep_the_creators_seat(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    for player, seq in (("bob", 2), ("carol", 3)):
        r = mm.apply(ev(EventType.PLAYER_JOINED, gid, player, seq=seq))
        assert (r.status, r.reason, r.state) == (ApplyStatus.APPLIED, "", GameState.CREATED)
    game = live(mm, gid)
    assert (game.players, game.free_seats, game.creator_seen) == (["bob", "carol"], 0, False)
    dave = mm.apply(ev(EventType.PLAYER_JOINED, gid, "dave", seq=4))
    assert (dave.status, dave.reason) == (ApplyStatus.APPLIED, "held until a seat frees")
    assert set_name(mm, gid) == "pending" and open_ids(mm) == []

    joined = mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=1))

    assert (joined.status, joined.state) == (ApplyStatus.APPLIED, GameState.CREATOR_JOINED)
    game = live(mm, gid)
    assert (game.players, game.held) == (["alice", "bob", "carol"], [("dave", 4)])
    assert set_name(mm, gid) == "lobby" and open_ids(mm) == []
    mm.apply(ev(EventType.PLAYER_LEFT, gid, "carol", seq=5))
    assert live(mm, gid).players == ["alice", "bob", "dave"]


def test_a_join_seated_early_is_held_again_when_an_older_join_arrives(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id
    mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=1))
    # Published: bob joins (2), leaves (3), carol joins (4), bob joins again (5) -- the game
    # never holds more than two. Delivered: 5 first, then 2, 3, 4.
    assert mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=5)).reason == ""
    assert mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=2)).reason == "seq already applied"
    assert mm.apply(ev(EventType.PLAYER_LEFT, gid, "bob", seq=3)).reason == "seq already applied"

    carol = mm.apply(ev(EventType.PLAYER_JOINED, gid, "carol", seq=4))

    assert (carol.status, carol.reason) == (ApplyStatus.APPLIED, "")  # her join is the older
    game = live(mm, gid)
    assert (game.players, game.held) == (["alice", "carol"], [("bob", 5)])


# -- seq (SPEC section 3): compared per player for roster events only ----------------------


def test_stale_roster_seq_of_the_same_player_is_a_duplicate_that_changes_nothing(
    mm: game_data.Matchmaker,
) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    assert mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=10)).status is ApplyStatus.APPLIED
    assert mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=20)).status is ApplyStatus.APPLIED
    before = live(mm, gid)
    entry = mm.set_entry(gid)
    next_ms(mm)  # an applied event would now show as a later updated_at

    for stale in (ev(EventType.PLAYER_JOINED, gid, "bob", seq=20),  # the same entry again
                  ev(EventType.PLAYER_LEFT, gid, "bob", seq=20),
                  ev(EventType.PLAYER_LEFT, gid, "bob", seq=19),
                  ev(EventType.PLAYER_LEFT, gid, "alice", seq=10),
                  ev(EventType.PLAYER_LEFT, gid, "alice", seq=3)):
        r = mm.apply(stale)
        assert (r.status, r.reason, r.state) == (ApplyStatus.DUPLICATE, "seq already applied",
                                                 GameState.CREATOR_JOINED), stale

    assert live(mm, gid) == before
    assert before.players == ["alice", "bob"]
    assert before.player_seqs == {"alice": 10, "bob": 20}
    assert before.last_seq == 20
    assert mm.set_entry(gid) == entry
    assert open_ids(mm) == [gid]


def test_an_older_seq_of_another_player_still_applies(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=4, server_id=SERVER).id
    assert mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=10)).status is ApplyStatus.APPLIED
    assert mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=30)).status is ApplyStatus.APPLIED

    # Stamped before bob's join but applied after it (another consumer, a claim after a crash).
    carol = mm.apply(ev(EventType.PLAYER_JOINED, gid, "carol", seq=20))
    dave = mm.apply(ev(EventType.PLAYER_JOINED, gid, "dave", seq=5))

    assert (carol.status, dave.status) == (ApplyStatus.APPLIED, ApplyStatus.APPLIED)
    game = live(mm, gid)
    assert game.players == ["alice", "dave", "carol", "bob"]  # the publish (seq) order
    assert game.player_seqs == {"alice": 10, "bob": 30, "carol": 20, "dave": 5}
    assert game.last_seq == 30  # the high-water mark never goes down
    assert open_ids(mm) == []  # full now


def test_a_stale_join_arriving_after_the_leave_does_not_reseat(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=1))

    # bob joined (seq 2) then left (seq 3), but the leave is applied first.
    left = mm.apply(ev(EventType.PLAYER_LEFT, gid, "bob", seq=3))
    assert (left.status, left.state) == (ApplyStatus.APPLIED, GameState.CREATOR_JOINED)
    assert live(mm, gid).players == ["alice"]
    assert live(mm, gid).player_seqs == {"alice": 1, "bob": 3}
    joined = mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=2))

    assert (joined.status, joined.reason) == (ApplyStatus.DUPLICATE, "seq already applied")
    game = live(mm, gid)
    assert game.players == ["alice"]
    assert game.free_seats == 2
    assert game.player_seqs == {"alice": 1, "bob": 3}
    # bob's next join, stamped after his leave, seats him again.
    assert mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=4)).status is ApplyStatus.APPLIED
    assert live(mm, gid).players == ["alice", "bob"]


def test_a_newer_roster_seq_is_applied_even_when_the_roster_already_agrees(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice"))
    mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=11))

    again = mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=12))
    absent = mm.apply(ev(EventType.PLAYER_LEFT, gid, "carol", seq=13))

    assert (again.status, absent.status) == (ApplyStatus.APPLIED, ApplyStatus.APPLIED)
    game = live(mm, gid)
    assert game.players == ["alice", "bob"]  # bob is seated once, carol was never seated
    assert game.player_seqs == {"bob": 12, "carol": 13}  # alice's creator_joined had no seq
    assert game.last_seq == 13
    # A carol join stamped before that leave must not seat her.
    assert mm.apply(ev(EventType.PLAYER_JOINED, gid, "carol", seq=12)).status is ApplyStatus.DUPLICATE
    # Without a seq, a roster no-op is still a duplicate.
    for noop, why in ((ev(EventType.PLAYER_JOINED, gid, "bob"), "player already in game"),
                      (ev(EventType.PLAYER_LEFT, gid, "carol"), "player not in game")):
        r = mm.apply(noop)
        assert (r.status, r.reason) == (ApplyStatus.DUPLICATE, why)
    assert live(mm, gid) == game


def test_a_join_refused_as_full_does_not_record_its_seq(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id
    mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=1))
    mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=2))
    waiting = [ev(EventType.PLAYER_JOINED, gid, f"h{i}", seq=100 + i) for i in range(MAX_HELD_JOINS)]
    assert {r.reason for r in mm.apply_many(waiting)} == {"held until a seat frees"}
    before = live(mm, gid)
    entry = mm.set_entry(gid)

    full = mm.apply(ev(EventType.PLAYER_JOINED, gid, "carol", seq=50))

    assert (full.status, full.reason) == (ApplyStatus.REJECTED, "game is full")
    assert live(mm, gid) == before
    assert mm.set_entry(gid) == entry
    assert len(before.held) == MAX_HELD_JOINS
    assert "carol" not in before.player_seqs and before.last_seq == 100 + MAX_HELD_JOINS - 1
    # Once a seat is free the same join is applied: its seq was never taken for applied. It
    # is older than every held join, so it takes the seat and the oldest of them waits again.
    assert mm.apply(ev(EventType.PLAYER_LEFT, gid, "bob", seq=60)).status is ApplyStatus.APPLIED
    assert live(mm, gid).players == ["alice", "h0"]
    assert mm.apply(ev(EventType.PLAYER_JOINED, gid, "carol", seq=50)).status is ApplyStatus.APPLIED
    game = live(mm, gid)
    assert game.players == ["alice", "carol"]
    assert [p for p, _ in game.held] == [f"h{i}" for i in range(MAX_HELD_JOINS)]
    assert game.last_seq == 100 + MAX_HELD_JOINS - 1


def test_seqs_of_players_who_are_not_seated_are_bounded_and_older_ones_refused(
    mm: game_data.Matchmaker,
) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=1))
    ghosts = 200
    results = mm.apply_many([ev(EventType.PLAYER_LEFT, gid, f"ghost{i}", seq=10 + i) for i in range(ghosts)])
    assert {r.status for r in results} == {ApplyStatus.APPLIED}

    game = live(mm, gid)
    assert game.seq_floor == 10 + ghosts - MAX_ABSENT_PLAYER_SEQS - 1
    assert sorted(game.player_seqs) == sorted(["alice"] + [f"ghost{i}" for i in range(ghosts - MAX_ABSENT_PLAYER_SEQS, ghosts)])
    # A forgotten player's stale join is refused, never seated; a remembered one is still a
    # duplicate; a new one lands.
    stale = mm.apply(ev(EventType.PLAYER_JOINED, gid, "ghost3", seq=12))
    assert (stale.status, stale.reason) == (ApplyStatus.REJECTED, "seq too old")
    remembered = mm.apply(ev(EventType.PLAYER_JOINED, gid, f"ghost{ghosts - 1}", seq=10 + ghosts - 1))
    assert (remembered.status, remembered.reason) == (ApplyStatus.DUPLICATE, "seq already applied")
    assert mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=10_000)).status is ApplyStatus.APPLIED
    assert live(mm, gid).players == ["alice", "bob"]
    assert game.to_dict()["seq_floor"] == game.seq_floor


def test_a_lifecycle_event_with_a_lower_seq_still_advances(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id
    mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=10))
    mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=30))

    full = mm.apply(ev(EventType.ALL_PLAYERS_JOINED, gid, seq=5))
    assert (full.status, full.state) == (ApplyStatus.APPLIED, GameState.ALL_PLAYERS_JOINED)
    started = mm.apply(ev(EventType.GAME_STARTED, gid, seq=0))
    assert (started.status, started.state) == (ApplyStatus.APPLIED, GameState.IN_PROGRESS)
    assert set_name(mm, gid) == "active"
    game = live(mm, gid)
    assert game.last_seq == 30
    assert game.player_seqs == {"alice": 10, "bob": 30}  # lifecycle seqs are not a player's

    # A state already reached stays a duplicate, however new its seq.
    late = mm.apply(ev(EventType.ALL_PLAYERS_JOINED, gid, seq=99))
    assert (late.status, late.reason) == (ApplyStatus.DUPLICATE, "state already reached")
    assert live(mm, gid) == game
    ended = mm.apply(ev(EventType.GAME_ENDED, gid, seq=1))
    assert (ended.status, ended.state) == (ApplyStatus.APPLIED, GameState.ENDED)
    assert mm.get_game(gid) is None


def test_creator_joined_does_not_seat_a_creator_whose_newer_leave_was_applied(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    # alice connected (seq 5) and left (seq 6); the leave is applied first, in CREATED.
    assert mm.apply(ev(EventType.PLAYER_LEFT, gid, "alice", seq=6)).status is ApplyStatus.APPLIED
    assert live(mm, gid).state is GameState.CREATED

    r = mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=5))

    assert (r.status, r.state) == (ApplyStatus.APPLIED, GameState.CREATOR_JOINED)
    game = live(mm, gid)
    assert game.players == []  # the state advances; the newer leave keeps her unseated
    assert game.player_seqs == {"alice": 6}
    assert set_name(mm, gid) == "lobby"


def test_creator_joined_with_a_seq_records_it_for_the_creator(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    assert mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=7)).status is ApplyStatus.APPLIED
    assert live(mm, gid).player_seqs == {"alice": 7}

    stale_leave = mm.apply(ev(EventType.PLAYER_LEFT, gid, "alice", seq=7))
    assert (stale_leave.status, stale_leave.reason) == (ApplyStatus.DUPLICATE, "seq already applied")
    assert live(mm, gid).players == ["alice"]
    assert mm.apply(ev(EventType.PLAYER_LEFT, gid, "alice", seq=8)).status is ApplyStatus.APPLIED
    assert live(mm, gid).players == []


def test_a_redelivered_heartbeat_is_applied_and_only_refreshes_the_score(mm: game_data.Matchmaker) -> None:
    gid = mm.create_game(creator_id="alice", capacity=3, server_id=SERVER).id
    mm.apply(ev(EventType.CREATOR_JOINED, gid, "alice", seq=10))
    mm.apply(ev(EventType.PLAYER_JOINED, gid, "bob", seq=20))
    beat = ev(EventType.HEARTBEAT, gid, seq=40)
    assert mm.apply(beat).status is ApplyStatus.APPLIED
    first = live(mm, gid)
    _, first_score = mm.set_entry(gid)

    for again in (beat, ev(EventType.HEARTBEAT, gid, seq=1)):  # redelivered, then an old one
        at = next_ms(mm)
        r = mm.apply(again)
        assert (r.status, r.state) == (ApplyStatus.APPLIED, GameState.CREATOR_JOINED)
        game = live(mm, gid)
        assert (game.state, game.players, game.player_seqs, game.last_seq) == (
            first.state, first.players, first.player_seqs, first.last_seq)
        assert game.players == ["alice", "bob"] and game.last_seq == 40
        entry = mm.set_entry(gid)
        assert entry[0] == "lobby" and entry[1] >= at > first_score
    assert mm.counts() == counts(lobby=1)
    assert open_ids(mm) == [gid]


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
    assert (full.status, full.reason) == (ApplyStatus.APPLIED, "held until a seat frees")
    assert mm.get_open_games() == []
    mm.apply(ev(EventType.PLAYER_LEFT, gid, "bob"))  # dave takes the seat
    assert mm.get_open_games() == []
    assert live(mm, gid).players == ["alice", "carol", "dave"]
    mm.apply(ev(EventType.PLAYER_LEFT, gid, "carol"))
    (open_game,) = mm.get_open_games()
    assert open_game.players == ["alice", "dave"]
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
    # Ids sort opposite to the creation order, and the creators join in yet another order, so
    # neither id order nor join order can pass for the order of creation.
    ids = ["g-c", "g-b", "g-a"]
    for gid in ids:
        next_ms(mm)
        mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, game_id=gid)
    for gid in ("g-b", "g-a", "g-c"):
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
    assert open_ids(mm) == ["first", "second"], "a heartbeat never reorders the open games"


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

    reaped = mm.reap(now=mm.now() + FAR_PAST_EVERY_MAX_AGE_MS)
    assert sorted(g.id for g in reaped) == ["a", "l", "p"]
    assert next(g for g in reaped if g.id == "p") == pending
    assert {g.id: g.state for g in reaped} == {"p": GameState.CREATED,
                                               "l": GameState.CREATOR_JOINED,
                                               "a": GameState.IN_PROGRESS}
    assert mm.counts() == counts()
    assert mm.get_game("p") is None
    assert mm.reap(now=mm.now() + FAR_PAST_EVERY_MAX_AGE_MS) == []


def test_reap_appends_each_reaped_game_to_the_reaped_stream(mm: game_data.Matchmaker) -> None:
    mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, game_id="p")
    mm.create_game(creator_id="alice", capacity=2, server_id="gs-2", game_id="l")
    mm.apply(ev(EventType.CREATOR_JOINED, "l", "alice", server_id="gs-2"))
    scores = {gid: mm.set_entry(gid)[1] for gid in ("p", "l")}
    now = mm.now() + 10 * 3_600_000

    reaped = {g.id: g for g in mm.reap(now=now)}

    entries = mm.stream_entries(f"{mm.namespace}:{{0}}:reaped")
    assert sorted(fields["game_id"] for _, fields in entries) == ["l", "p"]
    for _, fields in entries:
        gid = fields["game_id"]
        game = reaped[gid]
        assert {k: v for k, v in fields.items() if k != "game"} == {
            "game_id": gid, "server_id": game.server_id, "state": game.state.value,
            "set": {"p": "pending", "l": "lobby"}[gid], "score": str(scores[gid]), "reaped_at": str(now)}
        assert game_data.Game.from_dict(json.loads(fields["game"])) == game
    assert mm.reap(now=now) == []
    assert len(mm.stream_entries(f"{mm.namespace}:{{0}}:reaped")) == 2


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
    mm.reap(now=mm.now() + FAR_PAST_EVERY_MAX_AGE_MS)
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
