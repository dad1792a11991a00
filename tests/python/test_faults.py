"""Faults and hostile input at the Python boundary: a stream deleted under a blocked consumer,
bytes that are not UTF-8, strings that cannot be UTF-8, out-of-range options, and the test
server's own raw client on large replies."""

from __future__ import annotations

import threading
import time

import pytest
import redis

import game_data
from game_data import ApplyStatus, GameState
from game_data.testing import RedisServer, wait_for


def test_a_consumer_survives_its_stream_being_deleted_while_it_blocks(redis_server: RedisServer,
                                                                      gd_namespace: str) -> None:
    mm = game_data.connect(redis_server.url, namespace=gd_namespace)
    consumer = mm.consumer(name="blocked")
    consumer.poll(count=10, block_ms=0)  # creates the group
    raw = redis.Redis(port=redis_server.port)
    outcome: list[object] = []
    poller = threading.Thread(target=lambda: outcome.append(_poll_or_error(consumer)))
    poller.start()
    wait_for(lambda: any(c.get("cmd") == "xreadgroup" for c in raw.client_list()),
             what="the consumer to block in XREADGROUP")
    raw.delete(mm.default_stream)  # Redis answers the blocked read with UNBLOCKED
    poller.join(timeout=30)
    assert outcome and not isinstance(outcome[0], Exception), outcome
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    mm.publisher(server_id="gs-1").creator_joined(game.id, player_id="alice")
    results = consumer.poll(count=10, block_ms=0)
    assert [(r.status, r.state) for r in results] == [(ApplyStatus.APPLIED, GameState.CREATOR_JOINED)]


def _poll_or_error(consumer: game_data.Consumer) -> object:
    try:
        return consumer.poll(count=10, block_ms=3000)
    except Exception as exc:  # recorded for the assertion in the test thread
        return exc


def test_entries_with_bytes_that_are_not_utf8_stay_readable(redis_server: RedisServer,
                                                            gd_namespace: str) -> None:
    mm = game_data.connect(redis_server.url, namespace=gd_namespace)
    raw = redis.Redis(port=redis_server.port)
    raw.xadd(mm.default_stream, {b"type": b"\xff\xfe", b"game_id": b"g1", b"server_id": b"gs-1"})
    results = mm.consumer(name="bytes").poll(count=10, block_ms=0)
    assert [r.status for r in results] == [ApplyStatus.REJECTED]
    [(_, fields)] = mm.stream_entries(mm.default_stream + ":dead")
    assert fields["type"].encode("utf-8", "surrogateescape") == b"\xff\xfe"
    assert fields["error"] == "unknown event type"


@pytest.mark.parametrize("fields", [{"type": "\ud800"}, {"\udfff": "heartbeat"}], ids=["value", "name"])
def test_fields_that_cannot_be_utf8_are_a_value_error(fields: dict[str, str]) -> None:
    pub = game_data.connect("memory://").publisher(server_id="gs-1")
    with pytest.raises(game_data.InvalidArgumentError):
        pub.publish_raw(fields)


def test_an_event_type_that_cannot_be_utf8_is_a_value_error() -> None:
    with pytest.raises(game_data.InvalidArgumentError):
        game_data.Event(type="\ud800", game_id="g1", server_id="gs-1")


def test_reap_refuses_a_negative_time() -> None:
    mm = game_data.connect("memory://")
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    with pytest.raises(ValueError):
        mm.reap(now=-(2**63))
    assert mm.get_game(game.id) is not None


@pytest.mark.parametrize("block_ms", [2**63 - 1, 3_600_001, -1])
@pytest.mark.parametrize("url", ["memory://", "redis"])
def test_a_poll_blocking_beyond_the_limit_is_a_value_error(block_ms: int, url: str,
                                                          redis_server: RedisServer) -> None:
    mm = game_data.connect(redis_server.url if url == "redis" else url, namespace=f"b{time.monotonic_ns()}")
    consumer = mm.consumer(name="bounded")
    with pytest.raises(game_data.InvalidArgumentError, match="block_ms"):
        consumer.poll(count=10, block_ms=block_ms)
    with pytest.raises(game_data.InvalidArgumentError, match="block_ms"):
        consumer.run(count=10, block_ms=block_ms)  # refused at once, not retried forever
    assert consumer.poll(count=10, block_ms=0) == []


@pytest.mark.parametrize("options", [{"claim_idle_ms": 2**63 - 1}, {"claim_idle_ms": 0}],
                         ids=["huge", "zero"])
def test_claim_idle_out_of_range_is_refused(options: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="claim_idle_ms"):
        game_data.connect("memory://").consumer(name="c", **options)


@pytest.mark.parametrize("count", [0, 10_001, 2**63 - 1])
def test_a_poll_count_out_of_range_is_a_value_error(count: int) -> None:
    with pytest.raises(ValueError, match="count"):
        game_data.connect("memory://").consumer(name="c").poll(count=count, block_ms=0)


@pytest.mark.parametrize("options", [{"tombstone_ttl_ms": 2**63 - 1}, {"tombstone_ttl_ms": 0},
                                     {"max_age_ms": {"lobby": 2**62}}, {"pool_size": 1025}],
                         ids=["huge-ttl", "zero-ttl", "huge-age", "big-pool"])
def test_out_of_range_options_are_refused_at_connect(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        game_data.connect("memory://", **options)


def test_the_test_servers_raw_client_reads_whole_large_replies(redis_server: RedisServer) -> None:
    raw = redis.Redis(port=redis_server.port)
    key = f"big-{time.monotonic_ns()}"
    for i in range(3000):
        raw.xadd(key, {"n": str(i), "pad": "x" * 50})
    first = redis_server.command("XRANGE", key, "-", "+")
    second = redis_server.command("XRANGE", key, "-", "+")
    assert first == second
    assert first.startswith(b"*3000\r\n")
    assert first.endswith(b"$4\r\n2999\r\n$3\r\npad\r\n$50\r\n" + b"x" * 50 + b"\r\n")
