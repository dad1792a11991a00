"""game_data.testing.wait_for: the one deadline-based polling helper of the test suites."""

from __future__ import annotations

import itertools

import pytest

from game_data.testing import wait_for


def test_wait_for_returns_the_first_truthy_value() -> None:
    calls = itertools.count(1)
    assert wait_for(lambda: (n := next(calls)) >= 3 and n, interval=0) == 3


def test_wait_for_names_what_it_waited_for_when_the_deadline_passes() -> None:
    with pytest.raises(AssertionError, match="timed out after 0.05s waiting for the moon"):
        wait_for(lambda: False, timeout=0.05, what="the moon")


def test_wait_for_treats_ignored_errors_as_not_yet() -> None:
    calls = itertools.count(1)

    def flaky() -> bool:
        if next(calls) < 3:
            raise ConnectionError("coming back")
        return True

    assert wait_for(flaky, interval=0, ignore=(ConnectionError,)) is True


def test_wait_for_raises_errors_it_was_not_told_to_ignore() -> None:
    def broken() -> bool:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError, match="down"):
        wait_for(broken, interval=0)
