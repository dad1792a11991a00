"""asyncio: awaitable versions of the blocking calls.

    from game_data import aio

    mm = await aio.connect("redis://127.0.0.1:6379/0")
    game = await mm.create_game(creator_id="alice", capacity=4, server_id="gs-1")
    results = await mm.consumer().poll(count=100, block_ms=1000)

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
_W = TypeVar("_W")


class _Twin:
    """A descriptor: ``wrapper.name(...)`` calls ``wrapper.sync.name(...)`` with the same
    arguments: awaited in a worker thread, or (given ``wrap``) at once, its result wrapped. It
    carries the blocking method's name, signature and docstring."""

    def __init__(self, method: Callable[..., Any], wrap: Callable[[Any], Any] | None = None) -> None:
        self._method, self._wrap = method, wrap
        self.__doc__ = method.__doc__

    def __get__(self, wrapper: Any, owner: type | None = None) -> Any:
        if wrapper is None:
            return self
        method, target, wrap = self._method, wrapper.sync, self._wrap

        if wrap is not None:
            @functools.wraps(method)
            def now(*args: Any, **kwargs: Any) -> Any:
                return wrap(method(target, *args, **kwargs))

            return now

        @functools.wraps(method)
        async def in_thread(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, target, *args, **kwargs)

        return in_thread

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Called on the class, as ``AsyncMatchmaker.get_game(amm, id)``: the same call."""
        return self.__get__(args[0])(*args[1:], **kwargs)


# Typed for checkers and IDEs as what they are: the blocking method's arguments, and an
# awaitable of its result (or the wrapped result).
def _awaitable(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[Any, _P], Awaitable[_R]]:
    return _Twin(method)


def _wrapped(method: Callable[Concatenate[_S, _P], _R],
             wrap: Callable[[_R], _W]) -> Callable[Concatenate[Any, _P], _W]:
    return _Twin(method, wrap)


def _opened_in_thread(opener: Callable[_P, _R], wrap: Callable[[_R], _W], doc: str) -> Callable[_P, Awaitable[_W]]:
    """An async function that runs ``opener`` (it connects) in a worker thread and wraps what it
    returns; the same arguments as ``opener``."""

    async def open_(*args: _P.args, **kwargs: _P.kwargs) -> _W:
        return wrap(await asyncio.to_thread(opener, *args, **kwargs))

    open_.__doc__ = doc
    return open_


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


class AsyncMatchmaker:
    """A :class:`game_data.Matchmaker` whose blocking calls are awaitable. Made by
    :func:`connect`, or ``AsyncMatchmaker(mm)`` around a matchmaker you have."""

    def __init__(self, matchmaker: Matchmaker) -> None:
        self.sync = matchmaker

    create_game = _awaitable(_core.Matchmaker.create_game)
    create_games = _awaitable(_core.Matchmaker.create_games)
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
    # Not awaitable: they open nothing (the matchmaker's backend is shared) and read nothing.
    publisher = _wrapped(Matchmaker.publisher, AsyncEventPublisher)
    consumer = _wrapped(Matchmaker.consumer, AsyncConsumer)

    @property
    def namespace(self) -> str:
        return self.sync.namespace

    def __repr__(self) -> str:
        return f"AsyncMatchmaker({self.sync!r})"


connect = _opened_in_thread(_connect, AsyncMatchmaker, """\
:func:`game_data.connect` in a worker thread (it connects, and checks the server): the same
arguments; returns an :class:`AsyncMatchmaker`.""")

connect_publisher = _opened_in_thread(EventPublisher, AsyncEventPublisher, """\
``EventPublisher(url, server_id, ...)`` in a worker thread (it opens its own connection): the
same arguments; returns an :class:`AsyncEventPublisher`. For a game server without a matchmaker
handle.""")
