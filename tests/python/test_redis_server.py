"""game_data.testing.RedisServer and the plugin's fixtures: private servers that start,
restart with their data, and leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

import game_data
from game_data.testing import RedisServer, RedisServerError


def test_server_starts_answers_and_cleans_up() -> None:
    server = RedisServer().start()
    directory = server.directory
    try:
        assert server.running
        assert server.ping()
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert server.command("CONFIG", "GET", "appendonly").count(b"no") == 1
        assert directory.is_dir()
    finally:
        server.close()
    assert not server.running
    assert not server.ping()
    assert not directory.exists()


def test_appendonly_keeps_data_across_a_crash(fresh_redis_server: RedisServer) -> None:
    server = fresh_redis_server
    assert server.command("SET", "k", "v") == b"+OK\r\n"
    port = server.port
    server.restart(kill=True)
    assert server.port == port
    assert server.command("GET", "k") == b"$1\r\nv\r\n"


def test_graceful_stop_and_start_reuses_port_and_directory() -> None:
    with RedisServer(appendonly=True) as server:
        port, directory = server.port, server.directory
        server.command("SET", "k", "1")
        server.stop()
        assert not server.running
        server.start()
        assert (server.port, server.directory) == (port, directory)
        assert server.command("GET", "k") == b"$1\r\n1\r\n"


def test_missing_executable_is_reported() -> None:
    with pytest.raises(RedisServerError):
        RedisServer(executable=str(Path("/nonexistent/redis-server"))).start().close()


def test_namespaces_isolate_tests_on_the_shared_server(redis_url: str, gd_namespace: str) -> None:
    assert gd_namespace.startswith("t-")
    if not game_data.backend_available("redis"):
        with pytest.raises(game_data.UnsupportedError):
            game_data.connect(redis_url, namespace=gd_namespace)
        return
    mm = game_data.connect(redis_url, namespace=gd_namespace)
    other = game_data.connect(redis_url, namespace=gd_namespace + "-other")
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    assert other.get_game(game.id) is None
    assert mm.get_game(game.id) == game
