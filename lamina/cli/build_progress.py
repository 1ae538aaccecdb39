"""Build progress on the lamina CLI, as BuildKit shows it: plain text or a live view.

`--progress=plain` prints a stable transcript, one block per step:

    #4 [2/6] WORKDIR /app
    #4 CACHED

    #6 [4/6] RUN npm install
    #6 0.231 added 3 packages
    #6 DONE 0.5s

On a terminal (`auto`, `tty`) a step list is redrawn in place with timers and CACHED
marks, the running step's last output lines under it. Both read the events of
`lamina.build.progress.events`. Standard library only: the CLI imports this.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the CLI ~2.5 ms to import
    from typing import Any, TextIO

    Event = dict[str, Any]

_TAIL = 6  # output lines shown under a running step
_ERROR_TAIL = 20  # output lines shown for a failed step
_TICK = 0.1  # seconds between redraws of the live view


# Plain classes, not dataclasses: importing `dataclasses` costs the CLI ~5 ms.
class Outcome:
    __slots__ = ("error", "image_id", "warnings")

    def __init__(self) -> None:
        self.image_id = ""
        self.error = ""
        self.warnings: list[str] = []


class _Vertex:
    __slots__ = ("lines", "name", "partial", "seconds", "started", "status")

    def __init__(self, name: str, started: float) -> None:
        self.name = name
        self.started = started
        self.status = "started"
        self.seconds = 0.0
        self.lines: list[str] = []
        self.partial = ""


def render(events: Iterable[Event], *, mode: str, out: TextIO) -> Outcome:
    """Print `events` in `mode` (plain, tty, quiet); returns what the build ended with."""
    printer: _Printer = {"plain": _Plain, "tty": _Live}.get(mode, _Quiet)(out)
    outcome = Outcome()
    try:
        for event in events:
            if "aux" in event and "ID" in event["aux"]:
                outcome.image_id = event["aux"]["ID"]
            elif "error" in event:
                outcome.error = event["error"]
            elif "warning" in event:
                outcome.warnings.append(event["warning"])
            printer.event(event)
    finally:
        printer.finish(outcome)
    return outcome


class _Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.vertices: dict[int, _Vertex] = {}

    def event(self, event: Event) -> None:
        if "step" in event:
            self.step(event["step"])
        elif "log" in event:
            self.log(event["log"])
        elif "note" in event:
            self.note(event["note"]["n"], event["note"]["text"])

    def step(self, step: Event) -> None:
        n, status = step["n"], step["status"]
        if status == "started":
            self.vertices[n] = _Vertex(step["name"], time.monotonic())
        vertex = self.vertices.get(n)
        if vertex is None or status == "running":
            return
        vertex.status = status
        vertex.seconds = float(step.get("seconds") or 0.0)
        self.changed(n, vertex, step)

    def log(self, log: Event) -> None:
        vertex = self.vertices.get(log["n"])
        if vertex is None:
            return
        text = vertex.partial + log["text"]
        *complete, vertex.partial = text.split("\n")
        for line in complete:
            vertex.lines.append(line)
            self.line(log["n"], float(log.get("t") or 0.0), line)

    def changed(self, n: int, vertex: _Vertex, step: Event) -> None: ...
    def line(self, n: int, t: float, text: str) -> None: ...
    def note(self, n: int, text: str) -> None: ...
    def finish(self, outcome: Outcome) -> None: ...


class _Quiet(_Printer):
    """`-q`: nothing while it runs; a failure shows the failed step's output."""

    def finish(self, outcome: Outcome) -> None:
        if outcome.error:
            _error_block(self.out, self.vertices, outcome.error)


class _Plain(_Printer):
    def changed(self, n: int, vertex: _Vertex, step: Event) -> None:
        out = self.out
        if vertex.status == "started":
            out.write(f"#{n} {vertex.name}\n")
        elif vertex.status == "cached":
            out.write(f"#{n} CACHED\n\n")
        elif vertex.status == "done":
            out.write(f"#{n} DONE {vertex.seconds:.1f}s\n\n")
        elif vertex.status == "error":
            out.write(f"#{n} ERROR: {step.get('error', '')}\n\n")
        out.flush()

    def line(self, n: int, t: float, text: str) -> None:
        self.out.write(f"#{n} {t:.3f} {text}\n")
        self.out.flush()

    def note(self, n: int, text: str) -> None:
        self.out.write(f"#{n} {text}\n")

    def finish(self, outcome: Outcome) -> None:
        for text in outcome.warnings:
            self.out.write(f"WARNING: {text}\n")
        if outcome.error:
            self.out.write(f"ERROR: {outcome.error}\n")
        self.out.flush()


class _Live(_Printer):
    """The step list, redrawn in place (ANSI cursor movement) as events arrive."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self.began = time.monotonic()
        self.drawn = 0  # lines on screen from the last draw
        self.notes: dict[int, list[str]] = {}
        import threading  # here: only the live view needs it, and the CLI's start counts

        self.lock = threading.Lock()
        self.running = True
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        self.ticker.start()

    def event(self, event: Event) -> None:
        with self.lock:
            super().event(event)
            self._draw()

    def note(self, n: int, text: str) -> None:
        if text.startswith("cache miss"):
            self.notes.setdefault(n, []).append(text)

    def finish(self, outcome: Outcome) -> None:
        with self.lock:
            self.running = False
            self._draw(final=True)
            for n, texts in self.notes.items():
                name = self.vertices[n].name if n in self.vertices else f"#{n}"
                for text in texts:
                    self.out.write(f" => {name}: {text}\n")
            for text in outcome.warnings:
                self.out.write(f"WARNING: {text}\n")
            if outcome.error:
                _error_block(self.out, self.vertices, outcome.error)
            self.out.flush()

    def _tick(self) -> None:
        while True:
            time.sleep(_TICK)
            with self.lock:
                if not self.running:
                    return
                self._draw()

    def _draw(self, *, final: bool = False) -> None:
        width = max(_columns(), 40)
        lines = [self._header(final)]
        for vertex in self.vertices.values():
            lines.append(_row(vertex, width))
            if vertex.status == "started" and not final:
                tail = (
                    [*vertex.lines, vertex.partial][-_TAIL:]
                    if vertex.partial
                    else vertex.lines[-_TAIL:]
                )
                lines += [f" => => # {line}"[:width] for line in tail]
        up = f"\x1b[{self.drawn}F" if self.drawn else ""
        self.out.write(up + "\x1b[J" + "".join(line + "\n" for line in lines))
        self.out.flush()
        self.drawn = len(lines)

    def _header(self, final: bool) -> str:
        done = sum(1 for v in self.vertices.values() if v.status != "started")
        state = (
            " FINISHED"
            if final and all(v.status != "error" for v in self.vertices.values())
            else ""
        )
        elapsed = time.monotonic() - self.began
        return f"[+] Building {elapsed:.1f}s ({done}/{len(self.vertices)}){state}"


def _row(vertex: _Vertex, width: int) -> str:
    seconds = vertex.seconds if vertex.status != "started" else time.monotonic() - vertex.started
    mark = {"cached": "CACHED ", "error": "ERROR "}.get(vertex.status, "")
    left = f" => {mark}{vertex.name}"
    right = f"{seconds:.1f}s"
    room = width - len(right) - 1
    if len(left) > room:
        left = left[: max(room - 1, 0)] + "…"
    return left.ljust(room) + " " + right


def _error_block(out: TextIO, vertices: dict[int, _Vertex], error: str) -> None:
    failed = [v for v in vertices.values() if v.status == "error"]
    for vertex in failed:
        out.write("------\n")
        out.write(f" > {vertex.name}:\n")
        lines = [*vertex.lines, vertex.partial] if vertex.partial else vertex.lines
        for line in lines[-_ERROR_TAIL:]:
            out.write(f"{line}\n")
        out.write("------\n")
    out.write(f"ERROR: {error}\n")


def _columns() -> int:
    try:
        return os.get_terminal_size(2).columns
    except OSError:
        return 100
