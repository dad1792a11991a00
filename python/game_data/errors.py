"""Exceptions of game_data. Each is a GameDataError and also the matching builtin, so
``except ValueError`` / ``except KeyError`` / ``except ConnectionError`` work as expected.
The compiled core raises exactly these classes."""

from __future__ import annotations

__all__ = [
    "BackendConnectionError",
    "BackendError",
    "BackendTimeoutError",
    "BusyLoadingError",
    "GameDataError",
    "GameExistsError",
    "GameNotFoundError",
    "GroupMissingError",
    "InvalidArgumentError",
    "OutOfMemoryError",
    "OutcomeUnknownError",
    "PluginError",
    "ReplyError",
    "ScriptMissingError",
    "SeatUnavailableError",
    "UnsupportedError",
]


class GameDataError(Exception):
    """Base of every error raised by game_data."""


class InvalidArgumentError(GameDataError, ValueError):
    """Bad input: ids, capacity, metadata, URLs, options, malformed events."""


class GameExistsError(InvalidArgumentError):
    """A game id that must be new is already taken (or still tombstoned)."""


class GameNotFoundError(GameDataError, KeyError):
    """A game id that must exist does not."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return Exception.__str__(self)


class BackendError(GameDataError):
    """The backend failed in a way that is not the caller's input."""


class BackendConnectionError(BackendError, ConnectionError):
    """The backend cannot be reached or the connection broke."""


class OutcomeUnknownError(BackendConnectionError):
    """The connection broke after the command was sent; it may or may not have applied.
    Re-applying the same event is safe: transitions are idempotent."""


class BackendTimeoutError(BackendConnectionError, TimeoutError):
    """The backend did not answer in time."""


class BusyLoadingError(BackendConnectionError):
    """Redis is still loading its data after a restart (LOADING); nothing ran. Retry later."""


class OutOfMemoryError(BackendConnectionError):
    """Redis refused the command because it is out of memory (OOM under ``maxmemory``);
    nothing was written. A connection error, not a reply error: as with a lost server, the
    same call can be retried later and nothing is wrong with its input. Not a builtin
    MemoryError, which means this Python process ran out of memory."""


class ReplyError(BackendError):
    """The backend answered with an error (a Redis error reply, a broken script)."""


class SeatUnavailableError(GameDataError):
    """reserve_seat refused: ``reason`` is ``"not open"``, ``"full"`` or ``"already joined"``."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class GroupMissingError(ReplyError, LookupError):
    """The consumer group, or the stream it was on, does not exist (NOGROUP)."""


class ScriptMissingError(ReplyError, LookupError):
    """A Lua script is not in Redis' script cache (NOSCRIPT); it did not run."""


class UnsupportedError(GameDataError):
    """A feature this build cannot provide (for example rediss:// without TLS support)."""


class PluginError(GameDataError, ImportError):
    """A plug-in could not be loaded: no such file, a missing symbol, another plug-in ABI
    version, a C plug-in or its host refusing it, or a Python entry point that raised. The
    message names the plug-in; ``path`` is a C plug-in's path (None for an entry point)."""
