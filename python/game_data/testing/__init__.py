"""Test support: a private redis-server, pytest fixtures and simulated game servers. The
fixtures are a pytest plugin loaded automatically once game_data is installed."""

from __future__ import annotations

from .polling import drain, wait_for
from .redis_server import RedisServer, RedisServerError, find_redis_server
from .simulator import SimulatedGameServer

__all__ = ["RedisServer", "RedisServerError", "SimulatedGameServer", "drain", "find_redis_server", "wait_for"]
