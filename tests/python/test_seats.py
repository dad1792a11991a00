"""Seats, quick join, filtered and paged open games (SPEC section 7) on every backend.

Expiry is tested with short real TTLs and wait_for: nothing but the clock frees a seat. Every
refusal is checked to leave the game, the set counts and the game's set entry as they were.
Races between processes are in test_seat_races.py, the reaped feed in test_reaped_feed.py.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

import game_data
from game_data import ApplyStatus, Event, EventType, GameState
from game_data.testing import RedisServer, wait_for

SERVER = "gs-1"
FILTER_KEYS = ("mode", "region", "ranked", "level")
MAX_TTL_MS = 10 * 60 * 1000  # reserve_seat / quick_join accept 1 ms .. 10 min
MAX_OPEN_LIMIT = 10_000
MAX_CAPACITY = 1024
LONG_TTL_MS = 60_000  # outlives any test: only the short TTLs below are meant to expire
# Long enough for the few calls a test makes while such a reservation must still be live, on a
# loaded machine; short enough to wait for its expiry.
SHORT_TTL_MS = 500


@pytest.fixture
def mm(backend_url: str, gd_namespace: str) -> game_data.Matchmaker:
    """A matchmaker that declares the filter keys these tests use."""
    return game_data.connect(backend_url, namespace=gd_namespace, filter_keys=FILTER_KEYS)


def ev(type_: EventType, game_id: str, player_id: str | None = None, *, seq: int | None = None) -> Event:
    return Event(type=type_, game_id=game_id, server_id=SERVER, player_id=player_id, seq=seq)


def next_ms(mm: game_data.Matchmaker) -> int:
    """Wait for the matchmaker's clock to tick, so the next score is strictly later."""
    start = mm.now()
    while (now := mm.now()) <= start:
        pass
    return now


def lobby_game(mm: game_data.Matchmaker, capacity: int, metadata: dict | None = None,
               players: tuple[str, ...] = (), game_id: str | None = None) -> game_data.Game:
    """A game in CREATOR_JOINED (open while seats are free) with `players` joined after alice.
    Each lobby game gets its own, later open score (its created_at)."""
    next_ms(mm)
    game = mm.create_game(creator_id="alice", capacity=capacity, server_id=SERVER,
                          metadata=metadata, game_id=game_id)
    assert mm.apply(ev(EventType.CREATOR_JOINED, game.id, "alice")).status is ApplyStatus.APPLIED
    for player in players:
        assert mm.apply(ev(EventType.PLAYER_JOINED, game.id, player)).status is ApplyStatus.APPLIED
    return live(mm, game.id)


def live(mm: game_data.Matchmaker, game_id: str) -> game_data.Game:
    game = mm.get_game(game_id)
    assert game is not None, f"game {game_id} is gone"
    return game


def snapshot(mm: game_data.Matchmaker, game_id: str) -> tuple:
    """Everything a refused call must leave as it was."""
    return mm.get_game(game_id), mm.counts(), mm.set_entry(game_id)


def ids(games: list[game_data.Game]) -> list[str]:
    return [g.id for g in games]


def open_ids(mm: game_data.Matchmaker, **query) -> list[str]:
    return ids(mm.get_open_games(**query))


def reason_of(call) -> str:
    with pytest.raises(game_data.SeatUnavailableError) as info:
        call()
    return info.value.reason


# ---- reservations -------------------------------------------------------------------------


def test_a_reservation_takes_a_seat_and_is_listed_on_the_game(mm):
    game = lobby_game(mm, capacity=3)
    before = mm.now()
    r = mm.reserve_seat(game.id, "bob", ttl_ms=LONG_TTL_MS)
    after = mm.now()

    assert isinstance(r, game_data.Reservation)
    assert (r.game_id, r.player_id) == (game.id, "bob")
    assert before + LONG_TTL_MS <= r.expires_at <= after + LONG_TTL_MS
    stored = live(mm, game.id)
    assert stored.reservations == {"bob": r.expires_at}
    assert stored.free_seats == 1
    assert stored.players == ["alice"]
    assert stored.state is GameState.CREATOR_JOINED


def test_a_reservation_expires_with_no_janitor_and_its_seat_is_free_again(mm):
    game = lobby_game(mm, capacity=2)
    r = mm.reserve_seat(game.id, "bob", ttl_ms=SHORT_TTL_MS)
    assert live(mm, game.id).free_seats == 0
    assert reason_of(lambda: mm.reserve_seat(game.id, "carol")) == "full"

    # Nothing runs in between: only the clock passes expires_at.
    wait_for(lambda: live(mm, game.id).free_seats == 1, timeout=5, what="the reservation to expire")
    assert mm.now() >= r.expires_at
    assert live(mm, game.id).reservations == {}
    assert mm.reserve_seat(game.id, "carol", ttl_ms=LONG_TTL_MS).player_id == "carol"


def test_a_game_whose_free_seats_are_all_reserved_is_not_served_until_they_expire(mm):
    game = lobby_game(mm, capacity=3, metadata={"mode": "duel"})
    mm.reserve_seat(game.id, "bob", ttl_ms=SHORT_TTL_MS)
    mm.reserve_seat(game.id, "carol", ttl_ms=SHORT_TTL_MS)

    assert open_ids(mm) == []
    assert open_ids(mm, filters={"mode": "duel"}) == []
    assert mm.open_games_page().games == []
    assert mm.quick_join("dave", ttl_ms=LONG_TTL_MS) is None
    entry = mm.set_entry(game.id)

    wait_for(lambda: open_ids(mm) == [game.id], timeout=5, what="the reserved seats to come back")
    assert open_ids(mm, filters={"mode": "duel"}, min_free_seats=2) == [game.id]
    assert mm.set_entry(game.id) == entry, "expiry is no write: the game keeps its lobby score"
    assert mm.quick_join("dave", ttl_ms=LONG_TTL_MS).game_id == game.id


def test_a_fully_reserved_game_comes_back_at_its_place_when_a_reservation_lapses(mm):
    duel = {"mode": "duel"}
    old, mid, new = (lobby_game(mm, capacity=c, metadata=duel).id for c in (2, 3, 2))
    mm.reserve_seat(mid, "bob", ttl_ms=LONG_TTL_MS)
    mm.reserve_seat(mid, "carol", ttl_ms=SHORT_TTL_MS)
    assert open_ids(mm, filters=duel) == [old, new]
    assert mm.quick_join("dave", filters=duel, ttl_ms=LONG_TTL_MS).game_id == old
    entry, counts = mm.set_entry(mid), mm.counts()

    # Nothing runs in between: only the clock passes carol's expires_at.
    wait_for(lambda: open_ids(mm) == [mid, new], timeout=5, what="carol's seat to come back")
    assert open_ids(mm, filters=duel) == [mid, new]
    assert walk(mm, 1, filters=duel)[0] == [mid, new]
    assert (mm.set_entry(mid), mm.counts()) == (entry, counts), "expiry writes nothing"
    assert mm.quick_join("erin", filters=duel, ttl_ms=LONG_TTL_MS).game_id == mid, "oldest first"
    assert set(live(mm, mid).reservations) == {"bob", "erin"}
    assert mm.quick_join("finn", filters=duel, ttl_ms=LONG_TTL_MS).game_id == new
    assert mm.quick_join("gus", filters=duel, ttl_ms=LONG_TTL_MS) is None


def test_a_refused_reservation_of_a_fully_reserved_game_changes_nothing(mm):
    game = lobby_game(mm, capacity=2, metadata={"mode": "duel"})
    mm.reserve_seat(game.id, "bob", ttl_ms=LONG_TTL_MS)
    before = snapshot(mm, game.id)

    assert reason_of(lambda: mm.reserve_seat(game.id, "carol", ttl_ms=LONG_TTL_MS)) == "full"
    assert mm.quick_join("carol", filters={"mode": "duel"}, ttl_ms=LONG_TTL_MS) is None
    assert mm.cancel_reservation(game.id, "carol") is False

    assert snapshot(mm, game.id) == before
    assert open_ids(mm) == []


def test_reserving_again_refreshes_the_reservation_and_takes_no_second_seat(mm):
    game = lobby_game(mm, capacity=3)
    first = mm.reserve_seat(game.id, "bob", ttl_ms=1_000)
    next_ms(mm)
    second = mm.reserve_seat(game.id, "bob", ttl_ms=LONG_TTL_MS)

    assert second.expires_at > first.expires_at
    stored = live(mm, game.id)
    assert stored.reservations == {"bob": second.expires_at}
    assert stored.free_seats == 1


def test_reserving_again_for_the_last_seat_is_a_refresh_not_a_refusal(mm):
    game = lobby_game(mm, capacity=2)
    mm.reserve_seat(game.id, "bob", ttl_ms=1_000)
    assert live(mm, game.id).free_seats == 0
    refreshed = mm.reserve_seat(game.id, "bob", ttl_ms=LONG_TTL_MS)
    assert live(mm, game.id).reservations == {"bob": refreshed.expires_at}


def test_game_reservations_lists_only_the_live_ones(mm):
    game = lobby_game(mm, capacity=4)
    short = mm.reserve_seat(game.id, "bob", ttl_ms=SHORT_TTL_MS)
    long = mm.reserve_seat(game.id, "carol", ttl_ms=LONG_TTL_MS)
    assert live(mm, game.id).reservations == {"bob": short.expires_at, "carol": long.expires_at}

    wait_for(lambda: "bob" not in live(mm, game.id).reservations, timeout=5, what="bob's to expire")
    stored = live(mm, game.id)
    assert stored.reservations == {"carol": long.expires_at}
    assert stored.free_seats == 2
    assert [g.reservations for g in mm.get_open_games()] == [{"carol": long.expires_at}]


def test_cancelling_frees_the_seat_once(mm):
    game = lobby_game(mm, capacity=2)
    mm.reserve_seat(game.id, "bob", ttl_ms=LONG_TTL_MS)

    assert mm.cancel_reservation(game.id, "bob") is True
    assert mm.cancel_reservation(game.id, "bob") is False
    stored = live(mm, game.id)
    assert stored.reservations == {}
    assert stored.free_seats == 1
    assert open_ids(mm) == [game.id]


def test_cancelling_what_is_not_held_is_false_and_changes_nothing(mm):
    game = lobby_game(mm, capacity=3)
    mm.reserve_seat(game.id, "bob", ttl_ms=SHORT_TTL_MS)
    wait_for(lambda: live(mm, game.id).reservations == {}, timeout=5, what="bob's to expire")
    before = snapshot(mm, game.id)

    assert mm.cancel_reservation(game.id, "bob") is False, "an expired reservation is not held"
    assert mm.cancel_reservation(game.id, "zed") is False
    assert mm.cancel_reservation(game.id, "alice") is False, "a seated player holds no reservation"
    assert mm.cancel_reservation("no-such-game", "bob") is False
    assert snapshot(mm, game.id) == before


@pytest.mark.parametrize("state", [GameState.CREATED, GameState.ALL_PLAYERS_JOINED, GameState.IN_PROGRESS])
def test_reserving_in_a_game_that_is_not_in_creator_joined_is_refused_not_open(mm, state):
    game = mm.create_game(creator_id="alice", capacity=4, server_id=SERVER)
    step = {GameState.CREATED: None, GameState.ALL_PLAYERS_JOINED: EventType.ALL_PLAYERS_JOINED,
            GameState.IN_PROGRESS: EventType.GAME_STARTED}[state]
    if step is not None:
        mm.apply(ev(EventType.CREATOR_JOINED, game.id, "alice"))
        mm.apply(ev(step, game.id))
    assert live(mm, game.id).state is state
    before = snapshot(mm, game.id)

    assert reason_of(lambda: mm.reserve_seat(game.id, "bob")) == "not open"
    assert snapshot(mm, game.id) == before


def test_reserving_in_a_full_game_is_refused_full_and_changes_nothing(mm):
    game = lobby_game(mm, capacity=3, players=("bob",))
    mm.reserve_seat(game.id, "carol", ttl_ms=LONG_TTL_MS)
    before = snapshot(mm, game.id)

    assert reason_of(lambda: mm.reserve_seat(game.id, "dave")) == "full"
    assert snapshot(mm, game.id) == before
    full = lobby_game(mm, capacity=2, players=("erin",))
    before = snapshot(mm, full.id)
    assert reason_of(lambda: mm.reserve_seat(full.id, "dave")) == "full"
    assert snapshot(mm, full.id) == before


@pytest.mark.parametrize("player", ["alice", "bob"], ids=["creator", "joined-player"])
def test_reserving_for_a_player_on_the_roster_is_refused_already_joined(mm, player):
    game = lobby_game(mm, capacity=4, players=("bob",))
    before = snapshot(mm, game.id)

    assert reason_of(lambda: mm.reserve_seat(game.id, player)) == "already joined"
    assert snapshot(mm, game.id) == before


def test_reserving_in_an_unknown_or_ended_game_raises_game_not_found(mm):
    game = lobby_game(mm, capacity=2)
    mm.apply(ev(EventType.GAME_ENDED, game.id))
    with pytest.raises(game_data.GameNotFoundError):
        mm.reserve_seat("no-such-game", "bob")
    with pytest.raises(game_data.GameNotFoundError):
        mm.reserve_seat(game.id, "bob")
    assert mm.counts() == {"pending": 0, "lobby": 0, "active": 0}


@pytest.mark.parametrize("ttl_ms", [0, -1, MAX_TTL_MS + 1, True, 1.5, "100"])
def test_a_ttl_outside_one_ms_to_ten_minutes_is_invalid(mm, ttl_ms):
    game = lobby_game(mm, capacity=2)
    before = snapshot(mm, game.id)
    with pytest.raises(game_data.InvalidArgumentError):
        mm.reserve_seat(game.id, "bob", ttl_ms=ttl_ms)
    with pytest.raises(game_data.InvalidArgumentError):
        mm.quick_join("bob", ttl_ms=ttl_ms)
    assert snapshot(mm, game.id) == before


def test_the_ttl_bounds_themselves_are_accepted(mm):
    game = lobby_game(mm, capacity=3)
    assert mm.reserve_seat(game.id, "bob", ttl_ms=MAX_TTL_MS).expires_at >= mm.now() + MAX_TTL_MS - 1_000
    one_ms = mm.reserve_seat(game.id, "carol", ttl_ms=1)
    wait_for(lambda: mm.now() >= one_ms.expires_at, timeout=5, what="one ms")
    assert set(live(mm, game.id).reservations) == {"bob"}


@pytest.mark.parametrize("game_id, player_id", [("bad id", "bob"), ("g", "bad id"), ("g", ""), ("g" * 129, "bob")])
def test_bad_ids_are_invalid(mm, game_id, player_id):
    with pytest.raises(game_data.InvalidArgumentError):
        mm.reserve_seat(game_id, player_id)
    with pytest.raises(game_data.InvalidArgumentError):
        mm.cancel_reservation(game_id, player_id)


def test_seat_unavailable_error_is_a_game_data_error_with_a_reason(mm):
    game = lobby_game(mm, capacity=2, players=("bob",))
    with pytest.raises(game_data.GameDataError) as info:
        mm.reserve_seat(game.id, "carol")
    err = info.value
    assert type(err) is game_data.SeatUnavailableError
    assert err.reason == "full"
    assert game.id in str(err) and "carol" in str(err)
    assert not isinstance(err, (ValueError, KeyError)), "not a bad argument, not a missing game"


# ---- joins and reservations ---------------------------------------------------------------


def test_a_join_consumes_the_players_reservation(mm):
    game = lobby_game(mm, capacity=3)
    mm.reserve_seat(game.id, "bob", ttl_ms=LONG_TTL_MS)

    result = mm.apply(ev(EventType.PLAYER_JOINED, game.id, "bob"))

    assert result.status is ApplyStatus.APPLIED and result.reason == ""
    stored = live(mm, game.id)
    assert stored.players == ["alice", "bob"]
    assert stored.reservations == {}
    assert stored.free_seats == 1
    assert mm.cancel_reservation(game.id, "bob") is False


def test_an_unreserved_join_kept_out_only_by_reservations_is_rejected_and_changes_nothing(mm):
    game = lobby_game(mm, capacity=3)
    mm.reserve_seat(game.id, "bob", ttl_ms=LONG_TTL_MS)
    mm.reserve_seat(game.id, "carol", ttl_ms=SHORT_TTL_MS)
    before = snapshot(mm, game.id)

    result = mm.apply(ev(EventType.PLAYER_JOINED, game.id, "zed", seq=1))

    assert (result.status, result.reason) == (ApplyStatus.REJECTED, "game is full")
    assert snapshot(mm, game.id) == before
    # Once carol's reservation lapses the seat is free again, and the same join lands.
    wait_for(lambda: live(mm, game.id).free_seats == 1, timeout=5, what="carol's to expire")
    assert mm.apply(ev(EventType.PLAYER_JOINED, game.id, "zed", seq=1)).status is ApplyStatus.APPLIED
    assert live(mm, game.id).players == ["alice", "zed"]


def test_a_reserved_join_lands_even_when_every_other_seat_is_reserved(mm):
    game = lobby_game(mm, capacity=3)
    mm.reserve_seat(game.id, "bob", ttl_ms=LONG_TTL_MS)
    mm.reserve_seat(game.id, "carol", ttl_ms=LONG_TTL_MS)

    assert mm.apply(ev(EventType.PLAYER_JOINED, game.id, "carol")).status is ApplyStatus.APPLIED
    assert mm.apply(ev(EventType.PLAYER_JOINED, game.id, "bob")).status is ApplyStatus.APPLIED
    stored = live(mm, game.id)
    assert sorted(stored.players) == ["alice", "bob", "carol"]
    assert stored.reservations == {} and stored.free_seats == 0
    assert open_ids(mm) == []


def test_a_join_kept_out_by_the_roster_is_held_not_rejected(mm):
    # README "Rosters do not depend on delivery order": a full roster holds the join (it may
    # have overtaken a leave); only reservations make an unreserved join "game is full".
    game = lobby_game(mm, capacity=3)
    assert mm.apply(ev(EventType.PLAYER_JOINED, game.id, "bob", seq=9)).status is ApplyStatus.APPLIED
    mm.reserve_seat(game.id, "carol", ttl_ms=LONG_TTL_MS)
    assert mm.apply(ev(EventType.PLAYER_JOINED, game.id, "carol", seq=10)).status is ApplyStatus.APPLIED

    held = mm.apply(ev(EventType.PLAYER_JOINED, game.id, "dave", seq=11))

    assert (held.status, held.reason) == (ApplyStatus.APPLIED, "held until a seat frees")
    stored = live(mm, game.id)
    assert stored.players == ["alice", "bob", "carol"]
    assert stored.held == [("dave", 11)]
    assert mm.apply(ev(EventType.PLAYER_LEFT, game.id, "bob", seq=12)).status is ApplyStatus.APPLIED
    assert live(mm, game.id).players == ["alice", "carol", "dave"]


def test_a_leave_frees_a_seat_for_a_reservation(mm):
    game = lobby_game(mm, capacity=2, players=("bob",))
    assert reason_of(lambda: mm.reserve_seat(game.id, "carol")) == "full"
    mm.apply(ev(EventType.PLAYER_LEFT, game.id, "bob"))
    assert mm.reserve_seat(game.id, "carol", ttl_ms=LONG_TTL_MS).game_id == game.id
    assert live(mm, game.id).free_seats == 0


def test_reservations_never_over_fill_a_game_step_by_step(mm):
    game = lobby_game(mm, capacity=4)
    granted = []
    for player in ("p1", "p2", "p3", "p4", "p5"):
        try:
            granted.append(mm.reserve_seat(game.id, player, ttl_ms=LONG_TTL_MS).player_id)
        except game_data.SeatUnavailableError as err:
            assert err.reason == "full"
    stored = live(mm, game.id)
    assert granted == ["p1", "p2", "p3"]
    assert len(stored.players) + len(stored.reservations) == stored.capacity


# ---- quick join ---------------------------------------------------------------------------


def test_quick_join_reserves_a_seat_in_the_oldest_open_game(mm):
    oldest = lobby_game(mm, capacity=3)
    newer = lobby_game(mm, capacity=3)

    first = mm.quick_join("p1", ttl_ms=LONG_TTL_MS)
    second = mm.quick_join("p2", ttl_ms=LONG_TTL_MS)
    third = mm.quick_join("p3", ttl_ms=LONG_TTL_MS)

    assert [first.game_id, second.game_id, third.game_id] == [oldest.id, oldest.id, newer.id]
    assert isinstance(first, game_data.Reservation) and first.player_id == "p1"
    assert live(mm, oldest.id).reservations == {"p1": first.expires_at, "p2": second.expires_at}
    assert live(mm, newer.id).reservations == {"p3": third.expires_at}


def test_quick_join_takes_the_oldest_game_that_matches_the_filters(mm):
    lobby_game(mm, capacity=2, metadata={"mode": "duel"}, players=("x",))  # full
    lobby_game(mm, capacity=4, metadata={"mode": "ffa"})
    duel_eu = lobby_game(mm, capacity=2, metadata={"mode": "duel", "region": "eu"})
    duel_us = lobby_game(mm, capacity=2, metadata={"mode": "duel", "region": "us"})

    assert mm.quick_join("p1", filters={"mode": "duel"}).game_id == duel_eu.id
    assert mm.quick_join("p2", filters={"mode": "duel"}).game_id == duel_us.id
    assert mm.quick_join("p3", filters={"mode": "duel"}) is None
    assert mm.quick_join("p4", filters={"mode": "duel", "region": "us"}) is None


def test_quick_join_returns_none_when_nothing_matches_and_changes_nothing(mm):
    assert mm.quick_join("p1") is None, "no games at all"
    game = lobby_game(mm, capacity=3, metadata={"mode": "ffa"})
    pending = mm.create_game(creator_id="zoe", capacity=3, server_id=SERVER, metadata={"mode": "duel"})
    before = snapshot(mm, game.id), snapshot(mm, pending.id)

    assert mm.quick_join("p1", filters={"mode": "duel"}) is None
    assert mm.quick_join("p1", filters={"mode": "ffa", "region": "eu"}) is None
    assert (snapshot(mm, game.id), snapshot(mm, pending.id)) == before
    assert mm.stats()['game_data_reservations_total{outcome="no_game"}'] == 3


def test_quick_join_skips_games_the_player_is_already_in(mm):
    with_bob = lobby_game(mm, capacity=4, players=("bob",))
    other = lobby_game(mm, capacity=4)
    assert mm.quick_join("bob", ttl_ms=LONG_TTL_MS).game_id == other.id
    assert live(mm, with_bob.id).reservations == {}


def test_quick_join_ignores_expired_reservations(mm):
    game = lobby_game(mm, capacity=2)
    mm.reserve_seat(game.id, "bob", ttl_ms=SHORT_TTL_MS)
    assert mm.quick_join("carol") is None
    wait_for(lambda: mm.quick_join("carol", ttl_ms=LONG_TTL_MS) is not None, timeout=5,
             what="bob's reservation to expire")
    assert set(live(mm, game.id).reservations) == {"carol"}


# ---- filters ------------------------------------------------------------------------------


def test_filter_keys_are_kept_on_the_handle(mm):
    assert list(mm.filter_keys) == sorted(FILTER_KEYS)  # the namespace keeps them sorted
    assert list(game_data.connect("memory://").filter_keys) == []


@pytest.mark.parametrize("query", ["get_open_games", "open_games_page", "quick_join"])
def test_filtering_on_an_undeclared_key_is_invalid(mm, query):
    lobby_game(mm, capacity=2, metadata={"colour": "red"})
    call = {"get_open_games": lambda f: mm.get_open_games(filters=f),
            "open_games_page": lambda f: mm.open_games_page(filters=f),
            "quick_join": lambda f: mm.quick_join("p1", filters=f)}[query]
    with pytest.raises(game_data.InvalidArgumentError, match="colour") as info:
        call({"colour": "red"})
    assert isinstance(info.value, ValueError)
    with pytest.raises(game_data.InvalidArgumentError):
        call({"mode": "duel", "colour": "red"})
    bare = game_data.connect("memory://")
    with pytest.raises(game_data.InvalidArgumentError):
        bare.get_open_games(filters={"mode": "duel"})


@pytest.mark.parametrize("value", [1.5, None, ["duel"], {"a": 1}, 2**64], ids=repr)
def test_filter_values_must_be_strings_integers_or_booleans(mm, value):
    game = lobby_game(mm, capacity=2, metadata={"mode": "duel"})
    before = snapshot(mm, game.id)
    with pytest.raises(game_data.InvalidArgumentError):
        mm.get_open_games(filters={"mode": value})
    with pytest.raises(game_data.InvalidArgumentError):
        mm.quick_join("p1", filters={"mode": value})
    assert snapshot(mm, game.id) == before


@pytest.mark.parametrize("filters", ["mode=duel", [("mode", "duel")], {1: "duel"}], ids=repr)
def test_filters_must_be_a_dict_of_string_keys(mm, filters):
    with pytest.raises(game_data.InvalidArgumentError):
        mm.get_open_games(filters=filters)


def test_filters_match_strings_integers_and_booleans_and_a_boolean_is_not_an_integer(mm):
    true = lobby_game(mm, capacity=2, metadata={"ranked": True})
    one = lobby_game(mm, capacity=2, metadata={"ranked": 1})
    text = lobby_game(mm, capacity=2, metadata={"ranked": "1"})
    false = lobby_game(mm, capacity=2, metadata={"ranked": False})
    zero = lobby_game(mm, capacity=2, metadata={"ranked": 0})

    assert open_ids(mm, filters={"ranked": True}) == [true.id]
    assert open_ids(mm, filters={"ranked": 1}) == [one.id]
    assert open_ids(mm, filters={"ranked": "1"}) == [text.id]
    assert open_ids(mm, filters={"ranked": False}) == [false.id]
    assert open_ids(mm, filters={"ranked": 0}) == [zero.id]
    assert open_ids(mm, filters={"ranked": "true"}) == []
    assert mm.quick_join("p1", filters={"ranked": True}).game_id == true.id
    assert mm.quick_join("p2", filters={"ranked": 0}).game_id == zero.id


def test_every_filter_must_match(mm):
    eu_duel = lobby_game(mm, capacity=2, metadata={"mode": "duel", "region": "eu", "level": 3})
    us_duel = lobby_game(mm, capacity=2, metadata={"mode": "duel", "region": "us", "level": 3})
    lobby_game(mm, capacity=2, metadata={"mode": "ffa", "region": "eu", "level": 3})

    assert open_ids(mm, filters={"mode": "duel"}) == [eu_duel.id, us_duel.id]
    assert open_ids(mm, filters={"mode": "duel", "region": "us"}) == [us_duel.id]
    assert open_ids(mm, filters={"mode": "duel", "region": "us", "level": 3}) == [us_duel.id]
    assert open_ids(mm, filters={"mode": "duel", "region": "us", "level": 4}) == []
    assert len(open_ids(mm, filters={})) == 3, "no filters: every open game"


def test_games_without_the_key_or_with_another_type_of_value_never_match(mm):
    lobby_game(mm, capacity=2)
    lobby_game(mm, capacity=2, metadata={"level": 3.0})
    lobby_game(mm, capacity=2, metadata={"level": [3]})
    lobby_game(mm, capacity=2, metadata={"level": "3"})
    nested = lobby_game(mm, capacity=2, metadata={"options": {"level": 3}})
    three = lobby_game(mm, capacity=2, metadata={"level": 3})

    assert open_ids(mm, filters={"level": 3}) == [three.id]
    assert nested.id in open_ids(mm), "top-level values only: a nested one is not a filter value"


def test_filtered_queries_follow_games_out_of_and_back_into_the_open_list(mm):
    game = lobby_game(mm, capacity=2, metadata={"mode": "duel"})
    mm.apply(ev(EventType.PLAYER_JOINED, game.id, "bob"))
    assert open_ids(mm, filters={"mode": "duel"}) == []
    mm.apply(ev(EventType.PLAYER_LEFT, game.id, "bob"))
    assert open_ids(mm, filters={"mode": "duel"}) == [game.id]
    mm.apply(ev(EventType.GAME_STARTED, game.id))
    assert open_ids(mm, filters={"mode": "duel"}) == []
    assert mm.quick_join("p1", filters={"mode": "duel"}) is None


@pytest.mark.parametrize("keys", ["mode", ["bad key"], [""], ["mode", 3]], ids=repr)
def test_connect_refuses_bad_filter_keys(backend_url, gd_namespace, keys):
    with pytest.raises(game_data.InvalidArgumentError):
        game_data.connect(backend_url, namespace=gd_namespace, filter_keys=keys)


# ---- min_free_seats -------------------------------------------------------------------------


def test_min_free_seats_selects_games_with_that_many_free_seats_counting_reservations(mm):
    big = lobby_game(mm, capacity=4, metadata={"mode": "duel"})  # 3 free
    small = lobby_game(mm, capacity=2, metadata={"mode": "duel"})  # 1 free

    assert open_ids(mm, min_free_seats=1) == [big.id, small.id]
    assert open_ids(mm, min_free_seats=2) == [big.id]
    assert open_ids(mm, min_free_seats=3) == [big.id]
    assert open_ids(mm, min_free_seats=4) == []
    mm.reserve_seat(big.id, "bob", ttl_ms=LONG_TTL_MS)
    assert open_ids(mm, min_free_seats=3) == []
    assert open_ids(mm, filters={"mode": "duel"}, min_free_seats=2) == [big.id]
    assert ids(mm.open_games_page(min_free_seats=2).games) == [big.id]


@pytest.mark.parametrize("seats", [0, -1, MAX_CAPACITY + 1, True, 2.0], ids=repr)
def test_min_free_seats_outside_one_to_the_largest_capacity_is_invalid(mm, seats):
    with pytest.raises(game_data.InvalidArgumentError):
        mm.get_open_games(min_free_seats=seats)
    with pytest.raises(game_data.InvalidArgumentError):
        mm.open_games_page(min_free_seats=seats)


def test_min_free_seats_may_be_the_largest_capacity(mm):
    game = lobby_game(mm, capacity=MAX_CAPACITY)
    assert open_ids(mm, min_free_seats=MAX_CAPACITY - 1) == [game.id]
    assert open_ids(mm, min_free_seats=MAX_CAPACITY) == []


# ---- paging -------------------------------------------------------------------------------


def walk(mm: game_data.Matchmaker, limit: int, between=None, **query) -> tuple[list[str], int]:
    """Every id of every page, in order, and the number of pages; `between(page_no)` runs
    after each page."""
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = mm.open_games_page(limit=limit, cursor=cursor, **query)
        assert len(page.games) <= limit
        seen.extend(ids(page.games))
        pages += 1
        if between is not None:
            between(pages)
        if page.next_cursor is None:
            return seen, pages
        assert isinstance(page.next_cursor, str)
        cursor = page.next_cursor
        assert pages < 1_000, "paging does not end"


def test_paging_walks_every_open_game_oldest_first(mm):
    games = [lobby_game(mm, capacity=2, metadata={"mode": "duel"}).id for _ in range(20)]
    for limit in (1, 3, 7, 20, 50):
        seen, pages = walk(mm, limit)
        assert seen == games, limit
        assert pages == max(1, -(-len(games) // limit)), "no empty last page"
    assert walk(mm, 6, filters={"mode": "duel"})[0] == games


def test_paging_while_games_are_added_and_filled_yields_every_game_that_stayed_open_exactly_once(mm):
    games = [lobby_game(mm, capacity=2, metadata={"mode": "duel"}).id for _ in range(30)]
    added: list[str] = []
    filled: list[str] = []

    def meanwhile(page_no: int) -> None:
        # Newer games arrive; an unseen game fills up (it does not stay open); another one's
        # seat is reserved and cancelled again (no write to its score: it stays open).
        added.append(lobby_game(mm, capacity=2, metadata={"mode": "duel"}).id)
        if page_no < 4:
            victim = games[-1 - page_no]
            mm.apply(ev(EventType.PLAYER_JOINED, victim, f"filler-{page_no}"))
            filled.append(victim)
            bouncer = games[10 + page_no]
            mm.reserve_seat(bouncer, f"bouncer-{page_no}", ttl_ms=LONG_TTL_MS)
            mm.cancel_reservation(bouncer, f"bouncer-{page_no}")

    seen, _ = walk(mm, 4, between=meanwhile, filters={"mode": "duel"})

    stayed_open = [g for g in games if g not in filled]
    assert len(seen) == len(set(seen)), "no game twice"
    assert [g for g in seen if g in games] == stayed_open, "every game that stayed open, in order"
    # A game added after page k is newer than every game before it, so the walk reaches it;
    # only the one added after the last page is not seen.
    assert [g for g in seen if g not in games] == added[:-1]


def test_games_of_equal_score_are_paged_in_id_order(mm):
    # One batch creates every game at the same clock reading (open games are served in the
    # order of creation): ties are broken by id, in byte order (uppercase before underscore
    # before lowercase).
    game_ids = ["a", "B", "_c", "-d", ".e", "Z9", "g-2", "g1", "g_3", "G1"]
    mm.create_games([{"creator_id": "alice", "capacity": 2, "server_id": SERVER, "game_id": game_id}
                     for game_id in game_ids])
    mm.apply_many([ev(EventType.CREATOR_JOINED, game_id, "alice") for game_id in game_ids])
    assert len({mm.get_game(game_id).created_at for game_id in game_ids}) == 1, "one score for all"

    by_bytes = sorted(game_ids, key=lambda s: s.encode())
    assert open_ids(mm) == by_bytes
    for limit in (1, 2, 3, 4):
        assert walk(mm, limit)[0] == by_bytes, limit


def test_a_cursor_is_a_position_that_outlives_its_game(mm):
    games = [lobby_game(mm, capacity=2).id for _ in range(6)]
    first = mm.open_games_page(limit=3)
    assert ids(first.games) == games[:3]
    mm.apply(ev(EventType.GAME_ENDED, games[2]))  # the game the cursor points after
    mm.apply(ev(EventType.GAME_ENDED, games[3]))

    rest = mm.open_games_page(limit=3, cursor=first.next_cursor)
    assert ids(rest.games) == games[4:]
    assert rest.next_cursor is None


def test_the_last_page_has_no_cursor(mm):
    assert (mm.open_games_page().games, mm.open_games_page().next_cursor) == ([], None)
    games = [lobby_game(mm, capacity=2).id for _ in range(4)]
    page = mm.open_games_page(limit=4)
    assert ids(page.games) == games and page.next_cursor is None
    page = mm.open_games_page(limit=2)
    assert ids(page.games) == games[:2] and page.next_cursor is not None
    page = mm.open_games_page(limit=2, cursor=page.next_cursor)
    assert ids(page.games) == games[2:] and page.next_cursor is None


def test_a_page_of_limit_zero_is_empty(mm):
    lobby_game(mm, capacity=2)
    page = mm.open_games_page(limit=0)
    assert (page.games, page.next_cursor) == ([], None)
    assert mm.get_open_games(limit=0) == []


@pytest.mark.parametrize("limit", [-1, MAX_OPEN_LIMIT + 1, True, 1.0], ids=repr)
def test_a_limit_outside_zero_to_ten_thousand_is_invalid(mm, limit):
    with pytest.raises(game_data.InvalidArgumentError):
        mm.open_games_page(limit=limit)
    with pytest.raises(game_data.InvalidArgumentError):
        mm.get_open_games(limit=limit)


@pytest.mark.parametrize("cursor", ["", "x", "c1-", "c1-12", "c1-abc-g1", "c1-12-bad id", "c2-12-g1",
                                    "c1-12-" + "g" * 129, 12, b"c1-12-g1"], ids=repr)
def test_a_malformed_cursor_is_invalid(mm, cursor):
    lobby_game(mm, capacity=2)
    with pytest.raises(game_data.InvalidArgumentError):
        mm.open_games_page(limit=5, cursor=cursor)


def test_a_cursor_of_one_query_can_be_used_with_another(mm):
    # The cursor is a position in score order, not tied to the filters it came from.
    duel = [lobby_game(mm, capacity=2, metadata={"mode": "duel"}).id for _ in range(3)]
    ffa = [lobby_game(mm, capacity=2, metadata={"mode": "ffa"}).id for _ in range(2)]
    page = mm.open_games_page(limit=2, filters={"mode": "duel"})
    assert ids(page.games) == duel[:2]
    assert ids(mm.open_games_page(limit=10, cursor=page.next_cursor).games) == [duel[2], *ffa]


# ---- the Redis layout (README "Redis layout") ----------------------------------------------


@pytest.fixture
def redis_client(redis_url: str) -> Iterator:
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def test_on_redis_a_reservation_is_an_r_field_of_the_game_hash(redis_url, gd_namespace, redis_client):
    mm = game_data.connect(redis_url, namespace=gd_namespace, filter_keys=FILTER_KEYS)
    game = lobby_game(mm, capacity=4)
    key = f"{gd_namespace}:{{0}}:game:{game.id}"
    bob = mm.reserve_seat(game.id, "bob", ttl_ms=LONG_TTL_MS)
    carol = mm.reserve_seat(game.id, "carol", ttl_ms=SHORT_TTL_MS)
    assert redis_client.hget(key, "r:bob") == str(bob.expires_at)
    assert redis_client.hget(key, "r:carol") == str(carol.expires_at)

    rev = redis_client.hget(key, "rev")
    wait_for(lambda: live(mm, game.id).reservations == {"bob": bob.expires_at}, timeout=5,
             what="carol's to expire")
    assert redis_client.hget(key, "rev") == rev, "expiry writes nothing"
    mm.cancel_reservation(game.id, "bob")
    assert redis_client.hget(key, "r:bob") is None
    mm.reserve_seat(game.id, "dave", ttl_ms=LONG_TTL_MS)
    mm.apply(ev(EventType.PLAYER_JOINED, game.id, "dave"))
    assert [f for f in redis_client.hkeys(key) if f.startswith("r:")] == [], "joined: consumed"


def test_on_redis_open_games_are_indexed_per_filter_value(redis_url, gd_namespace, redis_client):
    mm = game_data.connect(redis_url, namespace=gd_namespace, filter_keys=FILTER_KEYS)
    game = lobby_game(mm, capacity=2, metadata={"mode": "duel", "ranked": True, "level": 3,
                                                "region": 1.5, "other": "x"})
    prefix = f"{gd_namespace}:{{0}}:"
    score = mm.get_game(game.id).created_at  # open indexes are scored by creation
    indexes = sorted(k for k in redis_client.scan_iter(f"{prefix}open*"))
    assert indexes == [f"{prefix}open", f'{prefix}open:level=3', f'{prefix}open:mode="duel"',
                       f"{prefix}open:ranked=true"]
    for index in indexes:
        assert redis_client.zrange(index, 0, -1, withscores=True) == [(game.id, score)]

    bob = mm.reserve_seat(game.id, "bob", ttl_ms=LONG_TTL_MS)
    assert list(redis_client.scan_iter(f"{prefix}open*")) == [], "every free seat reserved"
    twins = sorted(k for k in redis_client.scan_iter(f"{prefix}reserved*"))
    assert twins == [f"{prefix}reserved", f'{prefix}reserved:level=3', f'{prefix}reserved:mode="duel"',
                     f"{prefix}reserved:ranked=true"]
    for twin in twins:
        assert redis_client.zrange(twin, 0, -1, withscores=True) == [(game.id, bob.expires_at)]
    mm.apply(ev(EventType.PLAYER_JOINED, game.id, "bob"))
    assert list(redis_client.scan_iter(f"{prefix}open*")) == [], "full: out of every index"
    assert list(redis_client.scan_iter(f"{prefix}reserved*")) == []


def test_on_redis_a_lapsed_reservation_reopens_a_game_without_a_write(redis_url, gd_namespace, redis_client):
    mm = game_data.connect(redis_url, namespace=gd_namespace, filter_keys=FILTER_KEYS)
    game = lobby_game(mm, capacity=3, metadata={"mode": "duel"})
    prefix = f"{gd_namespace}:{{0}}:"
    score = mm.get_game(game.id).created_at  # open indexes are scored by creation
    mm.reserve_seat(game.id, "bob", ttl_ms=LONG_TTL_MS)
    carol = mm.reserve_seat(game.id, "carol", ttl_ms=SHORT_TTL_MS)
    # Scored by the first expiry: the moment a seat is free again.
    assert redis_client.zrange(f'{prefix}reserved:mode="duel"', 0, -1, withscores=True) == [
        (game.id, carol.expires_at)]
    rev = redis_client.hget(f"{prefix}game:{game.id}", "rev")
    keys = {k: redis_client.zrange(k, 0, -1, withscores=True) for k in redis_client.scan_iter(f"{prefix}*")
            if redis_client.type(k) == "zset"}

    wait_for(lambda: open_ids(mm, filters={"mode": "duel"}) == [game.id], timeout=5,
             what="carol's seat to come back")
    assert redis_client.hget(f"{prefix}game:{game.id}", "rev") == rev, "no write to the record"
    # The reader moved its own twin's lapsed entry back into its index, at its open score.
    moved = {k: v for k, v in keys.items() if k != f'{prefix}reserved:mode="duel"'}
    moved[f'{prefix}open:mode="duel"'] = [(game.id, score)]
    assert {k: redis_client.zrange(k, 0, -1, withscores=True) for k in redis_client.scan_iter(f"{prefix}*")
            if redis_client.type(k) == "zset"} == moved
    mm.cancel_reservation(game.id, "bob")  # a write puts it back in the open indexes
    assert redis_client.zrange(f'{prefix}open:mode="duel"', 0, -1, withscores=True) == [(game.id, score)]
    assert list(redis_client.scan_iter(f"{prefix}reserved*")) == []


# ---- engine bugs found by this suite, fixed ------------------------------------------------------------------


def test_a_game_opened_by_a_writer_without_filter_keys_is_found_by_filtered_queries(backend_url, gd_namespace):
    url = f"memory://{gd_namespace}" if backend_url == "memory://" else backend_url
    matchmaker = game_data.connect(url, namespace=gd_namespace, filter_keys=FILTER_KEYS)
    consumer_side = game_data.connect(url, namespace=gd_namespace)
    game = matchmaker.create_game(creator_id="alice", capacity=2, server_id=SERVER, metadata={"mode": "duel"})
    consumer_side.apply(ev(EventType.CREATOR_JOINED, game.id, "alice"))

    assert open_ids(matchmaker) == [game.id]
    assert open_ids(matchmaker, filters={"mode": "duel"}) == [game.id]


def test_a_game_reaped_by_a_writer_without_filter_keys_leaves_no_index_entry(redis_url, gd_namespace,
                                                                             redis_client):
    matchmaker = game_data.connect(redis_url, namespace=gd_namespace, filter_keys=FILTER_KEYS)
    janitor = game_data.connect(redis_url, namespace=gd_namespace)
    game = lobby_game(matchmaker, capacity=2, metadata={"mode": "duel"})
    assert ids(janitor.reap(now=janitor.now() + 10 * janitor.max_age_ms["lobby"])) == [game.id]

    assert list(redis_client.scan_iter(f"{gd_namespace}:{{0}}:open*")) == []


def test_a_reaped_fully_reserved_game_leaves_no_reserved_entry(redis_url, gd_namespace, redis_client):
    mm = game_data.connect(redis_url, namespace=gd_namespace, filter_keys=FILTER_KEYS)
    janitor = game_data.connect(redis_url, namespace=gd_namespace)
    game = lobby_game(mm, capacity=2, metadata={"mode": "duel"})
    mm.reserve_seat(game.id, "bob", ttl_ms=LONG_TTL_MS)
    assert redis_client.exists(f'{gd_namespace}:{{0}}:reserved:mode="duel"') == 1
    assert ids(janitor.reap(now=janitor.now() + 10 * janitor.max_age_ms["lobby"])) == [game.id]

    assert list(redis_client.scan_iter(f"{gd_namespace}:{{0}}:open*")) == []
    assert list(redis_client.scan_iter(f"{gd_namespace}:{{0}}:reserved*")) == []


@pytest.fixture(scope="module")
def collating_locale(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for a process under a locale whose collation is the reverse of ASCII byte
    order, built here with localedef (Debian's essential libc-bin) from a charmap and a locale
    source written by this fixture, so no installed locale is needed."""
    folder = tmp_path_factory.mktemp("locale")
    charmap, source, out = folder / "REVERSE_ASCII", folder / "rev_XX", folder / "compiled"
    codes = range(1, 0x80)
    charmap.write_text("<escape_char> /\n<comment_char> %\n<code_set_name> REVERSE_ASCII\n"
                       "<mb_cur_max> 1\n<mb_cur_min> 1\nCHARMAP\n<U0000> /x00 NUL\n"
                       + "".join(f"<U{c:04X}> /x{c:02x} C{c:02X}\n" for c in codes) + "END CHARMAP\n")
    source.write_text("escape_char /\ncomment_char %\nLC_COLLATE\norder_start forward\n"
                      + "".join(f"<U{c:04X}>\n" for c in reversed(codes)) + "order_end\nEND LC_COLLATE\n")
    out.mkdir()
    # -c: write the locale although the categories other than LC_COLLATE are left undefined.
    subprocess.run(["localedef", "-c", "-f", str(charmap), "-i", str(source), str(out / "rev_XX")],
                   capture_output=True, env={"PATH": os.environ.get("PATH", ""), "I18NPATH": str(folder)})
    assert (out / "rev_XX" / "LC_COLLATE").exists(), "localedef did not build the test locale"
    return {"LOCPATH": str(out), "LC_ALL": "rev_XX"}


def test_paging_does_not_depend_on_the_redis_servers_locale(collating_locale, gd_namespace, monkeypatch):
    for name, value in collating_locale.items():
        monkeypatch.setenv(name, value)
    with RedisServer() as server:
        for name in collating_locale:
            monkeypatch.delenv(name)
        mm = game_data.connect(server.url, namespace=gd_namespace)
        game_ids = ["a", "B", "_c", "-d", ".e", "Z9", "g-2", "g1", "g_3", "G1"]
        mm.create_games([{"creator_id": "alice", "capacity": 2, "server_id": SERVER, "game_id": game_id}
                         for game_id in game_ids])  # one clock reading: one open score
        mm.apply_many([ev(EventType.CREATOR_JOINED, game_id, "alice") for game_id in game_ids])
        assert len(open_ids(mm)) == len(game_ids)

        assert walk(mm, 1)[0] == sorted(game_ids, key=lambda s: s.encode())
