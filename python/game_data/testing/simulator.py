"""A simulated game server: publishes a game's lifecycle events the way a real server does.

`SimulatedGameServer` is the test harness of the game-server side (SPEC section 3). It plays
a game step by step (or all at once with `play`) through an EventPublisher, and misbehaves on
request: duplicate and out-of-order delivery, events claiming another server, garbage
entries, silent death, a creator who never connects. Every entry it writes is recorded in
`sent`, so tests can republish or inspect exactly what went on the wire. `delete` is the
matchmaker's order to drop a game it reaped (what a reaped-feed reader sends).

Thread safety: one instance is used by one thread at a time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import game_data
from game_data import EventType, _core

__all__ = [
    "GARBAGE_KINDS",
    "SentEntry",
    "SimulatedGameServer",
    "garbage_fields",
]

log = logging.getLogger(__name__)

GameLike = Union[str, Any]  # a game id, or anything with .id (a game_data.models.Game)

# Kinds of malformed entry `send_garbage` can write, and the reason the consumer gives
# (a substring of the dead letter's `error`). "unknown_game" is well formed but names a game
# that was never created.
GARBAGE_KINDS: Mapping[str, str] = {
    "missing_type": "missing field type",
    "missing_game_id": "missing field game_id",
    "missing_server_id": "missing field server_id",
    "missing_player_id": "missing field player_id",
    "unknown_type": "unknown event type",
    "long_game_id": "game_id is too long",
    "long_player_id": "player_id is too long",
    "bad_characters": "game_id has invalid characters",
    "binary": "game_id has invalid characters",
    "bad_seq": "seq is not a non-negative integer",
    "bad_ts": "ts is not a non-negative integer",
    "empty": "missing field type",
    "unknown_game": _core.REASON_UNKNOWN_GAME,
}


@dataclass(frozen=True)
class SentEntry:
    """One entry this server wrote: the stream entry id and the exact fields."""

    entry_id: str
    fields: Mapping[str, str]
    kind: str = "event"  # "event", "duplicate", "wrong_server" or a garbage kind


def _game_id(game: GameLike) -> str:
    return game if isinstance(game, str) else game.id


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def garbage_fields(kind: str, server_id: str, game_id: str = "no-such-game") -> dict[str, str]:
    """The fields of one malformed entry of `kind` (see GARBAGE_KINDS)."""
    base = {"type": "heartbeat", "game_id": game_id, "server_id": server_id}
    if kind == "missing_type":
        del base["type"]
    elif kind == "missing_game_id":
        del base["game_id"]
    elif kind == "missing_server_id":
        del base["server_id"]
    elif kind == "missing_player_id":
        base["type"] = "player_joined"
    elif kind == "unknown_type":
        base["type"] = "game_exploded"
    elif kind == "long_game_id":
        base["game_id"] = "g" * 129
    elif kind == "long_player_id":
        base.update(type="player_joined", player_id="p" * 129)
    elif kind == "bad_characters":
        base["game_id"] = "game id with spaces/and:colons"
    elif kind == "binary":
        # Control bytes and non-ASCII: still valid UTF-8 so every client can read it back.
        base["game_id"] = "\x00\x01\x02\x7f\u00ff\ufffd"
    elif kind == "bad_seq":
        base["seq"] = "-12x"
    elif kind == "bad_ts":
        base["ts"] = "yesterday"
    elif kind == "empty":
        base = {"junk": "\x00"}
    elif kind == "unknown_game":
        base["game_id"] = game_id if game_id != "no-such-game" else f"never-created-{time.time_ns()}"
    else:
        raise ValueError(f"unknown garbage kind {kind!r}; one of {sorted(GARBAGE_KINDS)}")
    return base


class SimulatedGameServer:
    """Plays games on one game server by publishing their events.

    Bind it to a publisher (`SimulatedGameServer(mm.publisher("gs-1"))`), to a matchmaker
    (`SimulatedGameServer(matchmaker=mm, server_id="gs-1")`, same backend, works on
    memory://) or to a URL (`SimulatedGameServer(url="redis://...", server_id="gs-1")`).

    Every event carries the server's own per-game `seq` (increasing, microsecond based like
    the SDK's) and `ts`; `duplicate()` republishes an entry byte for byte, same seq included.
    After `die()` the server is silent: every later call publishes nothing and returns None.
    """

    def __init__(
        self,
        publisher: Any = None,
        *,
        matchmaker: Any = None,
        url: Optional[str] = None,
        server_id: Optional[str] = None,
        stream: Optional[str] = None,
    ) -> None:
        if publisher is None:
            if server_id is None:
                raise ValueError(
                    "SimulatedGameServer needs a publisher, or a server_id with a matchmaker or url")
            if matchmaker is not None:
                publisher = matchmaker.publisher(server_id, stream=stream)
            elif url is not None:
                publisher = game_data.EventPublisher(url, server_id, stream=stream or None)
            else:
                raise ValueError("SimulatedGameServer needs a publisher, a matchmaker or a url")
        elif server_id is not None and server_id != publisher.server_id:
            raise ValueError("server_id differs from the publisher's")
        self._publisher = publisher
        self._last_seq: dict[str, int] = {}
        self._alive = True
        self.sent: list[SentEntry] = []
        self.dropped = 0  # events a dead server, or one that deleted their game, did not send
        self.deleted: set[str] = set()  # games the matchmaker told this server to drop

    # -- properties --------------------------------------------------------------------------

    @property
    def publisher(self) -> Any:
        return self._publisher

    @property
    def server_id(self) -> str:
        return str(self._publisher.server_id)

    @property
    def stream(self) -> str:
        return str(self._publisher.stream)

    @property
    def alive(self) -> bool:
        return self._alive

    # -- building and sending events ---------------------------------------------------------

    def next_seq(self, game: GameLike) -> int:
        """The next seq for the game: above the last one, and at least the clock in us."""
        gid = _game_id(game)
        seq = max(self._last_seq.get(gid, 0) + 1, time.time_ns() // 1_000)
        self._last_seq[gid] = seq
        return seq

    def prepare(
        self,
        game: GameLike,
        type: Union[EventType, str],
        player_id: Optional[str] = None,
        *,
        server_id: Optional[str] = None,
    ) -> dict[str, str]:
        """The wire fields of one event, seq stamped now; send them later with `send`.

        Preparing several events then sending them in another order is how a network
        reorders them: the later ones carry the higher seq.
        """
        type_name = type.value if isinstance(type, EventType) else str(type)
        fields = {
            "type": type_name,
            "game_id": _game_id(game),
            "server_id": server_id or self.server_id,
        }
        if player_id is not None:
            fields["player_id"] = player_id
        fields["ts"] = str(_now_ms())
        fields["seq"] = str(self.next_seq(game))
        return fields

    def send(self, fields: Mapping[str, str], kind: str = "event") -> Optional[str]:
        """Publishes `fields` exactly as given; returns the entry id (None when dead, or when
        the fields name a game this server deleted)."""
        fields = dict(fields)
        if not self._alive or fields.get("game_id") in self.deleted:
            self.dropped += 1
            return None
        entry_id: str = self._publisher.publish_raw(fields)
        self.sent.append(SentEntry(entry_id, fields, kind))
        return entry_id

    def _event(self, game: GameLike, type: EventType, player_id: Optional[str] = None) -> Optional[str]:
        return self.send(self.prepare(game, type, player_id))

    # -- the lifecycle, step by step ---------------------------------------------------------

    def creator_joins(self, game: GameLike, player_id: Optional[str] = None) -> Optional[str]:
        """The creator's socket connected (player_id defaults to game.creator_id)."""
        if player_id is None:
            player_id = game.creator_id  # type: ignore[union-attr]
        return self._event(game, EventType.CREATOR_JOINED, player_id)

    def player_joins(self, game: GameLike, player_id: str) -> Optional[str]:
        return self._event(game, EventType.PLAYER_JOINED, player_id)

    def player_leaves(self, game: GameLike, player_id: str) -> Optional[str]:
        return self._event(game, EventType.PLAYER_LEFT, player_id)

    def all_players_joined(self, game: GameLike) -> Optional[str]:
        return self._event(game, EventType.ALL_PLAYERS_JOINED)

    def start(self, game: GameLike) -> Optional[str]:
        return self._event(game, EventType.GAME_STARTED)

    def heartbeat(self, game: GameLike) -> Optional[str]:
        return self._event(game, EventType.HEARTBEAT)

    def end(self, game: GameLike) -> Optional[str]:
        return self._event(game, EventType.GAME_ENDED)

    # -- misbehaviour ------------------------------------------------------------------------

    def duplicate(self, entry: Union[SentEntry, str, None] = None) -> Optional[str]:
        """Republishes a sent entry (default: the last event) with the very same fields and seq."""
        if entry is None:
            events = [e for e in self.sent if e.kind == "event"]
            if not events:
                raise ValueError("nothing sent yet to duplicate")
            entry = events[-1]
        elif isinstance(entry, str):
            matches = [e for e in self.sent if e.entry_id == entry]
            if not matches:
                raise ValueError(f"entry {entry} was not sent by this server")
            entry = matches[0]
        return self.send(entry.fields, kind="duplicate")

    def out_of_order(
        self, game: GameLike, steps: Sequence[Union[EventType, tuple[EventType, str]]]
    ) -> list[Optional[str]]:
        """Stamps `steps` in the given order, then publishes them in reverse.

        Returns the entry ids in the order the steps were given. The earlier steps arrive
        after a higher seq was applied. What the matchmaker makes of them follows the seq rule
        (SPEC section 3): a lifecycle step whose state was already passed is a duplicate, except
        a creator_joined, which still seats a creator not seen yet; a roster step is a
        duplicate only when a newer roster event of the same player was applied (a join
        overtaken by that player's leave), and applies when the newer events were about other
        players; a heartbeat always applies. The roster ends as the publish order leaves it: a
        join that overtook the leave freeing its seat is held until that leave arrives.
        """
        prepared = []
        for step in steps:
            type_, player = (step, None) if isinstance(step, EventType) else step
            prepared.append(self.prepare(game, type_, player))
        ids = [self.send(f) for f in reversed(prepared)]
        return list(reversed(ids))

    def send_as(
        self,
        server_id: str,
        game: GameLike,
        type: EventType = EventType.HEARTBEAT,
        player_id: Optional[str] = None,
    ) -> Optional[str]:
        """An event for `game` claiming to come from another server (rejected: wrong server)."""
        return self.send(self.prepare(game, type, player_id, server_id=server_id), kind="wrong_server")

    def send_garbage(self, kind: str, game: Optional[GameLike] = None) -> Optional[str]:
        """Publishes one malformed entry of `kind` (see GARBAGE_KINDS)."""
        gid = _game_id(game) if game is not None else "no-such-game"
        return self.send(garbage_fields(kind, self.server_id, gid), kind=kind)

    def delete(self, game: GameLike) -> bool:
        """The matchmaker's order to drop `game` (it was reaped). True the first time; False for
        a game already deleted, so an order delivered twice is harmless. Nothing is published
        for a deleted game afterwards. A dead server still takes the order: its host is what
        frees the game's resources."""
        gid = _game_id(game)
        if gid in self.deleted:
            return False
        self.deleted.add(gid)
        return True

    def die(self) -> None:
        """Silent death: from now on this server publishes nothing, not even game_ended."""
        if self._alive:
            log.debug("simulated server %s dies", self.server_id)
        self._alive = False

    # -- the whole lifecycle -----------------------------------------------------------------

    def play(
        self,
        game: Any,
        players: Optional[Iterable[str]] = None,
        *,
        creator_connects: bool = True,
        heartbeats: int = 1,
        announce_full: bool = True,
        end: bool = True,
        die_in: Optional[str] = None,
        duplicate_each: bool = False,
    ) -> list[str]:
        """Plays `game` from creator_joined to game_ended; returns the entry ids sent.

        players: the others who join (default: enough to fill the game, "<game>-p1", ...).
        creator_connects=False: the creator never connects; nothing at all is sent.
        announce_full: send all_players_joined once the roster is full.
        die_in: "lobby" (after the players joined, before the start) or "active" (after the
        heartbeats, before the end): the server dies silently there.
        duplicate_each: every event is delivered twice (at-least-once delivery). The second
        copy is a duplicate, except a heartbeat's, which is applied again (it only refreshes
        the score).
        """
        if die_in not in (None, "lobby", "active"):
            raise ValueError("die_in must be None, 'lobby' or 'active'")
        if players is None:
            players = [f"{game.id}-p{i}" for i in range(1, game.capacity)]
        players = list(players)
        if 1 + len(players) > game.capacity:
            raise ValueError(f"{len(players)} players do not fit a game of capacity {game.capacity}")
        ids: list[str] = []

        def emit(entry_id: Optional[str]) -> None:
            if entry_id is None:
                return
            ids.append(entry_id)
            if duplicate_each:
                dup = self.duplicate(entry_id)
                if dup is not None:
                    ids.append(dup)

        if not creator_connects:
            return ids
        emit(self.creator_joins(game))
        for player in players:
            emit(self.player_joins(game, player))
        if announce_full and 1 + len(players) == game.capacity:
            emit(self.all_players_joined(game))
        if die_in == "lobby":
            self.die()
            return ids
        emit(self.start(game))
        for _ in range(heartbeats):
            emit(self.heartbeat(game))
        if die_in == "active":
            self.die()
            return ids
        if end:
            emit(self.end(game))
        return ids
