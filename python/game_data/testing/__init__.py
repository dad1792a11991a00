"""Test support: a private redis-server, pytest fixtures and (with the simulator) simulated
game servers. The fixtures are a pytest plugin loaded automatically once game_data is
installed."""

from __future__ import annotations

from .redis_server import RedisServer, RedisServerError, find_redis_server

__all__ = ["RedisServer", "RedisServerError", "find_redis_server"]

try:  # the simulator lands separately; the rest of the package works without it
    from .simulator import SimulatedGameServer
except ModuleNotFoundError as err:  # pragma: no cover
    if err.name != f"{__name__}.simulator":
        raise
else:
    __all__ += ["SimulatedGameServer"]
