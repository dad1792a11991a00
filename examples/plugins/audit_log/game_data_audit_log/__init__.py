"""An example game_data plug-in: an audit log of every change made through every Matchmaker
the process connects, one JSON line per change (``Change.to_dict()``), appended to the file
named by ``GAME_DATA_AUDIT_LOG``. Without that variable it adds nothing."""

from __future__ import annotations

import json
import os
import threading

import game_data

__all__ = ["ENV", "AuditLog", "register"]

#: The environment variable naming the audit file.
ENV = "GAME_DATA_AUDIT_LOG"


class AuditLog:
    """A change callback appending each change to ``path`` as one JSON line; thread safe."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def __call__(self, change: game_data.Change) -> None:
        line = json.dumps(change.to_dict(), sort_keys=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def register(registry: game_data.PluginRegistry) -> None:
    """The entry point (group ``game_data.plugins``)."""
    path = os.environ.get(ENV)
    if path:
        registry.add_change_callback(AuditLog(path))
