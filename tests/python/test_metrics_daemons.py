"""`game-data consume --metrics-port` and `game-data reap --metrics-port` (SPEC section 8):
the daemons, run as child processes against a private redis-server, serve /metrics over HTTP
while they run; the counters match what was sent, dead letters included; the text follows
the format's rules; SIGTERM stops the daemon and its server."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

import game_data
from game_data import Event, EventType
from game_data.testing import wait_for

from cli_daemons import CLI, LineReader, spawned_with_metrics
from exposition import check_exposition, samples, scrape, series

SERVER = "gs-1"


class Daemon:
    """A `game-data` daemon child serving its metrics (cli_daemons.spawned_with_metrics)."""

    def __init__(self, proc: subprocess.Popen, reader: LineReader, url: str) -> None:
        self.proc, self.reader, self.url = proc, reader, url

    def text(self) -> str:
        return self.reader.text()

    def metrics(self) -> dict[str, float]:
        return samples(check_exposition(scrape(self.url)))

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        self.reader.join()
        return code


@contextlib.contextmanager
def daemon(*args: str) -> Iterator[Daemon]:
    with spawned_with_metrics(args) as (proc, reader, url):
        yield Daemon(proc, reader, url)


def consumed(metrics: dict[str, float]) -> float:
    return sum(v for k, v in metrics.items() if k.startswith("game_data_events_total{"))


def stop_cleanly(d: Daemon) -> None:
    """SIGTERM: the daemon exits 0 without a traceback and no longer serves its metrics."""
    assert d.stop() == 0
    assert "Traceback" not in d.text()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(d.url, timeout=2)


def test_consume_serves_counters_that_match_the_events_sent_including_dead_letters(redis_url, gd_namespace):
    mm = game_data.connect(redis_url, namespace=gd_namespace)
    games = [mm.create_game(creator_id=f"c{i}", capacity=4, server_id=SERVER) for i in range(3)]
    pub = mm.publisher(SERVER)
    with daemon("consume", "--url", redis_url, "--namespace", gd_namespace, "--block-ms", "20") as d:
        for g in games:
            pub.creator_joined(g.id, player_id=g.creator_id)
            pub.player_joined(g.id, player_id=f"{g.id}-p1")
        pub.creator_joined(games[0].id, player_id=games[0].creator_id)          # duplicate
        pub.game_started(games[1].id)
        pub.heartbeat("no-such-game")                                          # dead letter
        mm.publisher("gs-other").game_started(games[2].id)                     # dead letter: wrong server
        pub.publish_raw({"type": "teleported", "game_id": games[0].id, "server_id": SERVER})  # dead letter
        sent = 11
        # Until the last batch is through: events are counted as they are applied, dead letters
        # once written, and the entries stay pending until acknowledged after that.
        metrics = wait_for(lambda: (m := d.metrics()) and consumed(m) == sent
                           and m["game_data_dead_letters_total"] == 3
                           and m["game_data_consumer_pending"] == 0 and m,
                           what="the daemon to consume every event")

        def events(type_: str, status: str) -> float:
            return metrics[series("game_data_events_total", type=type_, status=status)]

        assert events("creator_joined", "applied") == 3
        assert events("creator_joined", "duplicate") == 1
        assert events("player_joined", "applied") == 3
        assert events("game_started", "applied") == 1
        assert events("heartbeat", "rejected") == 1
        assert events("game_started", "rejected") == 1
        assert events("invalid", "rejected") == 1
        assert metrics["game_data_dead_letters_total"] == 3 == mm.stream_length(f"{gd_namespace}:events:dead")
        assert metrics["game_data_events_lost_total"] == 0
        # Read at scrape time: the group has read and acknowledged everything.
        assert metrics["game_data_consumer_lag"] == 0 and metrics["game_data_consumer_pending"] == 0
        assert metrics[series("game_data_games", set="lobby")] == 2
        assert metrics[series("game_data_games", set="active")] == 1
        assert metrics["game_data_apply_seconds_count"] >= 1
        stop_cleanly(d)


def test_consume_shows_lag_while_entries_wait(redis_url, gd_namespace):
    mm = game_data.connect(redis_url, namespace=gd_namespace)
    game = mm.create_game(creator_id="alice", capacity=4, server_id=SERVER)
    with daemon("consume", "--url", redis_url, "--namespace", gd_namespace, "--block-ms", "20") as d:
        first = wait_for(lambda: (m := d.metrics()) and "game_data_consumer_lag" in m and m,
                         what="the lag gauge")
        assert first["game_data_consumer_lag"] == 0
        mm.publisher(SERVER).heartbeat(game.id)
        wait_for(lambda: d.metrics()[series("game_data_events_total", type="heartbeat", status="applied")] == 1,
                 what="the heartbeat to be applied")
        stop_cleanly(d)


def test_reap_serves_what_it_reaped_per_set(redis_url, gd_namespace):
    mm = game_data.connect(redis_url, namespace=gd_namespace)
    with daemon("reap", "--url", redis_url, "--namespace", gd_namespace, "--interval-ms", "50",
                "--max-age-ms", "pending=100,lobby=100,active=100") as d:
        before = d.metrics()
        assert all(before[series("game_data_reaped_total", set=s)] == 0 for s in ("pending", "lobby", "active"))
        pending = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
        lobby = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
        active = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
        for g in (lobby, active):
            mm.apply(Event(type=EventType.CREATOR_JOINED, game_id=g.id, server_id=SERVER, player_id="alice"))
        mm.apply(Event(type=EventType.GAME_STARTED, game_id=active.id, server_id=SERVER))
        metrics = wait_for(
            lambda: (m := d.metrics()) and sum(m[series("game_data_reaped_total", set=s)]
                                               for s in ("pending", "lobby", "active")) == 3 and m,
            what="the reaper to reap the three games")
        assert {s: metrics[series("game_data_reaped_total", set=s)] for s in ("pending", "lobby", "active")} == {
            "pending": 1, "lobby": 1, "active": 1}
        assert all(metrics[series("game_data_games", set=s)] == 0 for s in ("pending", "lobby", "active"))
        assert all(mm.get_game(g.id) is None for g in (pending, lobby, active))
        stop_cleanly(d)


def test_a_taken_metrics_port_fails_the_daemon_at_start(redis_url, gd_namespace):
    mm = game_data.connect(redis_url, namespace=gd_namespace)
    from game_data import prometheus

    with prometheus.start(mm) as taken:
        result = subprocess.run([*CLI, "reap", "--url", redis_url, "--namespace", gd_namespace,
                                 "--metrics-port", str(taken.port)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Address already in use" in result.stderr and "Traceback" not in result.stderr


def test_a_metrics_port_out_of_range_is_a_usage_error(redis_url):
    result = subprocess.run([*CLI, "consume", "--url", redis_url, "--metrics-port", "65536"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--metrics-port" in result.stderr
