"""Single flight per key: concurrent callers of one key do its work once.

    flights: SingleFlight[Image] = SingleFlight()
    image, ran_here = flights.run(key, make_image, check=raise_if_cancelled)

The first caller to reach a key *leads*: it runs its `work`. Callers that reach the key
while the leader runs *wait*, and take the leader's result. The key is free again the
moment the leader returns (the result is then wherever the work put it, e.g. a cache
index, for later callers to find).

If the leader fails or is cancelled (its `work` raises), the exception is its own: the
waiters wake, and the first of them to get the lock leads the key anew, running its
own `work`; the rest wait for that one. Nobody is left waiting on a leader that is
gone. A waiter stops waiting when its `check` raises (polled every `poll` seconds):
a cancelled caller does not hold up, or take over, anyone else's key.

`join` names other keys whose result the caller also accepts. If one of them is in
flight the caller waits for it, but never takes it over (its own `work` may not be what
that key's waiters asked for); if that flight fails, the caller goes on to its own key.

No deadlock, provided a caller's `work` never calls `run` itself: then a caller either
leads one key or waits for one, never both, so a waiter is never waited for and the
wait-for graph has no cycle. (The builder runs a build's steps one after another, so a
build reaches, and waits for, one key at a time.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class _Flight(Generic[T]):
    """One leader's run of a key; ends with a result (`outcome`) or without (failed)."""

    __slots__ = ("ended", "outcome")

    def __init__(self) -> None:
        self.ended = False
        self.outcome: tuple[T] | None = None  # a box: T itself may be None


class SingleFlight(Generic[T]):
    def __init__(self, *, poll: float = 0.1) -> None:
        self._poll = poll
        self._changed = threading.Condition()
        self._flights: dict[str, _Flight[T]] = {}

    def run(
        self,
        key: str,
        work: Callable[[], T],
        *,
        check: Callable[[], None],
        join: Sequence[str] = (),
    ) -> tuple[T, bool]:
        """`work`'s result for `key`, from this call or a concurrent one; and whether it
        ran here. Raises what `work` raised (when it ran here) or what `check` raised."""
        for other in join:
            outcome = self._follow(other, check)
            if outcome is not None:
                return outcome[0], False
        while True:
            flight, leads = self._claim(key)
            if leads:
                return self._lead(key, flight, work), True
            outcome = self._wait(flight, check)
            if outcome is not None:
                return outcome[0], False

    def _claim(self, key: str) -> tuple[_Flight[T], bool]:
        """The key's flight, and True when it is new (the caller leads it)."""
        with self._changed:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = _Flight()
            return flight, True

    def _lead(self, key: str, flight: _Flight[T], work: Callable[[], T]) -> T:
        outcome: tuple[T] | None = None
        try:
            outcome = (work(),)
            return outcome[0]
        finally:
            with self._changed:
                del self._flights[key]  # only its leader ends a flight
                flight.outcome, flight.ended = outcome, True
                self._changed.notify_all()

    def _follow(self, key: str, check: Callable[[], None]) -> tuple[T] | None:
        with self._changed:
            flight = self._flights.get(key)
        return None if flight is None else self._wait(flight, check)

    def _wait(self, flight: _Flight[T], check: Callable[[], None]) -> tuple[T] | None:
        """The flight's outcome once it ends; None when its leader failed."""
        with self._changed:
            while not flight.ended:
                check()
                self._changed.wait(self._poll)
            return flight.outcome

    def in_flight(self, key: str) -> bool:
        """Whether a caller leads `key` now."""
        with self._changed:
            return key in self._flights
