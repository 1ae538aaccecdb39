"""`RUN --mount=type=cache,sharing=locked` locks: each taken once, in name order, and a
build waiting for one can be cancelled."""

from __future__ import annotations

import contextlib
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from lamina.build.steps.run_mounts import RunMounts, hold_cache_locks
from lamina.errors import Cancelled


def session(locks: dict[str, threading.Lock], cancel: threading.Event) -> Any:
    def check_cancel() -> None:
        if cancel.is_set():
            raise Cancelled("build cancelled")

    return SimpleNamespace(locks=locks, check_cancel=check_cancel)


def test_one_cache_mounted_twice_is_locked_once() -> None:
    locks: dict[str, threading.Lock] = {}
    mounts = RunMounts(specs=(), keys=(), locks=("b", "a", "b"))
    with contextlib.ExitStack() as stack:
        hold_cache_locks(session(locks, threading.Event()), mounts, stack)
        assert sorted(locks) == ["a", "b"] and all(lock.locked() for lock in locks.values())
    assert not any(lock.locked() for lock in locks.values())


def test_a_build_waiting_for_a_busy_cache_can_be_cancelled() -> None:
    locks = {"a": threading.Lock()}
    cancel = threading.Event()
    with locks["a"]:  # another build's step is using the cache
        cancel.set()
        with pytest.raises(Cancelled), contextlib.ExitStack() as stack:
            hold_cache_locks(session(locks, cancel), RunMounts((), (), ("a",)), stack)
