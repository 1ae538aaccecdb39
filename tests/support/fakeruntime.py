"""A `Runtime` that runs nothing: containers as Python objects, in the test's process.

Unit tests hand it to `Engine(paths, runtime=FakeRuntime(...))` (or to a `Runner` or a
`Builder`) and drive the real services on it, without root, runc or mounts:

- its *processes* are `FakeProcess` values whose program is looked up by the name of
  argv[0] in `programs`: the program runs at `start` and returns an exit status, or
  None to keep running until a signal (or `FakeProcess.exit`) ends it. An unknown
  command fails as runc's "executable file not found" does (exit code 127).
- its *monitors* (tests/support/fakemonitors.py) run in threads of this process: they
  create and start through the runtime, write the monitor's state file, and, once the
  process ended, its final state and the runtime `delete`, as a real monitor does.
- its *mounter* (`FakeMounter`) only records what would be mounted where; a build's
  RUN (`run`) hands `on_run` the folder its writes would land in: the bind's source or
  the overlay's upper dir.

Everything it was asked is in `calls` as (operation, id), in order.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import signal as signals
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lamina.config import Paths
from lamina.engine import Engine
from lamina.errors import Cancelled, Conflict, NotFound
from lamina.oci.digest import Digest
from lamina.oci.image import new_config
from lamina.oci.reference import parse_normalized
from lamina.runtime.protocol import Output, RuntimeFailure, Stdio
from lamina.store.mount import Mount
from tests.support.wait import wait_for

if TYPE_CHECKING:
    from tests.support.fakemonitors import FakeMonitors, Supervised

_PIDS = itertools.count(4_100_000)  # above any real pid a test host hands out


@dataclass
class FakeProcess:
    """One fake process: a container's init or an exec."""

    args: list[str]
    env: list[str]
    pid: int = field(default_factory=lambda: next(_PIDS))
    ignores: frozenset[int] = frozenset()  # signals it survives
    exit_code: int | None = None
    ended: threading.Event = field(default_factory=threading.Event)

    def exit(self, code: int) -> None:
        if not self.ended.is_set():
            self.exit_code = code
            self.ended.set()


Program = Callable[[FakeProcess], int | None]


def _runs_until_killed(p: FakeProcess) -> None:
    return None


def _ignores_term(p: FakeProcess) -> None:
    p.ignores = frozenset({signals.SIGTERM})
    return None


DEFAULT_PROGRAMS: dict[str, Program] = {
    "true": lambda p: 0,
    "false": lambda p: 1,
    "exit": lambda p: int(p.args[1]),  # `exit 3`: ends at once with status 3
    "sleep": _runs_until_killed,
    "stubborn": _ignores_term,  # a process that ignores SIGTERM, as many shells do
}


@dataclass
class RunStep:
    """What a build's RUN hands its program: the command and where its writes land."""

    args: list[str]
    env: list[str]
    rootfs: Path
    output: Output


@dataclass
class _Container:
    bundle: Path
    init: FakeProcess
    status: str = "created"  # created | running | stopped
    execs: list[FakeProcess] = field(default_factory=list)


class FakeMounter:
    """Records mounts instead of making them."""

    def __init__(self) -> None:
        self.mounts: dict[Path, list[Mount]] = {}

    def mount(self, mounts: Sequence[Mount], target: Path) -> None:
        self.mounts.setdefault(target, []).extend(mounts)

    def unmount(self, target: Path) -> None:
        self.mounts.pop(target, None)

    def is_mounted(self, target: Path) -> bool:
        return target in self.mounts

    def writable(self, target: Path) -> Path:
        """Where writes to `target` would land: its bind's source, its overlay's upper
        dir; `target` itself when nothing is mounted there."""
        for m in reversed(self.mounts.get(target, [])):
            if m.type == "bind":
                return Path(m.source)
            for option in m.options:
                if option.startswith("upperdir="):
                    return Path(option.removeprefix("upperdir="))
        return target


class FakeRuntime:
    """A `Runtime` (lamina.runtime.protocol) and its own monitors (a SupervisingRuntime)."""

    name = "fake"
    binary = "fake"

    def __init__(self, root: Path, *, programs: dict[str, Program] | None = None) -> None:
        self.root = root
        self.mounter = FakeMounter()
        self.programs = {**DEFAULT_PROGRAMS, **(programs or {})}
        self.on_run: Callable[[RunStep], int] = lambda step: 0
        self.calls: list[tuple[str, str]] = []
        self.containers: dict[str, _Container] = {}
        self.lock = threading.RLock()
        self.supervised: dict[Path, Supervised] = {}  # by state file, across engines

    # -- Runtime ----------------------------------------------------------------------

    def create(
        self,
        id: str,
        bundle: Path,
        *,
        pid_file: Path,
        console_socket: str | Path | None = None,
        stdio: Stdio | None = None,
    ) -> None:
        self.calls.append(("create", id))
        process = json.loads((bundle / "config.json").read_text())["process"]
        with self.lock:
            if id in self.containers:
                raise Conflict(f"container {id}: container with id exists: {id}")
            init = self._process(process)
            self.containers[id] = _Container(bundle, init)
        pid_file.write_text(str(init.pid))

    def start(self, id: str, *, pid: int | None = None) -> None:
        self.calls.append(("start", id))
        with self.lock:
            c = self._get(id)
            if c.status != "created":
                raise Conflict(f"container {id}: cannot start a container that has stopped")
            c.status = "running"
        self._launch(c.init)

    def run(self, id: str, bundle: Path, *, output: Output, cancel: threading.Event) -> int:
        self.calls.append(("run", id))
        config = json.loads((bundle / "config.json").read_text())
        rootfs = self.mounter.writable(Path(config["root"]["path"]))
        process = config["process"]
        code = self.on_run(RunStep(list(process["args"]), list(process["env"]), rootfs, output))
        if cancel.is_set():
            raise Cancelled("build cancelled")
        return code

    def exec(
        self,
        id: str,
        process: dict[str, Any],
        *,
        pid_file: Path,
        console_socket: str | Path | None = None,
        stdio: Stdio | None = None,
    ) -> None:
        self.calls.append(("exec", id))
        with self.lock:
            c = self._get(id)
            if c.status != "running":
                raise Conflict(f"container {id}: cannot exec in a stopped container")
            p = self._process(process)
            c.execs.append(p)
        pid_file.write_text(str(p.pid))
        self._launch(p)

    def kill(self, id: str, signal: int | str, *, all: bool = False) -> None:
        self.calls.append(("kill", id))
        number = signal if isinstance(signal, int) else _signal_number(signal)
        with self.lock:
            c = self._get(id)
            if c.status != "running":
                raise Conflict(f"container {id}: container not running")
        for p in [c.init, *c.execs] if all else [c.init]:
            if number not in p.ignores:
                p.exit(128 + number)

    def delete(self, id: str, *, force: bool = False) -> None:
        self.calls.append(("delete", id))
        with self.lock:
            c = self.containers.get(id)
            if c is None:
                if force:
                    return
                raise NotFound(f"no such container in {self.name}: {id}")
            if self._status(c) == "running" and not force:
                raise Conflict(f"container {id}: cannot delete container that is not stopped")
            del self.containers[id]
        for p in [c.init, *c.execs]:
            p.exit(128 + signals.SIGKILL)

    def state(self, id: str) -> dict[str, Any] | None:
        with self.lock:
            c = self.containers.get(id)
            if c is None:
                return None
            return {"id": id, "status": self._status(c), "pid": c.init.pid, "bundle": str(c.bundle)}

    # -- SupervisingRuntime -----------------------------------------------------------

    def monitors(self) -> FakeMonitors:
        from tests.support.fakemonitors import FakeMonitors

        return FakeMonitors(self)

    # -- for tests --------------------------------------------------------------------

    def process(self, id: str) -> FakeProcess:
        """The init process of container `id`."""
        with self.lock:
            return self._get(id).init

    def ids(self) -> list[str]:
        with self.lock:
            return sorted(self.containers)

    def _get(self, id: str) -> _Container:
        c = self.containers.get(id)
        if c is None:
            raise NotFound(f"no such container in {self.name}: {id}")
        return c

    def _status(self, c: _Container) -> str:
        return "stopped" if c.init.ended.is_set() else c.status

    def _process(self, process: dict[str, Any]) -> FakeProcess:
        args = [str(a) for a in process.get("args") or []]
        name = Path(args[0]).name if args else ""
        if name not in self.programs:
            message = (
                f'runc create failed: unable to start container process: exec: "{args[0]}": '
                "executable file not found in $PATH"
            )
            raise RuntimeFailure(f"OCI runtime create failed: {message}: unknown", exit_code=127)
        return FakeProcess(args, [str(e) for e in process.get("env") or []])

    def _launch(self, p: FakeProcess) -> None:
        code = self.programs[Path(p.args[0]).name](p)
        if code is not None:
            p.exit(code)


def _signal_number(name: str) -> int:
    if name.isdigit():
        return int(name)
    return int(signals.Signals[name if name.startswith("SIG") else f"SIG{name}"])


def fake_engine(tmp: Path, runtime: FakeRuntime | None = None) -> Engine:
    """An Engine in `tmp` on a FakeRuntime (`engine.containers.runner.runtime`)."""
    paths = Paths(tmp / "root", f"unix://{tmp}/run/lamina.sock")
    return Engine(paths, runtime=runtime or FakeRuntime(paths.run_dir / "runc"))


def scratch_image(engine: Engine, name: str, cmd: list[str]) -> Digest:
    """An image with no layers whose command is `cmd`, tagged `name`."""
    config = new_config(
        diff_ids=[], history=[{"created_by": "test", "empty_layer": True}], config={"Cmd": cmd}
    )
    return engine.images.commit(config, [], tags=[parse_normalized(name).with_default_tag()])


def quiesce(engine: Engine) -> None:
    """Every container removed, and the threads that record exits and restarts done:
    after `engine.close()` they would find its database closed."""
    for c in engine.containers.all():
        with contextlib.suppress(NotFound):
            engine.containers.remove(c.id, force=True)
    wait_for(lambda: not threads("watch-", "restart-"), what="the service's threads to end")


def threads(*prefixes: str) -> list[str]:
    """The running threads whose names start so (the container service names its own)."""
    return [t.name for t in threading.enumerate() if t.name.startswith(prefixes)]
