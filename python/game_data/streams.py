"""The event stream: EventPublisher for game servers, Consumer for the matchmaker."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import _core

__all__ = ["Consumer", "EventPublisher"]

log = logging.getLogger("game_data.consumer")

EventPublisher = _core.EventPublisher
EventPublisher.__module__ = __name__


class Consumer(_core.Consumer):
    """Reads events through a consumer group, applies them, dead-letters bad ones, acks.

    Made by :meth:`game_data.Matchmaker.consumer`. One consumer serves one loop; calls are
    serialised, so sharing it between threads is safe but gains nothing. :attr:`stats` and
    :meth:`group_info` answer from any thread, also while :meth:`run` is busy.
    """

    def run(
        self,
        stop: threading.Event | None = None,
        count: int = 100,
        block_ms: int = 100,
        *,
        reconnect: bool = True,
    ) -> dict[str, int]:
        """Poll until ``stop`` is set, or, from the main thread, until SIGINT/SIGTERM.

        The loop is the C++ core's (``Consumer::run``, the same one every daemon uses): the
        batch in hand is always finished and acknowledged before returning; a one-line summary
        is logged every few seconds and at the end (the core's ``game_data`` logger, at info
        level); with ``reconnect`` (default) an unavailable backend (connection lost, timeout,
        Redis loading or out of memory) is retried with backoff, up to 2 s apart, instead of
        ending the loop; nothing is lost, because unacknowledged entries are read again.
        Returns the final :attr:`stats`.
        """
        flag = threading.Event() if stop is None else stop
        with _stop_on_signals(flag):
            self._run(flag, count, block_ms, reconnect)
        return self.stats

    def __repr__(self) -> str:
        return f"Consumer(stream={self.stream!r}, group={self.group!r}, name={self.name!r})"


@contextmanager
def _stop_on_signals(flag: threading.Event) -> Iterator[None]:
    """In the main thread, SIGINT and SIGTERM set ``flag`` instead of interrupting; the
    previous handlers are restored afterwards. Elsewhere signals cannot be handled: no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        flag.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
