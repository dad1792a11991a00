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
    with RedisServer() as server:
        yield server


@pytest.fixture
def gd_namespace() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if not redis_server.running:  # a test crashed it on purpose: bring it back for the next
        redis_server.start()
    return redis_server.url


@pytest.fixture
def fresh_redis_server() -> Iterator[RedisServer]:
    with RedisServer(appendonly=True) as server:
        yield server
