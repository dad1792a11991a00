"""asyncio: awaitable versions of the blocking calls.

    from game_data import aio

    mm = await aio.connect("redis://127.0.0.1:6379/0")
    game = await mm.create_game(creator_id="alice", capacity=4, server_id="gs-1")
    results = await mm.consumer(name="mm-1").poll(count=100, block_ms=1000)

Each call runs the blocking one in a worker thread (``asyncio.to_thread``, the loop's default
executor). The compiled core releases the GIL for the whole call, so the event loop keeps
running meanwhile, a blocking ``poll(block_ms=...)`` included. The arguments, defaults, results
and errors are those of the blocking API (:class:`game_data.Matchmaker`,
:class:`game_data.EventPublisher`, :class:`game_data.Consumer`); ``.sync`` is the blocking
object underneath. Cancelling an awaiting task does not stop the call in its thread: it
finishes, and its effect stays (a poll's batch is applied and acknowledged); only the result
is dropped. Every concurrent call holds one executor thread (and, on Redis, one pooled
connection) for its duration.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import _core
from .matchmaker import Matchmaker
from .matchmaker import connect as _connect
from .streams import Consumer, EventPublisher

if TYPE_CHECKING:
    from typing import Concatenate, ParamSpec

    _P = ParamSpec("_P")

__all__ = ["AsyncConsumer", "AsyncEventPublisher", "AsyncMatchmaker", "connect", "connect_publisher"]

_R = TypeVar("_R")
_S = TypeVar("_S")


class _AwaitableMethod:
    """A descriptor: ``wrapper.name(...)`` awaits ``wrapper.sync.name(...)`` in a worker thread,
    with the blocking method's name, signature and docstring."""

    def __init__(self, method: Callable[..., Any]) -> None:
        self._method = method
        self.__doc__ = method.__doc__

    def __get__(self, wrapper: Any, owner: type | None = None) -> Any:
        if wrapper is None:
            return self
        method, target = self._method, wrapper.sync

        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, target, *args, **kwargs)

        return call

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Called on the class, as ``AsyncMatchmaker.get_game(amm, id)``: the same coroutine."""
        return self.__get__(args[0])(*args[1:], **kwargs)


def _awaitable(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[Any, _P], Awaitable[_R]]:
    """The awaitable twin of a blocking method, typed as such for checkers and users' IDEs."""
    return _AwaitableMethod(method)


class AsyncMatchmaker:
    """A :class:`game_data.Matchmaker` whose blocking calls are awaitable. Made by
    :func:`connect`, or ``AsyncMatchmaker(mm)`` around a matchmaker you have."""

    def __init__(self, matchmaker: Matchmaker) -> None:
        self.sync = matchmaker

    create_game = _awaitable(_core.Matchmaker.create_game)
    get_game = _awaitable(_core.Matchmaker.get_game)
    get_open_games = _awaitable(_core.Matchmaker.get_open_games)
    open_games_page = _awaitable(_core.Matchmaker.open_games_page)
    apply = _awaitable(_core.Matchmaker.apply)
    apply_many = _awaitable(_core.Matchmaker.apply_many)
    reap = _awaitable(_core.Matchmaker.reap)
    counts = _awaitable(_core.Matchmaker.counts)
    stats = _awaitable(_core.Matchmaker.stats)
    reserve_seat = _awaitable(_core.Matchmaker.reserve_seat)
    cancel_reservation = _awaitable(_core.Matchmaker.cancel_reservation)
    quick_join = _awaitable(_core.Matchmaker.quick_join)

    def publisher(self, *args: Any, **kwargs: Any) -> AsyncEventPublisher:
        """:meth:`game_data.Matchmaker.publisher`, awaitable (same arguments; opens nothing)."""
        return AsyncEventPublisher(self.sync.publisher(*args, **kwargs))

    def consumer(self, *args: Any, **kwargs: Any) -> AsyncConsumer:
        """:meth:`game_data.Matchmaker.consumer`, awaitable (same arguments; reads nothing yet)."""
        return AsyncConsumer(self.sync.consumer(*args, **kwargs))

    @property
    def namespace(self) -> str:
        return self.sync.namespace

    def __repr__(self) -> str:
        return f"AsyncMatchmaker({self.sync!r})"


class AsyncEventPublisher:
    """A :class:`game_data.EventPublisher` whose calls are awaitable; each returns the entry id."""

    def __init__(self, publisher: EventPublisher) -> None:
        self.sync = publisher

    publish = _awaitable(_core.EventPublisher.publish)
    publish_raw = _awaitable(_core.EventPublisher.publish_raw)
    creator_joined = _awaitable(_core.EventPublisher.creator_joined)
    player_joined = _awaitable(_core.EventPublisher.player_joined)
    player_left = _awaitable(_core.EventPublisher.player_left)
    all_players_joined = _awaitable(_core.EventPublisher.all_players_joined)
    game_started = _awaitable(_core.EventPublisher.game_started)
    game_ended = _awaitable(_core.EventPublisher.game_ended)
    heartbeat = _awaitable(_core.EventPublisher.heartbeat)

    @property
    def server_id(self) -> str:
        return self.sync.server_id

    @property
    def stream(self) -> str:
        return self.sync.stream


class AsyncConsumer:
    """A :class:`game_data.Consumer` whose ``poll`` (and other reads) are awaitable. Poll it from
    one task at a time, as the blocking one from one thread; ``stats`` reads at once."""

    def __init__(self, consumer: Consumer) -> None:
        self.sync = consumer

    poll = _awaitable(_core.Consumer.poll)
    trim_acknowledged = _awaitable(_core.Consumer.trim_acknowledged)
    group_info = _awaitable(_core.Consumer.group_info)

    @property
    def stats(self) -> dict[str, int]:
        return self.sync.stats

    @property
    def stream(self) -> str:
        return self.sync.stream


async def connect(*args: Any, **kwargs: Any) -> AsyncMatchmaker:
    """:func:`game_data.connect` in a thread (it connects, and checks the server): the same
    arguments; returns an :class:`AsyncMatchmaker`."""
    return AsyncMatchmaker(await asyncio.to_thread(_connect, *args, **kwargs))


async def connect_publisher(*args: Any, **kwargs: Any) -> AsyncEventPublisher:
    """``EventPublisher(url, server_id, ...)`` in a thread (it opens its own connection): the
    same arguments; for a game server that has no matchmaker handle."""
    return AsyncEventPublisher(await asyncio.to_thread(EventPublisher, *args, **kwargs))
