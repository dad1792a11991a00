"""Deadline-based polling for tests: wait for a condition, or drain a consumer, and fail with
a clear message when the deadline passes. Never a fixed sleep standing in for an event."""

from __future__ import annotations

import time
from typing import Any, Callable, TypeVar

__all__ = ["drain", "wait_for"]

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 20.0, what: str = "condition", *,
             interval: float = 0.01, ignore: tuple[type[BaseException], ...] = ()) -> T:
    """Calls `condition` every `interval` seconds until it returns something truthy, and
    returns that. An exception of a type in `ignore` counts as "not yet" (e.g. a backend that
    is coming back). Raises AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except ignore:
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)  # polling with a deadline, not standing in for synchronisation


def drain(consumer: Any, timeout: float = 10.0) -> list[Any]:
    """Polls `consumer` without blocking until a poll finds nothing; returns every result in
    order. Raises AssertionError if the stream keeps yielding entries past `timeout` seconds."""
    results: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = consumer.poll(count=1000, block_ms=0)
        if not batch:
            return results
        results.extend(batch)
    raise AssertionError(f"stream not drained within {timeout}s")
