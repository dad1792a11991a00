"""`game-data reap`: the janitor daemon (SPEC section 7). It reaps every --interval-ms, logs a
one-line summary, and stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

import game_data
from game_data import Event, EventType
from game_data.testing import RedisServer, wait_for
from game_data.testing.redis_server import free_port

from cli_daemons import CLI, LineReader, spawned

SERVER = "gs-1"
TINY_MAX_AGES = "pending=100,lobby=100,active=100"


@contextlib.contextmanager
def reaper(url: str, namespace: str, *extra: str) -> Iterator[tuple[subprocess.Popen, LineReader]]:
    """`game-data reap` as a child process; killed on the way out if still running."""
    with spawned(["reap", "--url", url, "--namespace", namespace, *extra]) as (proc, reader):
        wait_for(lambda: "started" in reader.text() or proc.poll() is not None, what="the reaper to start")
        yield proc, reader


def stale_games(mm: game_data.Matchmaker) -> dict[str, str]:
    """One game per set, by id -> set name."""
    pending = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
    lobby = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER, metadata={"mode": "duel"})
    active = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
    for game in (lobby, active):
        mm.apply(Event(type=EventType.CREATOR_JOINED, game_id=game.id, server_id=SERVER, player_id="alice"))
    mm.apply(Event(type=EventType.GAME_STARTED, game_id=active.id, server_id=SERVER))
    return {pending.id: "pending", lobby.id: "lobby", active.id: "active"}


def reaped_ids(mm: game_data.Matchmaker) -> dict[str, str]:
    entries = mm.stream_entries(f"{mm.namespace}:{{0}}:reaped")
    return {fields["game_id"]: fields["set"] for _, fields in entries}


def summary(text: str, kind: str) -> dict[str, int]:
    """The counts of the last summary line of `kind` ("stopped" or a periodic one)."""
    lines = [line for line in text.splitlines() if "reaper on namespace" in line and "reaped" in line
             and (("stopped" in line) == (kind == "stopped"))]
    assert lines, f"no {kind} summary in:\n{text}"
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[-1])}


def test_reap_daemon_reaps_stale_games_logs_a_summary_and_stops_on_sigterm(redis_url, gd_namespace):
    mm = game_data.connect(redis_url, namespace=gd_namespace)
    with reaper(redis_url, gd_namespace, "--interval-ms", "50", "--max-age-ms", TINY_MAX_AGES,
                "--summary-interval-ms", "100") as (proc, reader):
        games = stale_games(mm)
        wait_for(lambda: reaped_ids(mm) == games, what="the daemon to reap every stale game")
        wait_for(lambda: summary(reader.text(), "periodic").get("total") == 3, what="a summary with them",
                 ignore=(AssertionError,))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        reader.join()
        assert proc.stdout.read() == ""

    text = reader.text()
    assert "Traceback" not in text
    final = summary(text, "stopped")
    assert {k: final[k] for k in ("pending", "lobby", "active", "total", "failed")} == {
        "pending": 1, "lobby": 1, "active": 1, "total": 3, "failed": 0}
    assert final["passes"] >= 2
    assert mm.counts() == {"pending": 0, "lobby": 0, "active": 0}
    assert all(mm.get_game(game_id) is None for game_id in games)


def test_reap_daemon_stops_cleanly_on_sigint(redis_url, gd_namespace):
    with reaper(redis_url, gd_namespace, "--interval-ms", "20") as (proc, reader):
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    assert "stopped" in reader.text() and "Traceback" not in reader.text()


def test_reap_daemon_leaves_young_games_alone(redis_url, gd_namespace):
    mm = game_data.connect(redis_url, namespace=gd_namespace)
    with reaper(redis_url, gd_namespace, "--interval-ms", "20", "--summary-interval-ms", "50") as (proc, reader):
        game = mm.create_game(creator_id="alice", capacity=2, server_id=SERVER)
        # Several passes later (default max ages: a minute in pending) the game is still there.
        wait_for(lambda: summary(reader.text(), "periodic")["passes"] >= 5, what="five passes",
                 ignore=(AssertionError,))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert mm.get_game(game.id) is not None
    assert reaped_ids(mm) == {}


def test_reap_daemon_without_filter_keys_adopts_the_namespaces_and_removes_a_reaped_games_filter_indexes(
        redis_url, gd_namespace):
    import redis

    mm = game_data.connect(redis_url, namespace=gd_namespace, filter_keys=("mode",))
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with reaper(redis_url, gd_namespace, "--interval-ms", "20", "--max-age-ms", TINY_MAX_AGES) as (proc, _):
            games = stale_games(mm)
            assert client.exists(f'{gd_namespace}:{{0}}:open:mode="duel"') == 1
            wait_for(lambda: reaped_ids(mm) == games, what="the daemon to reap every stale game")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        assert list(client.scan_iter(f"{gd_namespace}:{{0}}:open*")) == []
    finally:
        client.close()


def test_reap_daemon_rides_out_a_redis_restart(fresh_redis_server, gd_namespace):
    url = fresh_redis_server.url
    mm = game_data.connect(url, namespace=gd_namespace)
    with reaper(url, gd_namespace, "--interval-ms", "20", "--max-age-ms", TINY_MAX_AGES) as (proc, reader):
        fresh_redis_server.stop()
        wait_for(lambda: "backend unavailable" in reader.text(), what="the reaper to notice")
        fresh_redis_server.start()
        games = stale_games(mm)
        wait_for(lambda: reaped_ids(mm) == games, what="the reaper to work again", ignore=(ConnectionError,))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    final = summary(reader.text(), "stopped")
    assert final["total"] == 3 and final["failed"] >= 1


def test_reap_daemon_started_before_redis_waits_for_it_then_reaps(gd_namespace):
    server = RedisServer()
    server.port = free_port()  # nothing listens there yet; start() takes this port
    url = f"redis://127.0.0.1:{server.port}/0"
    try:
        with spawned(["reap", "--url", url, "--namespace", gd_namespace, "--interval-ms", "20",
                      "--max-age-ms", TINY_MAX_AGES]) as (proc, reader):
            wait_for(lambda: "backend unavailable at start" in reader.text() or proc.poll() is not None,
                     what="the reaper to wait for the backend")
            assert proc.poll() is None, reader.text()  # waiting, not exited
            server.start()
            mm = game_data.connect(url, namespace=gd_namespace)
            games = stale_games(mm)
            wait_for(lambda: reaped_ids(mm) == games, what="the reaper to connect and reap")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        assert summary(reader.text(), "stopped")["total"] == 3
    finally:
        server.close()


def test_reap_daemon_gives_up_after_its_wait_timeout_with_a_clear_message():
    result = subprocess.run([*CLI, "reap", "--url", f"redis://127.0.0.1:{free_port()}/0", "--wait-timeout", "0.3"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("game-data reap: error: the backend is still unavailable after 0.3 s "
                           "(--wait-timeout)"), result.stderr


@pytest.mark.parametrize("value", ["-1", "x", "nan"])
def test_a_bad_wait_timeout_is_a_usage_error(value):
    result = subprocess.run([*CLI, "reap", "--url", "memory://", "--wait-timeout", value],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--wait-timeout" in result.stderr


@pytest.mark.parametrize("value", ["pending", "pending=", "pending=x", "pending=0", "soon=5",
                                   "pending=5,pending=6"])
def test_a_bad_max_age_is_a_usage_error(value):
    result = subprocess.run([*CLI, "reap", "--url", "memory://", "--max-age-ms", value],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "usage:" in result.stderr and "--max-age-ms" in result.stderr


def test_an_interval_below_one_ms_is_a_usage_error():
    result = subprocess.run([*CLI, "reap", "--url", "memory://", "--interval-ms", "0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2


def test_an_unusable_backend_is_a_clean_error():
    result = subprocess.run([*CLI, "reap", "--url", "bogus://nowhere", "--interval-ms", "10"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith("game-data reap: error:")
    assert "Traceback" not in result.stderr


def test_max_ages_and_filter_keys_reach_the_matchmaker(monkeypatch):
    # In process, on memory://: the daemon's handle is made with exactly the options given.
    from game_data import cli

    made = {}
    real_connect = game_data.connect
    outside = signal.getsignal(signal.SIGTERM)  # the daemon's own is installed before it connects

    def connect(*args, **kwargs):
        made.update(kwargs)
        mm = real_connect("memory://", namespace=kwargs["namespace"], max_age_ms=kwargs["max_age_ms"],
                          filter_keys=kwargs["filter_keys"])

        def stop_once_the_daemon_handles_sigterm() -> None:
            wait_for(lambda: signal.getsignal(signal.SIGTERM) is not outside, what="the handler")
            signal.raise_signal(signal.SIGTERM)

        threading.Thread(target=stop_once_the_daemon_handles_sigterm, daemon=True).start()
        return mm

    monkeypatch.setattr(game_data, "connect", connect)
    assert cli.main(["reap", "--url", "memory://", "--namespace", "ns", "--interval-ms", "5",
                     "--max-age-ms", "lobby=7,active=9", "--filter-keys", "mode, region"]) == 0
    assert made == {"namespace": "ns", "max_age_ms": {"lobby": 7, "active": 9}, "filter_keys": ["mode", "region"]}
