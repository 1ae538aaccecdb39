"""The `Runtime` protocol: the operations containers and build ask of an OCI runtime.

A container's life in a runtime:

    create(id, bundle)   the init process exists, stopped before the user's command
    start(id)            it execs the command
    exec(id, process)    another process joins the running container
    kill(id, signal)     a signal to the init (or, with all, to every process)
    delete(id)           the runtime forgets it and frees its cgroups
    state(id)            what the runtime knows of it (None: nothing)

`run(id, bundle)` is create + start + wait + delete in one call, with the output piped
back (a build's RUN step). The engine builds one runtime at start (`runc.oci_runtime`)
and hands it to the container lifecycle, execs and the builder; tests hand in a fake.

A runtime also says where root filesystems are mounted (`mounter`): the runc adapter
mounts in the host's mount namespace, where `cp` and `export` reach them too.

A monitor is another process and cannot be handed an object: it is given the runtime's
`binary` and `root` and rebuilds it with the same factory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from lamina.errors import Internal
from lamina.runtime.mounter import Mounter

Stdio = tuple[int, int, int]  # the process's stdin, stdout, stderr descriptors
Output = Callable[[bytes], None]


class RuntimeFailure(Internal):
    """The runtime could not start a container's or an exec's process.

    An Internal: dockerd answers a runtime's refusal with a 500 and runc's words. (A
    container's monitor reports it, and the container service raises `StartFailed`
    with the exit code instead; a RUN step's failure reaches the build stream as is.)

    `exit_code` is what Docker records for it: 127 when the command does not exist,
    126 when it cannot be executed, 128 otherwise. The message reads as Docker's:
    `OCI runtime create failed: runc create failed: unable to start container
    process: exec: "nosuch": executable file not found in $PATH: unknown`.
    """

    def __init__(self, message: str, *, exit_code: int = 128) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Runtime(Protocol):
    """An OCI runtime. Errors are lamina's kinds: an unknown id is NotFound, the wrong
    state a Conflict, a process that cannot start a `RuntimeFailure`."""

    @property
    def name(self) -> str:
        """As `docker info` would show it: "runc", "crun"."""
        ...

    @property
    def binary(self) -> str:
        """What HostConfig.Runtime may name, and what a monitor rebuilds it from."""
        ...

    @property
    def root(self) -> Path:
        """The runtime's state folder (one per lamina instance)."""
        ...

    @property
    def mounter(self) -> Mounter: ...

    def create(
        self,
        id: str,
        bundle: Path,
        *,
        pid_file: Path,
        console_socket: str | Path | None = None,
        stdio: Stdio | None = None,
    ) -> None:
        """Create the container; its init waits for `start`. With a console socket the
        runtime sends the pty master there; otherwise `stdio` becomes the process's."""
        ...

    def start(self, id: str, *, pid: int | None = None) -> None:
        """Let a created container's process run (`pid`: its init, when known)."""
        ...

    def run(self, id: str, bundle: Path, *, output: Output, cancel: threading.Event) -> int:
        """Run the bundle's process to its end, its stdout and stderr to `output`; its
        exit status. `cancel` kills it (then Cancelled). The container is gone after,
        unless this raised."""
        ...

    def exec(
        self,
        id: str,
        process: dict[str, Any],
        *,
        pid_file: Path,
        console_socket: str | Path | None = None,
        stdio: Stdio | None = None,
    ) -> None:
        """Start `process` (an OCI process object) in the running container and return."""
        ...

    def kill(self, id: str, signal: int | str, *, all: bool = False) -> None:
        """Send `signal` (9, "KILL" or "SIGKILL") to the init, or with `all` to every process."""
        ...

    def delete(self, id: str, *, force: bool = False) -> None:
        """Forget a stopped container; `force` kills a running one first."""
        ...

    def state(self, id: str) -> dict[str, Any] | None:
        """The runtime's state of `id` (`status`, `pid`, `bundle`, …), None if unknown."""
        ...
