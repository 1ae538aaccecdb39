"""Waiting on a condition instead of sleeping: a test says what it waits for.

A bare `time.sleep(0.5)` before an assert is a guess at how long something takes: too
short on a busy machine (a flaky failure), too long everywhere else (a slow suite), and
silent about what it stood for. `wait_for` polls the condition and, when it never holds,
fails naming it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], *, what: str, timeout: float = 10.0, interval: float = 0.05
) -> T:
    """Call `predicate` until it returns something truthy, and return that.

    Raises AssertionError naming `what` (and the last value seen) after `timeout`
    seconds. The timeout is generous on purpose: it bounds a failure, not a success.
    """
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} ({value!r})")
        time.sleep(interval)
    return value
