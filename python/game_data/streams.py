"""The event stream: EventPublisher for game servers, Consumer for the matchmaker."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import _core

__all__ = ["Consumer", "EventPublisher"]

log = logging.getLogger("game_data.consumer")

#: Seconds between the one-line summaries that Consumer.run logs.
SUMMARY_INTERVAL_S = 5.0

EventPublisher = _core.EventPublisher
EventPublisher.__module__ = __name__


class Consumer(_core.Consumer):
    """Reads events through a consumer group, applies them, dead-letters bad ones, acks.

    Made by :meth:`game_data.Matchmaker.consumer`. One consumer serves one loop; calls are
    serialised, so sharing it between threads is safe but gains nothing.
    """

    def run(
        self,
        stop: threading.Event | None = None,
        count: int = 100,
        block_ms: int = 100,
    ) -> dict[str, int]:
        """Poll until ``stop`` is set, or, from the main thread, until SIGINT/SIGTERM.

        The batch in hand is always finished and acknowledged before returning. Logs a
        one-line summary every few seconds through the ``game_data.consumer`` logger and
        returns the final :attr:`stats`.
        """
        flag = threading.Event() if stop is None else stop
        with _stop_on_signals(flag):
            next_summary = time.monotonic() + SUMMARY_INTERVAL_S
            while not flag.is_set():
                self.poll(count=count, block_ms=block_ms)
                if time.monotonic() >= next_summary:
                    next_summary = time.monotonic() + SUMMARY_INTERVAL_S
                    self._log_summary()
        self._log_summary()
        return self.stats

    def _log_summary(self) -> None:
        s = self.stats
        info = self.group_info()
        log.info(
            "consumer %s on %s: applied=%d duplicate=%d rejected=%d dead_lettered=%d "
            "claimed=%d batches=%d lag=%d pending=%d",
            self.name,
            self.stream,
            s["applied"],
            s["duplicate"],
            s["rejected"],
            s["dead_lettered"],
            s["claimed"],
            s["batches"],
            info["lag"],
            info["pending"],
        )

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
