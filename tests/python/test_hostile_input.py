"""Hostile input at the Python boundary (issue 7): strings the C++ side cannot hold (lone
surrogates) and integers outside int64, through every public call; small metadata objects of
shared references that would serialise to gigabytes; passwords in malformed URLs. Each is an
InvalidArgumentError (a ValueError) naming the argument, raised before anything is written."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import game_data
from game_data import Event, EventType, Game

BAD_STRINGS = {
    "high-surrogate": "\ud800",
    "low-surrogate": "\udfff",
    "surrogate-inside": "gs-\udc80-1",  # what surrogateescape makes of a stray byte
}
BAD_INTS = {"2**63": 2**63, "-2**63-1": -(2**63) - 1, "2**64": 2**64, "10**30": 10**30}


@dataclass
class Ctx:
    """What the calls under test need: a matchmaker holding a game, its URL, a publisher, a
    consumer and a valid event."""

    mm: game_data.Matchmaker
    url: str
    pub: game_data.EventPublisher
    consumer: game_data.Consumer
    event: Event


Call = Callable[[Ctx, Any], object]


def _game_kwargs(**override: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"id": "g2", "state": "created", "creator_id": "alice", "capacity": 2,
                              "server_id": "gs-1"}
    kwargs.update(override)
    return kwargs


def _game_doc(**override: Any) -> dict[str, Any]:
    doc = Game(**_game_kwargs()).to_dict()
    doc.update(override)
    return doc


def _set(obj: object, name: str, value: Any) -> None:
    setattr(obj, name, value)


# (argument named in the message, call). Every public call taking a str.
STRING_CALLS: dict[str, tuple[str, Call]] = {
    "connect-url": ("url", lambda c, v: game_data.connect(v)),
    "connect-namespace": ("namespace", lambda c, v: game_data.connect(c.url, namespace=v)),
    "connect-max_age_ms-key": ("max_age_ms", lambda c, v: game_data.connect(c.url, max_age_ms={v: 5})),
    "Matchmaker-url": ("url", lambda c, v: game_data.Matchmaker(v)),
    "create_game-creator_id": ("creator_id",
                               lambda c, v: c.mm.create_game(creator_id=v, capacity=2, server_id="gs-1")),
    "create_game-server_id": ("server_id",
                              lambda c, v: c.mm.create_game(creator_id="a", capacity=2, server_id=v)),
    "create_game-game_id": ("game_id", lambda c, v: c.mm.create_game(creator_id="a", capacity=2,
                                                                     server_id="gs-1", game_id=v)),
    "get_game": ("game_id", lambda c, v: c.mm.get_game(v)),
    "set_entry": ("game_id", lambda c, v: c.mm.set_entry(v)),
    "stream_entries": ("stream", lambda c, v: c.mm.stream_entries(v)),
    "stream_length": ("stream", lambda c, v: c.mm.stream_length(v)),
    "publisher-server_id": ("server_id", lambda c, v: c.mm.publisher(server_id=v)),
    "publisher-stream": ("stream", lambda c, v: c.mm.publisher(server_id="gs-1", stream=v)),
    "EventPublisher-url": ("url", lambda c, v: game_data.EventPublisher(v, server_id="gs-1")),
    "EventPublisher-server_id": ("server_id", lambda c, v: game_data.EventPublisher(c.url, server_id=v)),
    "EventPublisher-stream": ("stream",
                              lambda c, v: game_data.EventPublisher(c.url, server_id="gs-1", stream=v)),
    "EventPublisher-mm-server_id": ("server_id", lambda c, v: game_data.EventPublisher(c.mm, v)),
    "creator_joined-game_id": ("game_id", lambda c, v: c.pub.creator_joined(v, player_id="alice")),
    "creator_joined-player_id": ("player_id", lambda c, v: c.pub.creator_joined("kept", player_id=v)),
    "player_joined-game_id": ("game_id", lambda c, v: c.pub.player_joined(v, player_id="bob")),
    "player_joined-player_id": ("player_id", lambda c, v: c.pub.player_joined("kept", player_id=v)),
    "player_left-game_id": ("game_id", lambda c, v: c.pub.player_left(v, player_id="alice")),
    "player_left-player_id": ("player_id", lambda c, v: c.pub.player_left("kept", player_id=v)),
    "all_players_joined": ("game_id", lambda c, v: c.pub.all_players_joined(v)),
    "game_started": ("game_id", lambda c, v: c.pub.game_started(v)),
    "game_ended": ("game_id", lambda c, v: c.pub.game_ended(v)),
    "heartbeat": ("game_id", lambda c, v: c.pub.heartbeat(v)),
    "publish_raw-value": ("stream entry field", lambda c, v: c.pub.publish_raw({"type": v})),
    "consumer-stream": ("stream", lambda c, v: c.mm.consumer(stream=v)),
    "consumer-group": ("group", lambda c, v: c.mm.consumer(group=v)),
    "consumer-name": ("name", lambda c, v: c.mm.consumer(name=v)),
    "consumer-dead_letter_stream": ("dead_letter_stream", lambda c, v: c.mm.consumer(dead_letter_stream=v)),
    "Event-type": ("EventType", lambda c, v: Event(type=v, game_id="kept", server_id="gs-1")),
    "Event-game_id": ("game_id", lambda c, v: Event(type=EventType.HEARTBEAT, game_id=v, server_id="gs-1")),
    "Event-server_id": ("server_id", lambda c, v: Event(type=EventType.HEARTBEAT, game_id="kept", server_id=v)),
    "Event-player_id": ("player_id", lambda c, v: Event(type=EventType.PLAYER_JOINED, game_id="kept",
                                                        server_id="gs-1", player_id=v)),
    "Event.game_id=": ("game_id", lambda c, v: _set(c.event, "game_id", v)),
    "Event.server_id=": ("server_id", lambda c, v: _set(c.event, "server_id", v)),
    "Event.player_id=": ("player_id", lambda c, v: _set(c.event, "player_id", v)),
    "Event.from_fields": ("stream entry field",
                          lambda c, v: Event.from_fields({"type": "heartbeat", "game_id": v, "server_id": "s"})),
    "Game-id": ("id", lambda c, v: Game(**_game_kwargs(id=v))),
    "Game-creator_id": ("creator_id", lambda c, v: Game(**_game_kwargs(creator_id=v))),
    "Game-server_id": ("server_id", lambda c, v: Game(**_game_kwargs(server_id=v))),
    "Game-players": ("players", lambda c, v: Game(**_game_kwargs(players=["alice", v]))),
    "Game.from_dict-id": ("id", lambda c, v: Game.from_dict(_game_doc(id=v))),
    "Game.from_dict-players": ("players", lambda c, v: Game.from_dict(_game_doc(players=[v]))),
    "Game.from_dict-metadata": ("metadata", lambda c, v: Game.from_dict(_game_doc(metadata={"k": v}))),
    "ApplyResult-game_id": ("game_id", lambda c, v: game_data.ApplyResult(status="applied", game_id=v)),
    "ApplyResult-reason": ("reason", lambda c, v: game_data.ApplyResult(status="rejected", reason=v)),
    "ApplyResult-entry_id": ("entry_id", lambda c, v: game_data.ApplyResult(status="applied", entry_id=v)),
    "backend_available": ("scheme", lambda c, v: game_data.backend_available(v)),
    "set_log_level": ("level", lambda c, v: game_data.set_log_level(v)),
}

# Every public call taking an int.
INT_CALLS: dict[str, tuple[str, Call]] = {
    "connect-connect_timeout_ms": ("connect_timeout_ms", lambda c, v: game_data.connect(c.url, connect_timeout_ms=v)),
    "connect-timeout_ms": ("timeout_ms", lambda c, v: game_data.connect(c.url, timeout_ms=v)),
    "connect-pool_size": ("pool_size", lambda c, v: game_data.connect(c.url, pool_size=v)),
    "connect-tombstone_ttl_ms": ("tombstone_ttl_ms", lambda c, v: game_data.connect(c.url, tombstone_ttl_ms=v)),
    "connect-max_age_ms": ("max_age_ms", lambda c, v: game_data.connect(c.url, max_age_ms={"lobby": v})),
    "create_game-capacity": ("capacity", lambda c, v: c.mm.create_game(creator_id="a", capacity=v, server_id="s")),
    "get_open_games-limit": ("limit", lambda c, v: c.mm.get_open_games(limit=v)),
    "reap-now": ("now", lambda c, v: c.mm.reap(now=v)),
    "stream_entries-count": ("count", lambda c, v: c.mm.stream_entries(c.mm.default_stream, count=v)),
    "publisher-maxlen": ("maxlen", lambda c, v: c.mm.publisher(server_id="gs-1", maxlen=v)),
    "EventPublisher-maxlen": ("maxlen", lambda c, v: game_data.EventPublisher(c.url, "gs-1", maxlen=v)),
    "consumer-claim_idle_ms": ("claim_idle_ms", lambda c, v: c.mm.consumer(claim_idle_ms=v)),
    "consumer-max_deliveries": ("max_deliveries", lambda c, v: c.mm.consumer(max_deliveries=v)),
    "poll-count": ("count", lambda c, v: c.consumer.poll(count=v, block_ms=0)),
    "poll-block_ms": ("block_ms", lambda c, v: c.consumer.poll(count=1, block_ms=v)),
    "Event-ts": ("ts", lambda c, v: Event(type=EventType.HEARTBEAT, game_id="kept", server_id="gs-1", ts=v)),
    "Event-seq": ("seq", lambda c, v: Event(type=EventType.HEARTBEAT, game_id="kept", server_id="gs-1", seq=v)),
    "Event.ts=": ("ts", lambda c, v: _set(c.event, "ts", v)),
    "Event.seq=": ("seq", lambda c, v: _set(c.event, "seq", v)),
    "Game-capacity": ("capacity", lambda c, v: Game(**_game_kwargs(capacity=v))),
    "Game-created_at": ("created_at", lambda c, v: Game(**_game_kwargs(created_at=v))),
    "Game-updated_at": ("updated_at", lambda c, v: Game(**_game_kwargs(updated_at=v))),
    "Game-last_seq": ("last_seq", lambda c, v: Game(**_game_kwargs(last_seq=v))),
    "Game-player_seqs": ("player_seqs", lambda c, v: Game(**_game_kwargs(player_seqs={"alice": v}))),
    "Game.from_dict-capacity": ("capacity", lambda c, v: Game.from_dict(_game_doc(capacity=v))),
    "Game.from_dict-created_at": ("created_at", lambda c, v: Game.from_dict(_game_doc(created_at=v))),
    "Game.from_dict-last_seq": ("last_seq", lambda c, v: Game.from_dict(_game_doc(last_seq=v))),
}


@pytest.fixture
def ctx(stream_mm: game_data.Matchmaker, stream_backend_url: str) -> Iterator[Ctx]:
    """A matchmaker holding one game in the lobby with an event on its stream; asserts
    afterwards that neither the game, the set counts nor the streams changed."""
    mm = stream_mm
    url = f"memory://hostile-{time.monotonic_ns()}" if stream_backend_url == "memory://" else stream_backend_url
    if stream_backend_url == "memory://":
        mm = game_data.connect(url, namespace=stream_mm.namespace)
    mm.create_game(creator_id="alice", capacity=3, server_id="gs-1", game_id="kept", metadata={"keep": 1})
    pub = mm.publisher(server_id="gs-1")
    pub.creator_joined("kept", player_id="alice")
    consumer = mm.consumer(name="hostile")
    consumer.poll(count=10, block_ms=0)
    pub.heartbeat("kept")  # left unread
    event = Event(type=EventType.PLAYER_JOINED, game_id="kept", server_id="gs-1", player_id="bob", seq=1)
    before = (mm.get_game("kept"), mm.counts(), mm.stream_entries(mm.default_stream),
              mm.stream_length(mm.default_stream + ":dead"), consumer.stats, event.to_dict())
    yield Ctx(mm, url, pub, consumer, event)
    after = (mm.get_game("kept"), mm.counts(), mm.stream_entries(mm.default_stream),
             mm.stream_length(mm.default_stream + ":dead"), consumer.stats, event.to_dict())
    assert after == before


def _refused(call: Callable[[], object], argument: str) -> game_data.InvalidArgumentError:
    with pytest.raises(game_data.InvalidArgumentError) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert argument in str(info.value)
    return info.value


@pytest.mark.parametrize("bad", list(BAD_STRINGS.values()), ids=list(BAD_STRINGS))
@pytest.mark.parametrize("call", list(STRING_CALLS), ids=list(STRING_CALLS))
def test_strings_with_lone_surrogates_are_invalid_arguments_naming_the_argument(
        ctx: Ctx, call: str, bad: str) -> None:
    argument, fn = STRING_CALLS[call]
    error = _refused(lambda: fn(ctx, bad), argument)
    assert "surrogate" in str(error)


@pytest.mark.parametrize("bad", list(BAD_INTS.values()), ids=list(BAD_INTS))
@pytest.mark.parametrize("call", list(INT_CALLS), ids=list(INT_CALLS))
def test_integers_outside_int64_are_invalid_arguments_naming_the_argument(
        ctx: Ctx, call: str, bad: int) -> None:
    argument, fn = INT_CALLS[call]
    error = _refused(lambda: fn(ctx, bad), argument)
    assert "range" in str(error) or "64 bits" in str(error)


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63)], ids=["int64-max", "int64-min"])
def test_the_int64_bounds_themselves_convert(value: int) -> None:
    event = Event(type=EventType.HEARTBEAT, game_id="g", server_id="s", ts=value, seq=value)
    assert (event.ts, event.seq) == (value, value)
    event.ts = value
    assert event.ts == value


def test_to_fields_of_an_event_with_a_bad_id_is_an_invalid_argument() -> None:
    event = Event(type=EventType.HEARTBEAT, game_id="bad id", server_id="gs-1", ts=2**63 - 1)
    _refused(event.to_fields, "game_id")
    event.game_id = "g1"
    assert Event.from_fields(event.to_fields()) == event


def test_the_publisher_overloads_still_tell_a_matchmaker_from_a_url() -> None:
    mm = game_data.connect("memory://")
    assert game_data.EventPublisher(mm, "gs-1").stream == mm.default_stream
    assert game_data.EventPublisher("memory://", server_id="gs-1").stream == "gd:events"
    with pytest.raises(game_data.InvalidArgumentError, match="url must be a str"):
        game_data.EventPublisher(42, server_id="gs-1")


@pytest.mark.parametrize(("cls", "state", "argument"), [
    (Event, ("heartbeat", "\ud800", "gs-1", None, None, None), "game_id"),
    (Event, ("heartbeat", "g1", "gs-1", None, 2**63, None), "ts"),
    (game_data.ApplyResult, {"status": "applied", "reason": "", "game_id": "g1", "state": None,
                             "entry_id": "\udfff"}, "entry_id"),
    (Game, _game_doc(server_id="\ud800"), "server_id"),
], ids=["event-surrogate", "event-int", "apply-result", "game"])
def test_unpickling_applies_the_same_rules(cls: type, state: Any, argument: str) -> None:
    blank = cls.__new__(cls)
    _refused(lambda: blank.__setstate__(state), argument)


# Metadata built from shared references: ~2 KB in memory, 100**levels values when serialised.


def _bomb(levels: int) -> list[Any]:
    value: list[Any] = [1] * 100
    for _ in range(levels - 1):
        value = [value] * 100
    return value


@pytest.mark.parametrize("levels", [3, 4, 5, 8])
def test_metadata_of_shared_references_is_refused_at_the_size_limit(ctx: Ctx, levels: int) -> None:
    started = time.perf_counter()
    error = _refused(lambda: ctx.mm.create_game(creator_id="bob", capacity=2, server_id="gs-1",
                                                game_id="bomb", metadata={"k": _bomb(levels)}), "metadata")
    elapsed_ms = (time.perf_counter() - started) * 1000
    print(f"{levels}-level shared-reference metadata refused in {elapsed_ms:.2f} ms")
    assert "16 KiB" in str(error)
    assert ctx.mm.get_game("bomb") is None


@pytest.mark.parametrize("levels", [4, 5])
def test_game_documents_of_shared_references_are_refused(levels: int) -> None:
    with pytest.raises(game_data.InvalidArgumentError, match="metadata"):
        Game.from_dict(_game_doc(metadata={"k": _bomb(levels)}))
    with pytest.raises(game_data.InvalidArgumentError, match="players"):
        Game.from_dict(_game_doc(players=_bomb(levels)))
    with pytest.raises(game_data.InvalidArgumentError, match="players"):
        Game.from_dict(_game_doc(players=["x" * 1_000_000] * 100))


def test_shared_references_that_fit_are_accepted(mm: game_data.Matchmaker) -> None:
    shared = {"mode": "duel", "ranks": [1, 2, 3]}
    metadata = {"a": shared, "b": shared, "c": [shared, shared]}
    game = mm.create_game(creator_id="a", capacity=2, server_id="s", metadata=metadata)
    assert game.metadata == {"a": shared, "b": shared, "c": [shared, shared]}


def _cycle_through_dict() -> dict[str, Any]:
    d: dict[str, Any] = {}
    d["self"] = [{"back": d}]
    return d


def _cycle_through_tuple() -> list[Any]:
    inner: list[Any] = []
    outer = (1, inner)
    inner.append(outer)
    return inner


@pytest.mark.parametrize("make", [_cycle_through_dict, _cycle_through_tuple], ids=["dict", "tuple"])
def test_metadata_reference_cycles_are_refused_as_cycles(ctx: Ctx, make: Callable[[], Any]) -> None:
    error = _refused(lambda: ctx.mm.create_game(creator_id="bob", capacity=2, server_id="gs-1",
                                                game_id="loop", metadata={"m": make()}), "metadata")
    assert "cycle" in str(error)
    assert ctx.mm.get_game("loop") is None


def _nested(containers: int) -> dict[str, Any]:
    """Metadata of exactly `containers` nested containers (the dict itself counts)."""
    value: Any = []
    for _ in range(containers - 2):
        value = [value]
    return {"k": value}


def test_metadata_nesting_is_limited_to_64_levels(mm: game_data.Matchmaker) -> None:
    assert mm.create_game(creator_id="a", capacity=2, server_id="s", metadata=_nested(64)).metadata == _nested(64)
    with pytest.raises(game_data.InvalidArgumentError, match="nested deeper than 64 levels"):
        mm.create_game(creator_id="a", capacity=2, server_id="s", metadata=_nested(65))


@pytest.mark.parametrize(("metadata", "fits"), [
    ({"l": [0] * 8188}, True),      # {"l":[0,...]} is 2n+7 bytes: 16383
    ({"l": [0] * 8189}, False),     # 16385
    ({"s": "\u00e9" * 8184}, True),  # two UTF-8 bytes each: 16376
    ({"s": "\u00e9" * 8189}, False),  # 16386
    ({"f": [0.5] * 5000}, False),   # floats count 1 byte in the estimate; the exact check still applies
    ({"s": "\x01" * 3000}, False),  # escaped as \\u0001: six bytes each
], ids=["ints-fit", "ints-over", "utf8-fits", "utf8-over", "floats-over", "escapes-over"])
def test_the_size_limit_is_exact_whatever_the_estimate(mm: game_data.Matchmaker, metadata: dict[str, Any],
                                                       fits: bool) -> None:
    if fits:
        assert mm.create_game(creator_id="a", capacity=2, server_id="s", metadata=metadata).metadata == metadata
    else:
        with pytest.raises(game_data.InvalidArgumentError, match="16 KiB"):
            mm.create_game(creator_id="a", capacity=2, server_id="s", metadata=metadata)


# Passwords in malformed URLs. The secret is "S3cr" + something + "3tPw", sometimes split by
# the very character that breaks the URL, so a message leaks if it holds either half.

SECRET_FRAGMENTS = ("S3cr", "3tPw", "%53", "%33")
URLS_WITH_SECRETS = [
    "redis:/u:S3cr3tPw@host/0", "redis//u:S3cr3tPw@host/0", "redis:u:S3cr3tPw@host/0",
    "u:S3cr3tPw@host:6379", "://u:S3cr3tPw@host", "u:S3cr3tPw@host://x", "S3cr3tPw",
    "redis://u:S3cr3tPw@host:notaport", "redis://u:S3cr3tPw@host:65536", "redis://u:S3cr3tPw",
    "redis://:S3cr3tPw", "redis://u:S3cr3tPw/0", "redis://u:S3cr3tPw:6379",
    "redis://u:S3cr3tPw@host/abc", "redis://u:S3cr3tPw@host:7000/S3cr3tPw",
    "redis://u:S3cr3tPw@host/0?S3cr3tPw", "redis://u:S3cr?3tPw@host/0", "redis://host/0?S3cr3tPw",
    "rediss://u:S3cr3tPw@host/0?sni", "rediss://u:S3cr?3tPw@host/0?sni=x",
    "redis://u:S3cr%33tPw@host:notaport", "redis://u:%53%33cr3tPw@host/x",
    "redis://u:S3cr3tPw@[::1", "redis://u:S3cr3tPw@[::1]x6379", "redis://u:S3cr3tPw@[::1]:bad",
    "unix://u:S3cr3tPw@/tmp/sock", "unix:///tmp/sock?S3cr3tPw", "unix:///tmp/sock?db=S3cr3tPw",
    "memory://u:S3cr3tPw@x?S3cr3tPw", "foo://u:S3cr3tPw@127.0.0.1:1",
    # these parse, then fail: unknown option, bad option value, nothing listening, no TLS
    "redis://u:S3cr3tPw@127.0.0.1:1/0?bogus=1", "redis://u:S3cr3tPw@127.0.0.1:1/0?pool_size=S3cr3tPw",
    "redis://u:S3cr3tPw@127.0.0.1:1/0", "redis://S3cr3tPw@127.0.0.1:1/2",
    "rediss://u:S3cr3tPw@127.0.0.1:1/0?bogus=1", "rediss://u:S3cr3tPw@127.0.0.1:1/0",
]


def _assert_no_secret(error: BaseException) -> None:
    for text in (str(error), repr(error.args)):
        for fragment in SECRET_FRAGMENTS:
            assert fragment not in text, text


@pytest.mark.parametrize("url", URLS_WITH_SECRETS)
def test_connect_errors_never_show_the_password(url: str) -> None:
    with pytest.raises(game_data.GameDataError) as info:
        game_data.connect(url, connect_timeout_ms=200).counts()
    _assert_no_secret(info.value)


@pytest.mark.parametrize("url", URLS_WITH_SECRETS)
def test_publisher_errors_never_show_the_password(url: str) -> None:
    with pytest.raises(game_data.GameDataError) as info:
        game_data.EventPublisher(url, server_id="gs-1").heartbeat("g1")
    _assert_no_secret(info.value)


def test_url_errors_show_the_url_redacted() -> None:
    with pytest.raises(game_data.InvalidArgumentError) as info:
        game_data.connect("redis://bob:S3cr3tPw@cache.internal:7000/x")
    assert "redis://bob:***@cache.internal:7000" in str(info.value)
    assert "database" in str(info.value)
