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
from .errors import BackendConnectionError, BackendError

__all__ = ["Consumer", "EventPublisher"]

log = logging.getLogger("game_data.consumer")

#: Seconds between the one-line summaries that Consumer.run logs.
SUMMARY_INTERVAL_S = 5.0
#: Longest wait between retries while the backend is unreachable.
MAX_RETRY_S = 2.0

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
        *,
        reconnect: bool = True,
    ) -> dict[str, int]:
        """Poll until ``stop`` is set, or, from the main thread, until SIGINT/SIGTERM.

        The batch in hand is always finished and acknowledged before returning. Logs a
        one-line summary every few seconds through the ``game_data.consumer`` logger and
        returns the final :attr:`stats`. With ``reconnect`` (default) a lost backend is
        retried with backoff (up to MAX_RETRY_S apart) instead of ending the loop; nothing
        is lost, because unacknowledged entries are read again.
        """
        flag = threading.Event() if stop is None else stop
        with _stop_on_signals(flag):
            next_summary = time.monotonic() + SUMMARY_INTERVAL_S
            retry_s = 0.0
            while not flag.is_set():
                try:
                    self.poll(count=count, block_ms=block_ms)
                except BackendConnectionError as err:
                    if not reconnect:
                        raise
                    retry_s = min(max(retry_s * 2, 0.05), MAX_RETRY_S)
                    log.warning("consumer %s: backend unavailable (%s); retrying in %.2fs",
                                self.name, err, retry_s)
                    flag.wait(retry_s)  # a stop request ends the wait at once
                    continue
                retry_s = 0.0
                if time.monotonic() >= next_summary:
                    next_summary = time.monotonic() + SUMMARY_INTERVAL_S
                    self._log_summary()
        self._log_summary()
        return self.stats

    def _log_summary(self) -> None:
        s = self.stats
        try:
            info = self.group_info()
        except BackendError:
            info = {"lag": -1, "pending": -1}
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
