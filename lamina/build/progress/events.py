"""What a build reports while it runs: one small event model, rendered at the edges.

The builder emits plain JSON-able dicts through a `Sink`; two renderers turn them into
what a client wants: `lamina.build.progress.classic` into Docker's classic JSON messages
(`{"stream": "Step 1/7 : FROM busybox\\n"}`, for `POST /build`), and
`lamina.cli.build_progress` into BuildKit-style text on the lamina CLI, which receives the
events themselves from `POST /lamina/build`. Shapes:

    {"step": {"n": 3, "status": "started", "name": "[2/6] WORKDIR /app",
              "legacy": "Step 2/7 : WORKDIR /app"}}
    {"step": {"n": 3, "status": "cached"}}
    {"step": {"n": 3, "status": "running", "container": "build-…"}}   RUN only
    {"step": {"n": 3, "status": "done", "seconds": 0.31, "image": "sha256:…"}}
    {"step": {"n": 3, "status": "error", "seconds": 0.31, "error": "…"}}
    {"log": {"n": 3, "text": "output of the step", "t": 0.12}}
    {"note": {"n": 3, "text": "cache miss: files changed: src/a.js (content)"}}
    {"warning": "…"}
    {"aux": {"ID": "sha256:…"}}                     the image built
    {"built": {"id": "sha256:…", "tags": ["x:latest"]}}
    {"error": "…", "errorDetail": {"message": "…", "code": 3}}

`n` numbers the steps of one build in the order they start (BuildKit's `#n`);
`legacy` is the classic builder's `Step 2/7 : …`, numbered over the steps that have one.
A step is handed a `Progress`: the reporter and the build's cancel flag.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lamina.errors import Cancelled

Event = dict[str, Any]
Sink = Callable[[Event], None]


class Reporter:
    """Numbers steps, times them, and sends their events to a sink (thread-safe)."""

    def __init__(self, sink: Sink, *, steps: int = 0) -> None:
        """`steps`: how many steps the classic builder's "Step N/M" expects (it grows
        when more start, as ONBUILD triggers do)."""
        self._sink = sink
        self._lock = threading.Lock()
        self._next = 0
        self._started: dict[int, float] = {}
        self._steps = steps
        self._classic = 0  # steps started with a classic line

    def start(self, name: str, *, legacy: str = "") -> int:
        """A step starts; `legacy` is its text as the classic builder shows it
        (`RUN make`, numbered here), or "" for a step it does not show."""
        with self._lock:
            self._next += 1
            n = self._next
            self._started[n] = time.monotonic()
            if legacy:
                self._classic += 1
                legacy = f"Step {self._classic}/{max(self._steps, self._classic)} : {legacy}"
        self._sink({"step": {"n": n, "status": "started", "name": name, "legacy": legacy}})
        return n

    def cached(self, n: int, *, image: str = "") -> None:
        self._sink({"step": {"n": n, "status": "cached", "image": image}})

    def running(self, n: int, container: str) -> None:
        self._sink({"step": {"n": n, "status": "running", "container": container}})

    def log(self, n: int, text: str) -> None:
        self._sink({"log": {"n": n, "text": text, "t": round(self.elapsed(n), 3)}})

    def note(self, n: int, text: str) -> None:
        self._sink({"note": {"n": n, "text": text}})

    def done(self, n: int, *, image: str = "") -> None:
        seconds = round(self.elapsed(n), 3)
        self._sink({"step": {"n": n, "status": "done", "seconds": seconds, "image": image}})

    def failed(self, n: int, error: str) -> None:
        seconds = round(self.elapsed(n), 3)
        self._sink({"step": {"n": n, "status": "error", "seconds": seconds, "error": error}})

    def warning(self, text: str) -> None:
        self._sink({"warning": text})

    def built(self, image_id: str, tags: list[str]) -> None:
        self._sink({"aux": {"ID": image_id}})
        self._sink({"built": {"id": image_id, "tags": tags}})

    def elapsed(self, n: int) -> float:
        return time.monotonic() - self._started.get(n, time.monotonic())


@dataclass(frozen=True)
class Progress:
    """Where a build's steps report, and whether the build is cancelled."""

    report: Reporter
    cancel: threading.Event

    def check(self) -> None:
        """Raise Cancelled once the build is cancelled."""
        if self.cancel.is_set():
            raise Cancelled("build cancelled")


def error_event(message: str, *, code: int | None = None) -> Event:
    detail: dict[str, Any] = {"message": message}
    if code is not None:
        detail["code"] = code
    return {"error": message, "errorDetail": detail}
