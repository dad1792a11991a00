"""Entries removed from the stream before they were applied never vanish silently: they are
counted (ConsumerStats "lost", game_data_events_lost_total) and logged as errors, and the
group's lag stays right. The library never trims what a group has not acknowledged; trimming
what every group acknowledged is the consumer side's job (trim_acknowledged)."""

from __future__ import annotations

import time

import pytest

import game_data
from game_data import ApplyStatus

from conftest import STREAM_BACKENDS

LOST = "game_data_events_lost_total"


def wait_for(condition, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)  # polling a condition with a deadline
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def consume_until_accounted(consumer: game_data.Consumer, published: int) -> dict[str, int]:
    """Polls until every published entry is applied or counted lost."""

    def accounted() -> bool:
        consumer.poll(count=100, block_ms=10)
        stats = consumer.stats
        return stats["applied"] + stats["lost"] >= published

    wait_for(accounted, f"{published} entries to be applied or counted lost")
    return consumer.stats


def settled_lag(consumer: game_data.Consumer) -> int:
    def lag_zero() -> bool:
        consumer.poll(count=100, block_ms=10)
        return consumer.group_info()["lag"] == 0

    try:
        wait_for(lag_zero, "the lag to reach 0", timeout=5)
    except AssertionError:
        pass
    return consumer.group_info()["lag"]


@pytest.fixture
def mm(stream_mm: game_data.Matchmaker) -> game_data.Matchmaker:
    return stream_mm


def test_a_publisher_with_maxlen_loses_entries_and_every_one_is_counted(mm, capfd):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    consumer = mm.consumer(name="mm-1")
    publisher = mm.publisher("gs-1", maxlen=100)
    publisher.heartbeat(game.id)
    consume_until_accounted(consumer, 1)  # a consumer that is running, then falls behind
    for _ in range(2000):
        publisher.heartbeat(game.id)
    left = mm.stream_length(mm.default_stream)

    stats = consume_until_accounted(consumer, 2001)

    assert stats["applied"] == 1 + left
    assert stats["lost"] == 2000 - left
    assert mm.stats()[LOST] == 2000 - left
    assert settled_lag(consumer) == 0
    assert mm.stats()["game_data_consumer_lag"] == 0
    assert mm.stream_entries(f"{mm.default_stream}:dead") == []
    assert f"{2000 - left} entries were trimmed before group matchmaker read them" in capfd.readouterr().err


def test_the_publisher_never_trims_by_default(mm):
    publisher = mm.publisher("gs-1")
    for _ in range(300):
        publisher.heartbeat("g1")
    assert mm.stream_length(mm.default_stream) == 300


def test_trim_acknowledged_removes_what_every_group_acknowledged_and_nothing_else(mm):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    publisher = mm.publisher("gs-1")
    for _ in range(10):
        publisher.heartbeat(game.id)
    first = mm.consumer(name="a")
    late = mm.consumer(group="reporting", name="r")
    assert late.group_info() == {"pending": 0, "lag": 10}  # a group that has read nothing
    consume_until_accounted(first, 10)

    assert first.trim_acknowledged() == 0  # "reporting" still needs all ten
    results = late.poll(count=4, block_ms=0)
    assert first.trim_acknowledged() == 4
    assert mm.stream_length(mm.default_stream) == 6
    assert [r.status for r in results] == [ApplyStatus.APPLIED] * 4
    assert first.stats["trimmed_acknowledged"] == 4
    assert first.stats["lost"] == 0 and late.stats["lost"] == 0


def test_a_consumer_with_a_trim_interval_keeps_the_stream_short(mm):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    publisher = mm.publisher("gs-1")
    for _ in range(50):
        publisher.heartbeat(game.id)
    consumer = mm.consumer(name="trimmer", claim_idle_ms=2, trim_interval_ms=1)

    def trimmed() -> bool:
        consumer.poll(count=100, block_ms=1)
        return consumer.stats["applied"] == 50 and mm.stream_length(mm.default_stream) == 0

    wait_for(trimmed, "the applied entries to be trimmed")
    assert consumer.stats["trimmed_acknowledged"] == 50


@pytest.mark.parametrize("options", [{"trim_interval_ms": -1}, {"trim_interval_ms": 2**62},
                                     {"remove_idle_consumers_ms": -5}])
def test_trim_and_sweep_intervals_out_of_range_are_refused(mm, options):
    with pytest.raises(ValueError):
        mm.consumer(name="bad", **options)


if "redis" in STREAM_BACKENDS:

    def test_xadd_maxlen_zero_by_a_server_limited_to_xadd_is_counted(redis_url, gd_namespace, capfd):
        import redis

        mm = game_data.connect(redis_url, namespace=gd_namespace)
        game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
        consumer = mm.consumer(name="mm-1")
        consumer.poll(block_ms=0)
        client = redis.Redis.from_url(redis_url)
        for _ in range(501):  # each entry is trimmed by the very command that adds it
            client.xadd(mm.default_stream, {"type": "heartbeat", "game_id": game.id,
                                            "server_id": "gs-1"}, maxlen=0, approximate=False)
        client.close()

        stats = consume_until_accounted(consumer, 501)

        assert stats["lost"] == 501 and stats["applied"] == 0
        assert mm.stats()[LOST] == 501
        assert consumer.group_info() == {"pending": 0, "lag": 0}
        assert "501 entries were trimmed before group matchmaker read them" in capfd.readouterr().err
