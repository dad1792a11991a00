"""Value types: a game record, an event, the result of applying an event, and a change.

These are the compiled classes themselves (plain copies of the C++ values)::

    from game_data.models import Game
"""

from __future__ import annotations

from ._core import ApplyResult, Change, Event, Game

__all__ = ["ApplyResult", "Change", "Event", "Game"]

for _cls in (ApplyResult, Change, Event, Game):
    _cls.__module__ = __name__
del _cls
