"""Waiting for a container to stop or go: the conditions of Docker's `/containers/{id}/wait`.

A wait is registered first and awaited after, as dockerd's are (its container state's
`Wait`): registering fixes which event it waits for, so a client told that its wait is
registered (the API answers the head only after registering) may then start the
container or send it input, and no exit can slip between. The conditions:

- `not-running`: met at once by a container that is not running; otherwise by its
  next exit.
- `next-exit`: the first exit after the registration, whether the container runs now or
  not (a wait sent before `start` sees that start's exit).
- `removed`: the container's removal.

A removal also ends the waits for an exit (a container removed before it ever ran has
none to wait for). Each wait reports the exit code the container had at its event.

The container service registers a wait while holding the lock under which it records
exits and removals, and reads the container's state under it, so the state a wait
starts from and the events that end it are in one order.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable

from lamina.errors import InvalidArgument


class Condition(enum.StrEnum):
    NOT_RUNNING = "not-running"
    NEXT_EXIT = "next-exit"
    REMOVED = "removed"

    @classmethod
    def parse(cls, word: str) -> Condition:
        try:
            return cls(word)
        except ValueError:
            raise InvalidArgument(f"invalid condition: {word!r}") from None


class Wait:
    """One registered wait. Its outcome is settled once; `cancel` lets go of it."""

    def __init__(self, registry: Waits, cid: str, condition: Condition) -> None:
        self.cid = cid
        self.condition = condition
        self._registry = registry
        self._done = threading.Event()
        self._exit_code = 0

    @property
    def settled(self) -> bool:
        return self._done.is_set()

    def settle(self, exit_code: int) -> None:
        if not self._done.is_set():
            self._exit_code = exit_code
            self._done.set()

    def result(self, *, gone: Callable[[], bool] = lambda: False, poll: float = 1.0) -> int | None:
        """The exit code once the condition is met; None as soon as `gone()` (looked at
        every `poll` seconds) says nobody waits any more, and the wait is cancelled."""
        while not self._done.wait(poll):
            if gone():
                self.cancel()
                return None
        return self._exit_code

    def cancel(self) -> None:
        """Forget this wait if it is still registered (idempotent)."""
        self._registry.forget(self)


class Waits:
    """The registered waits of one daemon's containers, by container id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, list[Wait]] = {}

    def register(self, cid: str, condition: Condition, *, running: bool, exit_code: int) -> Wait:
        """A wait on a container whose state is `running` and `exit_code` now; the
        caller holds the lock it calls `exited` and `removed` under."""
        wait = Wait(self, cid, condition)
        if condition is Condition.NOT_RUNNING and not running:
            wait.settle(exit_code)
        else:
            with self._lock:
                self._waiting.setdefault(cid, []).append(wait)
        return wait

    def exited(self, cid: str, exit_code: int) -> None:
        """The container's process ended: settle the waits for an exit."""
        self._settle(cid, exit_code, removed=False)

    def removed(self, cid: str, exit_code: int) -> None:
        """The container is gone: settle every wait on it."""
        self._settle(cid, exit_code, removed=True)

    def forget(self, wait: Wait) -> None:
        with self._lock:
            waits = self._waiting.get(wait.cid, [])
            if wait in waits:
                waits.remove(wait)
            if not waits:
                self._waiting.pop(wait.cid, None)

    def count(self) -> int:
        """How many waits are registered (and not yet settled)."""
        with self._lock:
            return sum(len(waits) for waits in self._waiting.values())

    def _settle(self, cid: str, exit_code: int, *, removed: bool) -> None:
        with self._lock:
            waits = self._waiting.pop(cid, [])
            ended = [w for w in waits if removed or w.condition is not Condition.REMOVED]
            if len(ended) < len(waits):
                self._waiting[cid] = [w for w in waits if w not in ended]
        for wait in ended:
            wait.settle(exit_code)
