"""Metrics (SPEC section 8): mm.stats() holds every SPEC name, counted in the C++ core, and
game_data.prometheus serves the same numbers at /metrics in the Prometheus text format."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

import game_data
from game_data import EventType, prometheus
from game_data.testing import drain

from exposition import check_exposition, samples, scrape, series

SPEC_FAMILIES = {
    "game_data_events_total": "counter",
    "game_data_games": "gauge",
    "game_data_reaped_total": "counter",
    "game_data_reservations_total": "counter",
    "game_data_dead_letters_total": "counter",
    "game_data_events_lost_total": "counter",
    "game_data_consumer_lag": "gauge",
    "game_data_consumer_pending": "gauge",
    "game_data_apply_seconds": "histogram",
}
SERVER = "gs-1"


def normalised(stats: dict[str, float]) -> dict[str, float]:
    """stats() keys with their labels sorted, as exposition.samples() writes them."""
    out = {}
    for key, value in stats.items():
        name, labels = prometheus.parse_series(key)
        out[series(name, **labels)] = float(value)
    return out


def events_total(stats: dict[str, float], **labels: str) -> float:
    return normalised(stats)[series("game_data_events_total", **labels)]


def test_the_core_table_names_every_spec_family_with_its_kind():
    families = {name: kind for name, kind, _help in game_data._core.METRIC_FAMILIES}
    for name, kind in SPEC_FAMILIES.items():
        assert families[name] == kind


def test_stats_hold_every_spec_counter_at_zero_from_the_start(mm):
    stats = normalised(mm.stats())
    want = [series("game_data_dead_letters_total"), series("game_data_events_lost_total"),
            series("game_data_apply_seconds_count"), series("game_data_apply_seconds_bucket", le="+Inf"),
            series("game_data_events_total", type="invalid", status="rejected")]
    want += [series("game_data_events_total", type=t.value, status=s.value)
             for t in EventType for s in game_data.ApplyStatus]
    want += [series("game_data_reaped_total", set=s) for s in ("pending", "lobby", "active")]
    want.append(series("game_data_reaped_dropped_total"))
    want += [series("game_data_reservations_total", outcome=o)
             for o in ("reserved", "quick_join", "cancelled", "no_game", "not open", "full", "already joined")]
    want += [series("game_data_backend_errors_total", kind=k) for k in ("connection", "timeout", "oom")]
    for key in want:
        assert stats[key] == 0, key
    assert {series("game_data_games", set=s) for s in ("pending", "lobby", "active")} <= set(stats)


def test_stats_count_what_the_consumer_applied_rejected_and_dead_lettered(stream_mm):
    game = stream_mm.create_game(creator_id="alice", capacity=4, server_id=SERVER)
    pub = stream_mm.publisher(SERVER)
    pub.creator_joined(game.id, player_id="alice")
    pub.creator_joined(game.id, player_id="alice")  # a duplicate
    pub.heartbeat("no-such-game")                    # unknown game: dead-lettered
    pub.publish_raw({"type": "teleported", "game_id": game.id, "server_id": SERVER})
    consumer = stream_mm.consumer(name="mm-1")
    results = drain(consumer)
    assert len(results) == 4

    stats = stream_mm.stats()
    assert events_total(stats, type="creator_joined", status="applied") == 1
    assert events_total(stats, type="creator_joined", status="duplicate") == 1
    assert events_total(stats, type="heartbeat", status="rejected") == 1
    assert events_total(stats, type="invalid", status="rejected") == 1
    assert stats["game_data_dead_letters_total"] == consumer.stats["dead_lettered"] == 2
    consumed = sum(v for k, v in stats.items() if k.startswith("game_data_events_total{"))
    c = consumer.stats
    assert consumed == c["applied"] + c["duplicate"] + c["rejected"] == 4
    assert stats['game_data_games{set="lobby"}'] == 1
    consumer.group_info()  # the consumer gauges are as of the consumer's last look (or this)
    stats = stream_mm.stats()
    assert stats["game_data_consumer_lag"] == 0 and stats["game_data_consumer_pending"] == 0


def test_stats_count_reservations_and_reaps_by_label(mm):
    game = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
    mm.apply(game_data.Event(type=EventType.CREATOR_JOINED, game_id=game.id, server_id=SERVER,
                             player_id="alice"))
    mm.reserve_seat(game.id, "bob")
    with pytest.raises(game_data.SeatUnavailableError):
        mm.reserve_seat(game.id, "carol")  # the last seat is bob's
    assert mm.quick_join("dave") is None
    mm.reap(now=mm.now() + mm.max_age_ms["lobby"] + 1)
    stats = normalised(mm.stats())
    assert stats[series("game_data_reservations_total", outcome="reserved")] == 1
    assert stats[series("game_data_reservations_total", outcome="full")] == 1
    assert stats[series("game_data_reservations_total", outcome="no_game")] == 1
    assert stats[series("game_data_reaped_total", set="lobby")] == 1
    assert stats[series("game_data_reaped_total", set="pending")] == 0
    assert stats[series("game_data_apply_seconds_count")] == 1


def test_parse_series_reads_names_labels_and_escapes():
    assert prometheus.parse_series("game_data_dead_letters_total") == ("game_data_dead_letters_total", {})
    assert prometheus.parse_series('x{a="1",b="not open"}') == ("x", {"a": "1", "b": "not open"})
    assert prometheus.parse_series(r'x{a="q\"uote",b="back\\slash",c="new\nline"}') == (
        "x", {"a": 'q"uote', "b": "back\\slash", "c": "new\nline"})
    with pytest.raises(ValueError):
        prometheus.parse_series('x{a="1"')
    with pytest.raises(ValueError):
        prometheus.parse_series("x{a=1}")


def test_a_scrape_serves_exactly_the_stats_in_the_text_format(stream_mm):
    game = stream_mm.create_game(creator_id="alice", capacity=4, server_id=SERVER)
    pub = stream_mm.publisher(SERVER)
    pub.creator_joined(game.id, player_id="alice")
    pub.heartbeat("no-such-game")
    consumer = stream_mm.consumer(name="mm-1")
    drain(consumer)
    with prometheus.start(stream_mm, "127.0.0.1", 0) as exporter:
        families = check_exposition(scrape(exporter.url))
        stats = normalised(stream_mm.stats())
    for name, kind in SPEC_FAMILIES.items():
        assert families[name].type == kind, name
        assert families[name].help, name
    got = samples(families)
    # Every stats() series is served with its value, and nothing else is (the histogram's
    # _count is the +Inf bucket; the core's own _count agrees).
    assert got == stats
    assert got[series("game_data_events_total", type="creator_joined", status="applied")] == 1
    assert got[series("game_data_dead_letters_total")] == 1


def test_consumer_gauges_are_read_at_scrape_time(stream_mm):
    game = stream_mm.create_game(creator_id="alice", capacity=4, server_id=SERVER)
    consumer = stream_mm.consumer(name="mm-1")
    consumer.group_info()  # the group exists, at the start of the stream
    pub = stream_mm.publisher(SERVER)
    for _ in range(3):
        pub.heartbeat(game.id)
    with prometheus.start(stream_mm, before_scrape=(consumer.group_info,)) as exporter:
        before = samples(check_exposition(scrape(exporter.url)))
        drain(consumer)
        after = samples(check_exposition(scrape(exporter.url)))
    assert before["game_data_consumer_lag"] == 3 and before["game_data_consumer_pending"] == 0
    assert after["game_data_consumer_lag"] == 0
    assert after[series("game_data_events_total", type="heartbeat", status="applied")] == 3


def test_a_failing_before_scrape_hook_does_not_fail_the_scrape(mm):
    def broken() -> None:
        raise game_data.BackendConnectionError("down")

    with prometheus.start(mm, before_scrape=(broken,)) as exporter:
        families = check_exposition(scrape(exporter.url))
    assert "game_data_events_total" in families


def test_stats_still_serve_the_counters_while_redis_is_down(fresh_redis_server, gd_namespace):
    mm = game_data.connect(fresh_redis_server.url, namespace=gd_namespace, timeout_ms=500,
                           connect_timeout_ms=500)
    mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
    assert mm.stats()['game_data_games{set="pending"}'] == 1
    fresh_redis_server.stop()
    stats = mm.stats()
    assert stats['game_data_games{set="pending"}'] == 1  # the last value read
    errors = {k: v for k, v in stats.items() if k.startswith("game_data_backend_errors_total")}
    assert sum(errors.values()) == 1, errors


def test_close_stops_serving_and_frees_the_port(mm):
    exporter = prometheus.start(mm)
    url = exporter.url
    scrape(url)
    exporter.close()
    exporter.close()  # idempotent
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
    again = prometheus.start(mm, "127.0.0.1", exporter.port)  # the port is free again
    again.close()


def test_start_refuses_a_port_out_of_range(mm):
    with pytest.raises(ValueError):
        prometheus.start(mm, "127.0.0.1", 70000)


def test_register_offers_start_as_the_prometheus_exporter():
    offered = []

    class Registry:
        def add_exporter(self, name, start):
            offered.append((name, start))

    prometheus.register(Registry())
    assert offered == [("prometheus", prometheus.start)]
