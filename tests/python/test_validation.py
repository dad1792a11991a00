"""SPEC section 6: bad input is refused with a ValueError (and GameDataError) before anything
is written, and nothing already stored changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import game_data
from game_data import Event, EventType

BAD_IDS = {
    "empty": "",
    "129-bytes": "x" * 129,
    "space": "has space",
    "colon": "a:b",
    "brace": "a{0}",
    "slash": "a/b",
    "newline": "a\nb",
    "nul": "a\x00b",
    "unicode": "jöel",
    "emoji": "game-\U0001f3ae",
    # 43 three-byte characters: 43 characters but 129 bytes
    "unicode-129-bytes": "\u20ac" * 43,
}
GOOD_IDS = {"one-char": "a", "128-bytes": "x" * 128, "all-allowed": "Az09_.-"}

BAD_CAPACITIES = {"zero": 0, "negative": -1, "1025": 1025, "huge": 2**40, "bigger-than-64-bits": 2**70,
                  "float": 4.0, "string": "4", "bool": True, "none": None}


class NotJson:
    pass


BAD_METADATA: dict[str, Any] = {
    "list": [1, 2],
    "string": "mode=duel",
    "int": 5,
    "over-16KiB": {"blob": "x" * (16 * 1024)},
    "set-value": {"s": {1, 2}},
    "bytes-value": {"b": b"raw"},
    "object-value": {"o": NotJson()},
    "nested-bad": {"a": [{"b": object()}]},
    "int-key": {1: "x"},
    "nan": {"f": float("nan")},
    "inf": {"f": float("inf")},
    "int-over-64-bits": {"n": 2**80},
}


@pytest.fixture
def stored(mm: game_data.Matchmaker) -> Iterator[game_data.Matchmaker]:
    """A matchmaker holding one game in the lobby; asserts afterwards that nothing changed."""
    game = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1", game_id="kept",
                          metadata={"keep": True})
    mm.apply(Event(type=EventType.CREATOR_JOINED, game_id=game.id, server_id="gs-1",
                   player_id="alice"))
    before = mm.get_game("kept")
    counts = mm.counts()
    yield mm
    assert mm.get_game("kept") == before
    assert mm.counts() == counts


def refused() -> Any:
    """The error every refused input raises."""
    return pytest.raises(game_data.InvalidArgumentError)


@pytest.mark.parametrize("field", ["creator_id", "server_id", "game_id"])
@pytest.mark.parametrize("bad", list(BAD_IDS.values()), ids=list(BAD_IDS))
def test_create_game_refuses_bad_ids(stored: game_data.Matchmaker, field: str, bad: str) -> None:
    kwargs: dict[str, Any] = {"creator_id": "bob", "capacity": 2, "server_id": "gs-1",
                              "game_id": "new-game"}
    kwargs[field] = bad
    with pytest.raises(ValueError) as info:
        stored.create_game(**kwargs)
    assert isinstance(info.value, game_data.GameDataError)
    assert field in str(info.value)
    assert stored.get_game("new-game") is None


@pytest.mark.parametrize("good", list(GOOD_IDS.values()), ids=list(GOOD_IDS))
def test_create_game_accepts_edge_ids(mm: game_data.Matchmaker, good: str) -> None:
    game = mm.create_game(creator_id=good, capacity=2, server_id=good, game_id=good)
    assert mm.get_game(good) == game


@pytest.mark.parametrize("bad", list(BAD_CAPACITIES.values()), ids=list(BAD_CAPACITIES))
def test_create_game_refuses_bad_capacity(stored: game_data.Matchmaker, bad: Any) -> None:
    with refused() as info:
        stored.create_game(creator_id="bob", capacity=bad, server_id="gs-1", game_id="new-game")
    assert "capacity" in str(info.value)
    assert stored.get_game("new-game") is None


@pytest.mark.parametrize("capacity", [1, 1024])
def test_capacity_bounds_are_inclusive(mm: game_data.Matchmaker, capacity: int) -> None:
    assert mm.create_game(creator_id="a", capacity=capacity, server_id="s").capacity == capacity


@pytest.mark.parametrize("bad", list(BAD_METADATA.values()), ids=list(BAD_METADATA))
def test_create_game_refuses_bad_metadata(stored: game_data.Matchmaker, bad: Any) -> None:
    with refused() as info:
        stored.create_game(creator_id="bob", capacity=2, server_id="gs-1", game_id="new-game",
                           metadata=bad)
    assert "metadata" in str(info.value)
    assert stored.get_game("new-game") is None


def test_metadata_of_exactly_16KiB_is_accepted(mm: game_data.Matchmaker) -> None:
    overhead = len('{"blob":""}')
    metadata = {"blob": "x" * (16 * 1024 - overhead)}
    assert mm.create_game(creator_id="a", capacity=2, server_id="s", metadata=metadata).metadata == metadata
    with refused():
        mm.create_game(creator_id="a", capacity=2, server_id="s",
                       metadata={"blob": "x" * (16 * 1024 - overhead + 1)})


def test_metadata_self_reference_is_refused(stored: game_data.Matchmaker) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with refused():
        stored.create_game(creator_id="bob", capacity=2, server_id="gs-1", metadata={"l": loop})


def test_metadata_round_trips_every_json_type(mm: game_data.Matchmaker) -> None:
    metadata = {"s": "é ü", "i": -(2**63), "u": 2**64 - 1, "f": 1.5, "t": True, "f2": False,
                "n": None, "l": [1, [2, {"x": []}]], "d": {}, "tuple": (1, 2)}
    game = mm.create_game(creator_id="a", capacity=2, server_id="s", metadata=metadata)
    expected = dict(metadata, tuple=[1, 2])
    assert game.metadata == expected
    stored = mm.get_game(game.id)
    assert stored is not None
    assert stored.metadata == expected


@pytest.mark.parametrize("bad", list(BAD_IDS.values()), ids=list(BAD_IDS))
def test_get_game_refuses_bad_ids(stored: game_data.Matchmaker, bad: str) -> None:
    with refused():
        stored.get_game(bad)


@pytest.mark.parametrize("field", ["game_id", "server_id", "player_id"])
@pytest.mark.parametrize("bad", ["", "x" * 129, "bad id", "jöel"], ids=["empty", "129-bytes", "space", "unicode"])
def test_apply_refuses_bad_event_ids(stored: game_data.Matchmaker, field: str, bad: str) -> None:
    kwargs: dict[str, Any] = {"type": EventType.PLAYER_JOINED, "game_id": "kept",
                              "server_id": "gs-1", "player_id": "bob"}
    kwargs[field] = bad
    with refused():
        stored.apply(Event(**kwargs))


@pytest.mark.parametrize("event_type", [EventType.CREATOR_JOINED, EventType.PLAYER_JOINED,
                                        EventType.PLAYER_LEFT], ids=lambda t: t.value)
def test_apply_refuses_player_events_without_player(stored: game_data.Matchmaker,
                                                    event_type: EventType) -> None:
    with refused():
        stored.apply(Event(type=event_type, game_id="kept", server_id="gs-1"))


def test_apply_refuses_negative_seq(stored: game_data.Matchmaker) -> None:
    with refused():
        stored.apply(Event(type=EventType.HEARTBEAT, game_id="kept", server_id="gs-1", seq=-1))


def test_apply_many_refuses_the_whole_batch_when_one_event_is_bad(stored: game_data.Matchmaker) -> None:
    good = Event(type=EventType.PLAYER_JOINED, game_id="kept", server_id="gs-1", player_id="bob")
    bad = Event(type=EventType.PLAYER_JOINED, game_id="kept", server_id="gs-1", player_id="")
    with refused():
        stored.apply_many([good, bad])


@pytest.mark.parametrize("limit", [-1, 10_001])
def test_get_open_games_refuses_bad_limits(stored: game_data.Matchmaker, limit: int) -> None:
    with refused():
        stored.get_open_games(limit)


@pytest.mark.parametrize("kwargs", [
    {"namespace": ""},
    {"namespace": "a b"},
    {"max_age_ms": {"pending": 0}},
    {"max_age_ms": {"lobby": -5}},
    {"max_age_ms": {"bogus": 5}},
    {"max_age_ms": {"pending": 1.5}},
    {"max_age_ms": [1, 2, 3]},
    {"pool_size": 0},
    {"connect_timeout_ms": 0},
    {"timeout_ms": -1},
    {"tombstone_ttl_ms": 0},
], ids=lambda k: "-".join(f"{key}={value}" for key, value in k.items()))
def test_connect_refuses_bad_options(kwargs: dict[str, Any]) -> None:
    with refused():
        game_data.connect("memory://", **kwargs)


@pytest.mark.parametrize("url", ["", "nosuch://x", "redis://host:notaport", "memory"])
def test_connect_refuses_bad_urls(url: str) -> None:
    with refused():
        game_data.connect(url)
