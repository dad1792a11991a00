"""game_data: track matchmaker games through their lifecycle, driven by game-server events.

    import game_data
    mm = game_data.connect("memory://")
    game = mm.create_game(creator_id="alice", capacity=4, server_id="gs-1")
"""

from __future__ import annotations

def _core_import_error(err: ImportError) -> str:
    """What to tell when game_data._core does not load: the shared library it misses, if any."""
    import re

    missing = re.search(r"([^\s:]+\.so[\w.-]*): cannot open shared object file", str(err))
    if missing:
        return (
            f"game_data's compiled module game_data._core needs the shared library "
            f"{missing.group(1)}, which was not found ({err}). A wheel carries its libraries "
            "in game_data.libs (reinstall it if that is where the library belongs); a source "
            "build needs the runtime libraries it was built against (hiredis, spdlog, fmt, "
            "OpenSSL)."
        )
    return (
        "game_data's compiled module game_data._core could not be imported "
        f"({err}). Install the package with `pip install .` (which builds it), "
        "and do not run Python from inside the source tree's python/ directory."
    )


try:
    from . import _core
except ImportError as _err:  # pragma: no cover - only on a broken install
    raise ImportError(_core_import_error(_err)) from _err

from .enums import ApplyStatus, EventType, GameState, set_of
from .errors import (
    BackendConnectionError,
    BackendError,
    BackendTimeoutError,
    BusyLoadingError,
    GameDataError,
    GameExistsError,
    GameNotFoundError,
    GroupMissingError,
    InvalidArgumentError,
    OutOfMemoryError,
    OutcomeUnknownError,
    PluginError,
    ReplyError,
    ScriptMissingError,
    SeatUnavailableError,
    UnsupportedError,
)
from ._plugins import PluginInfo, PluginRegistry, exporter, load_plugin, plugins, refused_plugins
from .matchmaker import DEFAULT_MAX_AGE_MS, Matchmaker, connect
from .models import ApplyResult, Change, Event, Game
from .streams import Consumer, EventPublisher

Reaped = _core.Reaped
ReapedFeed = _core.ReapedFeed
Reservation = _core.Reservation
OpenGamesPage = _core.OpenGamesPage
ChangeHandle = _core.ChangeHandle

__version__: str = _core.__version__  # CMakeLists.txt project(... VERSION ...), via the core


def set_log_level(level: str) -> None:
    """Level of the C++ core's log output (``trace`` .. ``off``; default ``warn``)."""
    _core.set_log_level(level)


def backend_available(scheme: str) -> bool:
    """True when this build can open URLs of ``scheme`` (``"memory"``, ``"redis"``, ...)."""
    return _core.backend_available(scheme)


__all__ = [
    "ApplyResult",
    "ApplyStatus",
    "BackendConnectionError",
    "BackendError",
    "BackendTimeoutError",
    "BusyLoadingError",
    "Change",
    "ChangeHandle",
    "Consumer",
    "DEFAULT_MAX_AGE_MS",
    "Event",
    "EventPublisher",
    "EventType",
    "Game",
    "GameDataError",
    "GameExistsError",
    "GameNotFoundError",
    "GameState",
    "GroupMissingError",
    "InvalidArgumentError",
    "Matchmaker",
    "OutOfMemoryError",
    "OutcomeUnknownError",
    "OpenGamesPage",
    "PluginError",
    "PluginInfo",
    "PluginRegistry",
    "Reaped",
    "ReapedFeed",
    "Reservation",
    "SeatUnavailableError",
    "ReplyError",
    "ScriptMissingError",
    "UnsupportedError",
    "__version__",
    "backend_available",
    "connect",
    "exporter",
    "load_plugin",
    "plugins",
    "refused_plugins",
    "set_log_level",
    "set_of",
]
