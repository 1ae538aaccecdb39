"""Single flight per key: one run per key among concurrent callers, a waiter takes over
from a leader that fails, distinct keys never wait for each other, cancelled waiters
leave, and `join` waits for another key without ever taking it over."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from lamina.build.cache.singleflight import SingleFlight
from tests.support.wait import wait_for

BOUND = 5.0  # seconds: any wait in these tests ends long before this unless it hangs


def no_check() -> None:
    pass


class Gate:
    """Work that blocks until released; records that it began."""

    def __init__(self, value: str, *, fail: bool = False) -> None:
        self.value, self.fail = value, fail
        self.began, self.release = threading.Event(), threading.Event()

    def __call__(self) -> str:
        self.began.set()
        assert self.release.wait(BOUND)
        if self.fail:
            raise RuntimeError(f"{self.value} failed")
        return self.value


@contextmanager
def threads(*targets: Callable[[], Any]) -> Iterator[list[Any]]:
    """Run each target in a thread; the list gets (result or exception) once joined."""
    outcomes: list[Any] = [None] * len(targets)

    def call(i: int, target: Callable[[], Any]) -> None:
        try:
            outcomes[i] = target()
        except Exception as err:
            outcomes[i] = err

    started = [threading.Thread(target=call, args=(i, t)) for i, t in enumerate(targets)]
    for thread in started:
        thread.start()
    try:
        yield outcomes
    finally:
        for thread in started:
            thread.join(BOUND)
        assert not any(t.is_alive() for t in started), "a caller was left hanging"


class Waiters:
    """A `check` that notes which threads are waiting (it is called as each begins)."""

    def __init__(self) -> None:
        self._seen: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self._seen.add(threading.get_ident())

    def count(self) -> int:
        with self._lock:
            return len(self._seen)

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()


def test_concurrent_callers_of_one_key_share_one_run() -> None:
    flights: SingleFlight[str] = SingleFlight(poll=BOUND)  # `check` only as a wait begins
    leader, waiters = Gate("layer"), Waiters()
    runs: list[str] = []

    def other() -> str:
        runs.append("other")
        return "another layer"

    with threads(lambda: flights.run("k", leader, check=no_check)) as first:
        assert leader.began.wait(BOUND)
        with threads(*[lambda: flights.run("k", other, check=waiters)] * 7) as rest:
            wait_for(
                lambda: waiters.count() == 7, what="seven waiters", timeout=BOUND, interval=0.005
            )
            leader.release.set()
    assert first == [("layer", True)]
    assert rest == [("layer", False)] * 7
    assert runs == []
    assert not flights.in_flight("k")


def test_a_waiter_takes_over_when_the_leader_fails() -> None:
    flights: SingleFlight[str] = SingleFlight(poll=BOUND)  # `check` only as a wait begins
    leader, waiters = Gate("first", fail=True), Waiters()
    takers: list[str] = []
    second = threading.Event()

    def take_over() -> str:
        takers.append("ran")
        assert second.wait(BOUND)
        return "second"

    with threads(lambda: flights.run("k", leader, check=no_check)) as first:
        assert leader.began.wait(BOUND)
        with threads(*[lambda: flights.run("k", take_over, check=waiters)] * 3) as rest:
            wait_for(
                lambda: waiters.count() == 3, what="three waiters", timeout=BOUND, interval=0.005
            )
            waiters.reset()
            leader.release.set()
            wait_for(
                lambda: len(takers) == 1 and waiters.count() == 2,
                what="one taker and two waiters",
                timeout=BOUND,
                interval=0.005,
            )
            second.set()
    assert isinstance(first[0], RuntimeError)  # the leader's failure is its own
    assert takers == ["ran"]  # exactly one waiter ran it again
    assert sorted(rest) == [("second", False), ("second", False), ("second", True)]


def test_distinct_keys_do_not_wait_for_each_other() -> None:
    flights: SingleFlight[str] = SingleFlight()
    both = threading.Barrier(2, timeout=BOUND)  # breaks unless both works run at once

    def work(value: str) -> Callable[[], str]:
        return lambda: (both.wait(), value)[1]

    with threads(
        lambda: flights.run("a", work("A"), check=no_check),
        lambda: flights.run("b", work("B"), check=no_check),
    ) as outcomes:
        pass
    assert outcomes == [("A", True), ("B", True)]


def test_keys_reached_in_opposite_orders_do_not_deadlock() -> None:
    flights: SingleFlight[str] = SingleFlight()

    def slowly(key: str) -> str:
        time.sleep(0.05)  # long enough for the other build to reach its first key
        return key

    def build(first: str, second: str) -> list[tuple[str, bool]]:
        def step(key: str) -> tuple[str, bool]:
            return flights.run(key, lambda: slowly(key), check=no_check)

        return [step(first), step(second)]

    with threads(lambda: build("a", "b"), lambda: build("b", "a")) as outcomes:
        pass
    assert [[value for value, _ in steps] for steps in outcomes] == [["a", "b"], ["b", "a"]]


def test_a_cancelled_waiter_leaves_and_the_leader_goes_on() -> None:
    flights: SingleFlight[str] = SingleFlight(poll=0.01)
    leader = Gate("layer")
    cancel = threading.Event()

    def check() -> None:
        if cancel.is_set():
            raise InterruptedError("build cancelled")

    with threads(lambda: flights.run("k", leader, check=no_check)) as first:
        assert leader.began.wait(BOUND)
        with threads(lambda: flights.run("k", leader, check=check)) as waiter:
            cancel.set()
        assert isinstance(waiter[0], InterruptedError)
        leader.release.set()
    assert first == [("layer", True)]


def test_join_waits_for_another_key_but_never_takes_it_over() -> None:
    flights: SingleFlight[str] = SingleFlight(poll=BOUND)
    join, waiters = ("no-cache k",), Waiters()

    def cached() -> tuple[str, bool]:
        return flights.run("k", lambda: "own", check=waiters, join=join)

    fresh = Gate("fresh")
    with threads(lambda: flights.run("no-cache k", fresh, check=no_check)) as leader:
        assert fresh.began.wait(BOUND)
        with threads(cached) as joined:
            wait_for(lambda: waiters.count() == 1, what="one waiter", timeout=BOUND, interval=0.005)
            assert not flights.in_flight("k")
            fresh.release.set()
    assert leader == [("fresh", True)] and joined == [("fresh", False)]

    failing, waiters = Gate("fresh", fail=True), Waiters()
    with threads(lambda: flights.run("no-cache k", failing, check=no_check)):
        assert failing.began.wait(BOUND)
        with threads(cached) as own:
            wait_for(lambda: waiters.count() == 1, what="one waiter", timeout=BOUND, interval=0.005)
            failing.release.set()
    assert own == [("own", True)]  # its own key, its own work: not the no-cache flight


def test_a_caller_does_not_wait_for_keys_it_is_not_given() -> None:
    flights: SingleFlight[str] = SingleFlight()
    cached = Gate("from the cache")
    with threads(lambda: flights.run("k", cached, check=no_check)):
        assert cached.began.wait(BOUND)
        # a --no-cache build: its own key, no join; it must not take the cached flight
        assert flights.run("no-cache k", lambda: "fresh", check=no_check) == ("fresh", True)
        cached.release.set()


@pytest.mark.parametrize("value", [None, 0, ""])
def test_falsy_results_are_results(value: object) -> None:
    flights: SingleFlight[object] = SingleFlight(poll=BOUND)
    gate = threading.Event()

    def work() -> object:
        assert gate.wait(BOUND)
        return value

    waiters = Waiters()
    with threads(lambda: flights.run("k", work, check=no_check)) as first:
        wait_for(
            lambda: flights.in_flight("k"), what='a flight of "k"', timeout=BOUND, interval=0.005
        )
        with threads(lambda: flights.run("k", lambda: "again", check=waiters)) as second:
            wait_for(lambda: waiters.count() == 1, what="one waiter", timeout=BOUND, interval=0.005)
            gate.set()
    assert first == [(value, True)] and second == [(value, False)]
