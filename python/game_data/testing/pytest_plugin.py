"""pytest fixtures for code that uses game_data (registered as the ``game_data`` plugin).

- ``redis_server`` (session): one private redis-server for the whole run.
- ``gd_namespace`` (function): a fresh, unique key namespace, so tests sharing the server
  never see each other's games or streams (``connect(redis_url, namespace=gd_namespace)``).
- ``redis_url`` (function): the shared server's URL.
- ``fresh_redis_server`` (function): a private append-only server for restart/crash tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from .redis_server import RedisServer

__all__ = ["fresh_redis_server", "gd_namespace", "redis_server", "redis_url"]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One private redis-server (a free loopback port, a temporary folder, no persistence)
    shared by the whole session; removed at the end."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def gd_namespace() -> str:
    """A fresh, unique key namespace for this test (``t-<hex>``): pass it to
    ``connect(..., namespace=gd_namespace)`` so tests sharing a server never meet."""
    return f"t-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of the session's redis-server (``redis://127.0.0.1:<port>/0``), started again
    first if an earlier test stopped it."""
    if not redis_server.running:  # a test crashed it on purpose: bring it back for the next
        redis_server.start()
    return redis_server.url


@pytest.fixture
def fresh_redis_server() -> Iterator[RedisServer]:
    """A private append-only redis-server for this test alone (restart and crash tests:
    ``server.restart(kill=True)`` keeps every acknowledged write)."""
    with RedisServer(appendonly=True) as server:
        yield server
