"""create_games: many games in one guarded commit, all or none, with create_game's checks and
errors (each request named by its position), on both backends and from game_data.aio."""

from __future__ import annotations

import asyncio

import pytest
import redis

import game_data
from game_data import GameState, aio


def requests(prefix: str, n: int) -> list[dict]:
    return [{"creator_id": f"c{i}", "capacity": 2 + i % 7, "server_id": "gs-1",
             "metadata": {"mode": "duel" if i % 2 else "ffa"}, "game_id": f"{prefix}{i}"}
            for i in range(n)]


def test_every_game_is_created_pending_at_one_time(mm):
    made = mm.create_games(requests("b", 20))
    assert [g.id for g in made] == [f"b{i}" for i in range(20)]
    assert {g.created_at for g in made} == {made[0].created_at}
    assert all(g.state is GameState.CREATED for g in made)
    assert [mm.get_game(g.id) for g in made] == made
    assert mm.counts()["pending"] == 20
    assert made[3].metadata == {"mode": "duel"} and made[3].capacity == 5


def test_ids_are_generated_when_not_given(mm):
    made = mm.create_games([{"creator_id": "a", "capacity": 2, "server_id": "gs-1"}] * 3)
    assert len({g.id for g in made}) == 3
    assert all(mm.get_game(g.id) == g for g in made)


def test_a_taken_id_creates_nothing_and_names_the_taken_ids(mm):
    mm.create_game(creator_id="x", capacity=2, server_id="gs-1", game_id="b4")
    with pytest.raises(game_data.GameExistsError, match="'b4'") as info:
        mm.create_games(requests("b", 8))
    assert "'b5'" not in str(info.value)
    assert [i for i in range(8) if mm.get_game(f"b{i}") is not None] == [4]
    assert mm.counts()["pending"] == 1


@pytest.mark.parametrize("change, message", [
    (lambda r: r[1].pop("creator_id"), r"games\[1\]: creator_id is required"),
    (lambda r: r[2].update(capacity=0), "capacity"),
    (lambda r: r[0].update(capacity="4"), r"games\[0\]\.capacity"),
    (lambda r: r[1].update(colour="red"), r"games\[1\]: unknown key 'colour'"),
    (lambda r: r[2].update(game_id="b0"), "given twice"),
    (lambda r: r[0].update(game_id="no spaces"), "game_id"),
    (lambda r: r[1].update(metadata={"k": float("nan")}), r"games\[1\]\.metadata"),
    (lambda r: r.append("not a dict"), r"games\[3\] must be a dict"),
])
def test_a_bad_request_is_refused_before_anything_is_written(mm, change, message):
    batch = requests("b", 3)
    change(batch)
    with pytest.raises(game_data.InvalidArgumentError, match=message):
        mm.create_games(batch)
    assert mm.counts()["pending"] == 0


def test_batches_are_at_most_a_thousand_games(mm):
    with pytest.raises(game_data.InvalidArgumentError, match="more than 1000"):
        mm.create_games(requests("o", 1001))
    with pytest.raises(game_data.InvalidArgumentError, match="list of dicts"):
        mm.create_games({"creator_id": "a", "capacity": 2, "server_id": "gs-1"})
    assert mm.counts()["pending"] == 0
    assert len(mm.create_games(requests("o", 1000))) == 1000
    assert mm.create_games([]) == []


def test_a_corrupted_set_refuses_the_batch_and_takes_no_id(redis_server, gd_namespace):
    mm = game_data.connect(redis_server.url, namespace=gd_namespace)
    r = redis.Redis(host=redis_server.host, port=redis_server.port)
    pending = f"{gd_namespace}:{{0}}:pending"
    r.xadd(pending, {"x": "y"})
    with pytest.raises(game_data.GameDataError, match="storage refused the write"):
        mm.create_games(requests("b", 5))
    assert not any(r.exists(f"{gd_namespace}:{{0}}:game:b{i}") for i in range(5))
    r.delete(pending)
    assert len(mm.create_games(requests("b", 5))) == 5


def test_the_awaitable_twin_creates_the_same(backend_url, gd_namespace):
    amm = aio.AsyncMatchmaker(game_data.connect(backend_url, namespace=gd_namespace))

    async def run() -> list:
        return await amm.create_games(requests("a", 4))

    made = asyncio.run(run())
    assert [g.id for g in made] == ["a0", "a1", "a2", "a3"]
    assert amm.sync.counts()["pending"] == 4
