"""The OCI runtime (runc, or crun: same command line) as typed calls.

One `Runtime` per lamina instance, with its own `--root` state directory so test
daemons never see each other's containers. Every call runs the runtime binary once.
Failures are translated here into lamina's error kinds, with the runtime's own words
in the message:

    the container is unknown                 NotFound
    wrong state (not running, not stopped)   Conflict
    create/exec/start refused                RuntimeFailure(exit_code=127|126|128)
    the binary is missing                    FailedPrecondition
    anything else                            Internal

The runtime is asked for JSON logs (`--log-format=json`): its error lines are then
machine-readable whichever binary it is. For `create` and `exec` the process's stdio
may be the container's own pipes, so their errors go to a `--log` file instead.
"""

from __future__ import annotations

import json
import os
import select
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from subprocess import DEVNULL, PIPE, Popen
from typing import Any

from lamina import process
from lamina.errors import Conflict, FailedPrecondition, Internal, LaminaError, NotFound

Stdio = tuple[int, int, int]  # the process's stdin, stdout, stderr descriptors
# Aliases, because inside `Runtime` the name `list` is the method, not the type.
Argv = list[str]
Records = list[dict[str, Any]]
TIMEOUT = 120.0  # seconds; runc answers in well under one unless the host is stuck

_CONFLICT_WORDS = (
    "not running",
    "not stopped",
    "not paused",
    "already running",
    "already paused",
    "has stopped",
    "with id exists",
)


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


class Runtime:
    """An OCI runtime binary and its state directory.

    A container's life in the runtime: `create` (the init process exists, waiting) →
    `start` (it execs the user's command) → it exits, or `kill` makes it → `delete`
    (the runtime forgets it and removes its cgroups). `exec_detached` adds a process to
    a running container. Only the monitor creates, starts and deletes; the daemon
    kills, pauses, and asks for `state`/`list`.
    """

    def __init__(self, binary: str = "runc", *, root: Path) -> None:
        self.binary = binary
        self.root = root

    @property
    def name(self) -> str:
        return os.path.basename(self.binary)

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
        args = ["create", "--bundle", str(bundle), "--pid-file", str(pid_file)]
        args += _console_args(console_socket)
        command = lambda: _config_command(bundle / "config.json")  # noqa: E731
        self._launch("create", [*args, id], id, command, pid_file, stdio)

    def exec_detached(
        self,
        id: str,
        process: dict[str, Any],
        *,
        pid_file: Path,
        console_socket: str | Path | None = None,
        stdio: Stdio | None = None,
    ) -> None:
        """Start `process` (an OCI process object) in the running container and return."""
        spec = pid_file.with_name(pid_file.name + ".process.json")
        spec.write_text(json.dumps(process))
        args = ["exec", "--detach", "--process", str(spec), "--pid-file", str(pid_file)]
        args += _console_args(console_socket)
        command = lambda: str((process.get("args") or [""])[0])  # noqa: E731
        try:
            self._launch("exec", [*args, id], id, command, pid_file, stdio)
        finally:
            spec.unlink(missing_ok=True)

    def start(self, id: str, *, pid: int | None = None) -> None:
        """Let a created container's process run. Given its init `pid`, runc's own
        protocol is done here, sparing a runc process (~6 ms of every start)."""
        if pid is not None and self.name == "runc" and self._open_exec_fifo(id, pid):
            return
        self._run(["start", id], id)

    def _open_exec_fifo(self, id: str, pid: int) -> bool:
        """What `runc start` does: runc's init waits, before it execs the command, to
        write one byte into `exec.fifo` in the container's state dir; reading it lets
        the exec go on, and EOF follows once it happened (the writer is close-on-exec).
        The fifo then goes, which is how runc tells "running" from "created".

        False (use `runc start`) when there is no fifo where runc 1.x keeps it."""
        fifo = self.root / id / "exec.fifo"
        try:
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            data = b""
            while True:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready and process.running(pid):
                    continue  # no writer yet
                chunk = os.read(fd, 64) if ready else b""
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(fd)
        if not data:
            raise RuntimeFailure(
                f"OCI runtime start failed: container {id}: container process is already "
                "dead: unknown"
            )
        fifo.unlink(missing_ok=True)
        return True

    def kill(self, id: str, signal: int | str, *, all: bool = False) -> None:
        """Send `signal` (9, "KILL" or "SIGKILL") to the init, or with `all` to every process."""
        name = str(int(signal)) if isinstance(signal, int) else signal
        self._run(["kill", *(["--all"] if all else []), id, name], id)

    def delete(self, id: str, *, force: bool = False) -> None:
        """Forget a stopped container; `force` kills a running one first and, with runc,
        succeeds for an id the runtime does not know."""
        self._run(["delete", *(["--force"] if force else []), id], id)

    def pause(self, id: str) -> None:
        self._run(["pause", id], id)

    def resume(self, id: str) -> None:
        self._run(["resume", id], id)

    def state(self, id: str) -> dict[str, Any] | None:
        """The runtime's state of `id` (`status`, `pid`, `bundle`, …), None if unknown."""
        try:
            result: dict[str, Any] = json.loads(self._run(["state", id], id))
        except NotFound:
            return None
        return result

    def list(self) -> Records:
        out = json.loads(self._run(["list", "--format", "json"], ""))
        return list(out or [])  # runc prints `null` when it knows no container

    def _argv(self, args: Sequence[str], log: Path | None = None) -> Argv:
        logging: Argv = [f"--log={log}"] if log else []
        return [self.binary, f"--root={self.root}", "--log-format=json", *logging, *args]

    def _spawn(self, argv: Argv, stdin: int, stdout: int, stderr: int) -> Popen[bytes]:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            return Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr)
        except FileNotFoundError as err:
            raise FailedPrecondition(f"OCI runtime {self.binary!r} is not installed") from err

    def _wait(self, process: Popen[bytes], op: str, id: str) -> tuple[bytes, bytes]:
        # Not communicate(timeout=…): without pipes that polls waitpid with sleeps of up
        # to 50 ms, which added ~35 ms to every container start. A watchdog kills a hung
        # runtime instead, and the wait itself blocks in waitpid.
        fired = threading.Event()

        def expire() -> None:
            fired.set()
            process.kill()

        watchdog = threading.Timer(TIMEOUT, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            out, err = process.communicate()
        finally:
            watchdog.cancel()
        if fired.is_set():
            raise Internal(f"{self.name} {op} {id} did not finish in {TIMEOUT:.0f}s")
        return out or b"", err or b""

    def _run(self, args: Argv, id: str) -> bytes:
        process = self._spawn(self._argv(args), DEVNULL, PIPE, PIPE)
        out, err = self._wait(process, args[0], id)
        if process.returncode != 0:
            message = error_text(err.decode(errors="replace"))
            message = message or f"exit status {process.returncode}"
            raise self._error(args[0], id, message)
        return out

    def _launch(
        self,
        op: str,
        args: Argv,
        id: str,
        command: Callable[[], str],
        pid_file: Path,
        stdio: Stdio | None,
    ) -> None:
        """Run `op`; on failure, its error with `command()` (read only then: the bundle's
        config is parsed for an error's exit code, not on every start)."""
        # Never a pipe of ours here: without a TTY the container inherits these, and
        # reading them to EOF would wait for the container to exit.
        stdin, stdout, stderr = stdio or (DEVNULL, DEVNULL, DEVNULL)
        log = pid_file.with_name(pid_file.name + ".runtime.log")
        log.unlink(missing_ok=True)
        try:
            process = self._spawn(self._argv(args, log), stdin, stdout, stderr)
            self._wait(process, op, id)
            if process.returncode != 0:
                message = _read_error(log) or f"exit status {process.returncode}"
                raise self._error(op, id, message, command=command())
        finally:
            log.unlink(missing_ok=True)

    def _error(self, op: str, id: str, message: str, *, command: str = "") -> LaminaError:
        lower = message.lower()
        if "does not exist" in lower or "container not found" in lower:
            return NotFound(f"no such container in {self.name}: {id}")
        if any(word in lower for word in _CONFLICT_WORDS):
            return Conflict(f"container {id}: {message}")
        if op in ("create", "exec", "start"):
            code = exit_code_for(message, command)
            return RuntimeFailure(f"OCI runtime {op} failed: {message}: unknown", exit_code=code)
        return Internal(f"{self.name} {op} {id} failed: {message}")


def exit_code_for(message: str, command: str) -> int:
    """Docker's exit code for a process the runtime could not start (as dockerd decides)."""
    lower = message.lower()
    not_found = ("executable file not found", "no such file or directory", "not found in $path")
    if (not command or command.lower() in lower) and any(s in lower for s in not_found):
        return 127
    if "permission denied" in lower or "is a directory" in lower:
        return 126
    if "not a directory" in lower:
        return 127
    return 128


def error_text(stderr: str) -> str:
    """The runtime's error from its JSON log lines (last error wins), else its plain text."""
    errors, plain = [], []
    for line in stderr.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            if line.strip():
                plain.append(line.strip())
            continue
        if isinstance(doc, dict) and doc.get("level") in ("error", "fatal"):
            errors.append(str(doc.get("msg", "")))
    return errors[-1] if errors else "; ".join(plain)


def _read_error(log: Path) -> str:
    try:
        return error_text(log.read_text(errors="replace"))
    except FileNotFoundError:
        return ""


def _console_args(console_socket: str | Path | None) -> Argv:
    return ["--console-socket", str(console_socket)] if console_socket else []


def _config_command(config: Path) -> str:
    """The bundle's process.args[0], so errors can be matched to the command as Docker does."""
    try:
        args = json.loads(config.read_bytes())["process"]["args"]
        return str(args[0]) if args else ""
    except (OSError, ValueError, KeyError, TypeError):
        return ""
