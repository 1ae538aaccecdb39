"""`RUN --mount=type=cache,sharing=locked` locks: each taken once, in name order, and a
build waiting for one can be cancelled."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest

from lamina.build.progress.events import Progress, Reporter
from lamina.build.steps.run_mounts import CacheMounts, RunMounts
from lamina.errors import Cancelled


def progress(cancel: threading.Event) -> Progress:
    return Progress(Reporter(lambda _event: None), cancel)


def test_one_cache_mounted_twice_is_locked_once(tmp_path: Path) -> None:
    caches = CacheMounts(tmp_path)
    with contextlib.ExitStack() as stack:
        caches.hold(RunMounts((), (), ("b", "a", "b")), progress(threading.Event()), stack)
        assert caches.locked() == ["a", "b"]
    assert caches.locked() == []


def test_a_build_waiting_for_a_busy_cache_can_be_cancelled(tmp_path: Path) -> None:
    caches = CacheMounts(tmp_path)
    cancel = threading.Event()
    with contextlib.ExitStack() as other:  # another build's step is using the cache
        caches.hold(RunMounts((), (), ("a",)), progress(threading.Event()), other)
        cancel.set()
        with pytest.raises(Cancelled), contextlib.ExitStack() as stack:
            caches.hold(RunMounts((), (), ("a",)), progress(cancel), stack)
        assert caches.locked() == ["a"]
