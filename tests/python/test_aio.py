"""game_data.aio: awaitable versions of the blocking calls. A call awaited on a running event
loop leaves the loop running (a ticker task keeps ticking through a one-second blocking poll),
and every awaitable call does what its blocking twin does, errors included."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

import game_data
from game_data import ApplyStatus, Event, EventType, GameState, aio

T = TypeVar("T")


class Ticker:
    """A task that counts how often the event loop runs it: every 5 ms while the loop is free."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0.005)  # the ticker's period: what is measured is how often it runs

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    async def ticks_during(self, call: Callable[[], Awaitable[T]]) -> tuple[int, float, T]:
        """Ticks counted while `call` was awaited, and its duration in seconds."""
        await asyncio.sleep(0)  # let the ticker start
        before, started = self.ticks, time.monotonic()
        result = await call()
        return self.ticks - before, time.monotonic() - started, result


def test_an_awaited_blocking_poll_leaves_the_event_loop_running(stream_backend_url: str, gd_namespace: str) -> None:
    async def main() -> tuple[int, float, list[game_data.ApplyResult]]:
        mm = await aio.connect(stream_backend_url, namespace=gd_namespace)
        consumer = mm.consumer(name="t")
        with Ticker() as ticker:
            return await ticker.ticks_during(lambda: consumer.poll(count=10, block_ms=1000))

    ticks, seconds, results = asyncio.run(main())
    assert results == []
    assert seconds >= 0.9  # the poll really blocked for its block_ms
    # ~200 when the loop is free; a stalled loop counts 0 (see the next test). A loaded machine
    # may run the ticker late, so the bound is loose, far from both.
    assert ticks >= 20, f"the ticker ran {ticks} times during a {seconds:.2f}s poll"


def test_the_same_poll_called_without_aio_stalls_the_loop(stream_backend_url: str, gd_namespace: str) -> None:
    # The contrast that makes the test above meaningful: a blocking call on the loop's thread.
    async def main() -> tuple[int, float, list[game_data.ApplyResult]]:
        consumer = game_data.connect(stream_backend_url, namespace=gd_namespace).consumer(name="t")

        async def blocking_poll() -> list[game_data.ApplyResult]:
            return consumer.poll(count=10, block_ms=300)

        with Ticker() as ticker:
            return await ticker.ticks_during(blocking_poll)

    ticks, seconds, _ = asyncio.run(main())
    assert seconds >= 0.25 and ticks == 0


def test_awaitable_calls_do_what_the_blocking_ones_do(stream_backend_url: str, gd_namespace: str) -> None:
    async def main() -> None:
        mm = await aio.connect(stream_backend_url, namespace=gd_namespace, filter_keys=("mode",))
        assert isinstance(mm.sync, game_data.Matchmaker) and mm.namespace == gd_namespace
        game = await mm.create_game(creator_id="alice", capacity=3, server_id="gs-1", metadata={"mode": "duel"})
        assert (await mm.get_game(game.id)) == mm.sync.get_game(game.id) == game

        pub = mm.publisher(server_id="gs-1")
        assert pub.server_id == "gs-1" and pub.stream == f"{gd_namespace}:events"
        assert isinstance(await pub.creator_joined(game.id, player_id="alice"), str)
        consumer = mm.consumer(name="mm-1")
        results = await consumer.poll(count=100, block_ms=0)
        assert [(r.status, r.state) for r in results] == [(ApplyStatus.APPLIED, GameState.CREATOR_JOINED)]
        assert consumer.stats["applied"] == 1 and (await consumer.group_info())["pending"] == 0

        assert [g.id for g in await mm.get_open_games(limit=10, filters={"mode": "duel"})] == [game.id]
        page = await mm.open_games_page(limit=10)
        assert [g.id for g in page.games] == [game.id] and page.next_cursor is None

        reservation = await mm.reserve_seat(game.id, "bob", ttl_ms=60_000)
        assert reservation.player_id == "bob" and (await mm.get_game(game.id)).free_seats == 1
        assert await mm.cancel_reservation(game.id, "bob") is True
        joined = await mm.quick_join("carol", filters={"mode": "duel"})
        assert joined is not None and joined.game_id == game.id

        applied = await mm.apply(Event(type=EventType.PLAYER_JOINED, game_id=game.id, server_id="gs-1",
                                       player_id="carol"))
        assert applied.status is ApplyStatus.APPLIED
        many = await mm.apply_many([Event(type=EventType.GAME_STARTED, game_id=game.id, server_id="gs-1"),
                                    Event(type=EventType.HEARTBEAT, game_id=game.id, server_id="gs-1")])
        assert [r.status for r in many] == [ApplyStatus.APPLIED, ApplyStatus.APPLIED]
        assert await mm.counts() == {"pending": 0, "lobby": 0, "active": 1}
        assert (await mm.stats())["game_data_games{set=\"active\"}"] == 1

        stale = await mm.create_game(creator_id="dave", capacity=2, server_id="gs-1")
        reaped = await mm.reap(now=mm.sync.now() + 10 * 3_600_000)
        assert {g.id for g in reaped} == {game.id, stale.id}

    asyncio.run(main())


def test_awaitable_calls_raise_the_blocking_ones_errors(backend_url: str, gd_namespace: str) -> None:
    async def main() -> None:
        mm = await aio.connect(backend_url, namespace=gd_namespace)
        with pytest.raises(game_data.InvalidArgumentError):
            await mm.get_game("not a valid id")
        with pytest.raises(game_data.GameNotFoundError):
            await mm.reserve_seat("no-such-game", "bob")
        with pytest.raises(game_data.InvalidArgumentError):
            await mm.consumer(name="t").poll(count=0)
        with pytest.raises(game_data.InvalidArgumentError):
            await aio.connect("nonsense://")

    asyncio.run(main())


def test_a_publisher_of_its_own_reaches_the_matchmaker(redis_url: str, gd_namespace: str) -> None:
    async def main() -> None:
        mm = await aio.connect(redis_url, namespace=gd_namespace)
        game = await mm.create_game(creator_id="alice", capacity=2, server_id="gs-9")
        pub = await aio.connect_publisher(redis_url, "gs-9", namespace=gd_namespace)
        await pub.creator_joined(game.id, player_id="alice")
        await pub.game_ended(game.id)
        results = await mm.consumer(name="t").poll(count=10, block_ms=0)
        assert [r.state for r in results] == [GameState.CREATOR_JOINED, GameState.ENDED]

    asyncio.run(main())


def test_the_awaitable_methods_carry_the_blocking_ones_docs_and_names() -> None:
    assert aio.AsyncMatchmaker.reserve_seat.__doc__ == game_data.Matchmaker.reserve_seat.__doc__
    mm = aio.AsyncMatchmaker(game_data.connect("memory://"))
    assert mm.quick_join.__name__ == "quick_join"
    assert asyncio.iscoroutinefunction(mm.quick_join)
