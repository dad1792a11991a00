"""Lifecycle states, event types and apply outcomes; each value is its wire name."""

from __future__ import annotations

import enum
from typing import Optional

from . import _core

__all__ = ["ApplyStatus", "EventType", "GameState", "set_of"]


class GameState(enum.Enum):
    """Lifecycle states, in order. A state only moves forward."""

    CREATED = "created"
    CREATOR_JOINED = "creator_joined"
    ALL_PLAYERS_JOINED = "all_players_joined"
    IN_PROGRESS = "in_progress"
    ENDED = "ended"


def set_of(state: GameState) -> Optional[str]:
    """The sorted set a game in ``state`` is in (``"pending"``, ``"lobby"`` or ``"active"``),
    None for ENDED: the core's rule, not a copy of it."""
    return _core.set_of(state)


class EventType(enum.Enum):
    """The ``type`` field of a stream entry."""

    CREATOR_JOINED = "creator_joined"
    PLAYER_JOINED = "player_joined"
    PLAYER_LEFT = "player_left"
    ALL_PLAYERS_JOINED = "all_players_joined"
    GAME_STARTED = "game_started"
    GAME_ENDED = "game_ended"
    HEARTBEAT = "heartbeat"


class ApplyStatus(enum.Enum):
    """What applying one event did."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
