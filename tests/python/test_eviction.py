"""SPEC section 10: at connect, a Redis whose maxmemory-policy can evict game records is
reported with a warning and the ``game_data_eviction_risk`` gauge in ``stats()``; a Redis user
that may not run CONFIG connects as before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import game_data
from game_data.testing import RedisServer

GAUGE = "game_data_eviction_risk"


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A private server: these tests change its configuration."""
    with RedisServer() as s:
        yield s


def configure(server: RedisServer, *args: str) -> None:
    assert server.command(*args) == b"+OK\r\n", args


@pytest.fixture
def info_logs() -> Iterator[None]:
    game_data.set_log_level("info")
    yield
    game_data.set_log_level("warn")


def test_allkeys_lru_is_warned_about_and_shown_in_stats(server: RedisServer, gd_namespace: str,
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    configure(server, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    configure(server, "CONFIG", "SET", "maxmemory", "100mb")
    mm = game_data.connect(server.url, namespace=gd_namespace)
    assert mm.stats()[GAUGE] == 1
    err = capfd.readouterr().err
    assert "[warning]" in err and "maxmemory-policy allkeys-lru (maxmemory 104857600)" in err


@pytest.mark.parametrize("policy", ["noeviction", "volatile-lru"])
def test_policies_that_keep_game_records_are_no_risk(server: RedisServer, gd_namespace: str, policy: str,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    configure(server, "CONFIG", "SET", "maxmemory-policy", policy)
    configure(server, "CONFIG", "SET", "maxmemory", "100mb")
    mm = game_data.connect(server.url, namespace=gd_namespace)
    assert mm.stats()[GAUGE] == 0
    assert "maxmemory-policy" not in capfd.readouterr().err


def test_a_user_without_config_rights_connects_and_the_check_is_skipped(
        server: RedisServer, gd_namespace: str, info_logs: None, capfd: pytest.CaptureFixture[str]) -> None:
    configure(server, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    configure(server, "ACL", "SETUSER", "mm", "on", ">pw", "~*", "&*", "+@all", "-config")
    mm = game_data.connect(f"redis://mm:pw@127.0.0.1:{server.port}/0", namespace=gd_namespace)
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    assert mm.get_game(game.id) is not None
    assert mm.stats()[GAUGE] == 0
    err = capfd.readouterr().err
    assert "[info] redis: eviction check skipped" in err and "NOPERM" in err
    assert "[warning]" not in err


def test_the_memory_backend_reports_no_risk() -> None:
    assert game_data.connect("memory://").stats()[GAUGE] == 0
