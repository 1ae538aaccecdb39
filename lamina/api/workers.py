"""A bounded set of threads for requests, and a bounded number of long streams.

A request is served by a *request* thread: it reads the body, runs the handler and
writes a plain answer. At most `requests` of those run at once; more complete requests
wait in a queue (they hold no thread). A request that turns into a long stream (logs -f,
attach, exec, wait, build, import) *claims a stream*: its thread stops counting as a
request thread, so streams never starve `/_ping` or `docker ps`. At most `streams` run
at once; one more is answered 503 before its stream starts (`StreamsExhausted`). So the
daemon's threads for HTTP never exceed requests + streams, whatever clients do.

Threads are started when work waits and no thread is idle, and end after `idle_exit`
seconds without work.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from typing import Generic, TypeVar

from lamina.errors import Unavailable

T = TypeVar("T")
MAX_REQUESTS = 64
MAX_STREAMS = 512


class StreamsExhausted(Unavailable):
    """Every stream slot is taken: the client may retry when one ends."""


class Workers(Generic[T]):
    def __init__(
        self,
        serve: Callable[[T], None],
        *,
        requests: int = MAX_REQUESTS,
        streams: int = MAX_STREAMS,
        idle_exit: float = 30.0,
    ) -> None:
        self._serve = serve
        self.max_requests = requests
        self.max_streams = streams
        self._idle_exit = idle_exit
        self._queue: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._local = threading.local()
        self.request_threads = 0  # request threads alive, idle or busy
        self._idle = 0
        self._pending = 0  # queued work no thread has taken yet
        self.streams = 0

    def submit(self, work: T) -> None:
        self._queue.put(work)
        with self._lock:
            self._pending += 1
            self._spawn_if_needed()

    @property
    def pending(self) -> int:
        """Requests waiting for a thread."""
        return self._pending

    def claim_stream(self) -> None:
        """Turn the calling request thread into a stream thread; StreamsExhausted if
        `max_streams` streams run already. Calling it again is a no-op."""
        if getattr(self._local, "stream", False):
            return
        with self._lock:
            if self.streams >= self.max_streams:
                raise StreamsExhausted(
                    f"the daemon serves at most {self.max_streams} streams (logs, attach, "
                    "exec, wait, build) at once; retry when one ends"
                )
            self.streams += 1
            self.request_threads -= 1
            self._local.stream = True
            self._spawn_if_needed()

    def _spawn_if_needed(self) -> None:
        if self._pending > self._idle and self.request_threads < self.max_requests:
            self.request_threads += 1
            self._idle += 1
            threading.Thread(target=self._run, name="api", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                work = self._queue.get(timeout=self._idle_exit)
            except queue.Empty:
                with self._lock:
                    if self._pending < self._idle:  # the other idle threads suffice
                        self._idle -= 1
                        self.request_threads -= 1
                        return
                continue
            with self._lock:
                self._pending -= 1
                self._idle -= 1
            self._local.stream = False
            try:
                self._serve(work)
            except Exception:  # a bug in serve, which answers every error itself
                traceback.print_exc()
            if not self._back_to_idle():
                return  # a stream ended while enough request threads run

    def _back_to_idle(self) -> bool:
        with self._lock:
            if self._local.stream:
                self.streams -= 1
                if self.request_threads >= self.max_requests:
                    return False
                self.request_threads += 1
            self._idle += 1
            self._spawn_if_needed()
            return True
