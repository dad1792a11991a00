"""Value types: a game record, an event, and the result of applying an event.

These are the compiled classes themselves (plain copies of the C++ values)::

    from game_data.models import Game
"""

from __future__ import annotations

from ._core import ApplyResult, Event, Game

__all__ = ["ApplyResult", "Event", "Game"]

for _cls in (ApplyResult, Event, Game):
    _cls.__module__ = __name__
del _cls
