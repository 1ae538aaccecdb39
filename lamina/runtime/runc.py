"""The `Runtime` for runc, or crun (same command line).

One per lamina instance, with its own `--root` state directory so test daemons never
see each other's containers. Every call runs the runtime binary once.
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

import contextlib
import json
import os
import select
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from subprocess import DEVNULL, PIPE, Popen
from typing import Any

from lamina import process
from lamina.errors import Cancelled, Conflict, FailedPrecondition, Internal, LaminaError, NotFound
from lamina.runtime.mounter import HOST, Mounter
from lamina.runtime.protocol import Output, RuntimeFailure, Stdio

# Aliases, because inside `RuncRuntime` the name `list` is the method, not the type.
Argv = list[str]
Records = list[dict[str, Any]]
TIMEOUT = 120.0  # seconds; runc answers in well under one unless the host is stuck
_POLL = 0.1  # seconds between checks for a cancelled `run`

_CONFLICT_WORDS = (
    "not running",
    "not stopped",
    "not paused",
    "already running",
    "already paused",
    "has stopped",
    "with id exists",
)


def oci_runtime(binary: str = "runc", *, root: Path) -> RuncRuntime:
    """The runtime named by `--runtime`/LAMINA_RUNTIME (a name on PATH or a path), with
    its state in `root`: how the daemon builds it, and a monitor rebuilds it."""
    return RuncRuntime(binary, root=root)


class RuncRuntime:
    """An OCI runtime binary and its state directory (a `Runtime`).

    Only a container's monitor creates, starts and deletes it; the daemon kills, pauses,
    and asks for `state`/`list`; a build's RUN step is one `run`. Root filesystems are
    mounted in the host's mount namespace.
    """

    mounter: Mounter = HOST

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

    def run(self, id: str, bundle: Path, *, output: Output, cancel: threading.Event) -> int:
        """`runc run` in the foreground, stdout and stderr both to `output` as they come;
        the process's exit status. runc deletes a container whose process it saw exit."""
        log = bundle / "runtime.log"
        read_end, write_end = os.pipe()
        try:
            argv = self._argv(["run", "--bundle", str(bundle), id], log)
            runner = self._spawn(argv, DEVNULL, write_end, write_end)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        reader = threading.Thread(target=_pump, args=(read_end, output), daemon=True)
        reader.start()
        code = self._wait_cancellable(id, runner, cancel)
        reader.join()
        if cancel.is_set():
            raise Cancelled("build cancelled")
        message = _read_error(log)
        if message and code != 0:
            raise RuntimeFailure(
                f"runc run failed: {message}", exit_code=exit_code_for(message, "")
            )
        return code

    def _wait_cancellable(self, id: str, runner: Popen[bytes], cancel: threading.Event) -> int:
        # A pidfd wakes us the moment the runtime exits (Popen.wait(timeout) polls with
        # growing sleeps, which adds up to tens of ms to every RUN).
        pidfd = os.pidfd_open(runner.pid)
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            while not poller.poll(_POLL * 1000):
                if cancel.is_set():
                    with contextlib.suppress(LaminaError):
                        self.kill(id, "KILL", all=True)
        finally:
            os.close(pidfd)
        return runner.wait()

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


def _pump(fd: int, output: Output) -> None:
    """Forward the process's output as it comes (the pipe closes when it exits)."""
    with open(fd, "rb", buffering=0) as stream:
        while chunk := stream.read(65536):
            output(chunk)


def _console_args(console_socket: str | Path | None) -> Argv:
    return ["--console-socket", str(console_socket)] if console_socket else []


def _config_command(config: Path) -> str:
    """The bundle's process.args[0], so errors can be matched to the command as Docker does."""
    try:
        args = json.loads(config.read_bytes())["process"]["args"]
        return str(args[0]) if args else ""
    except (OSError, ValueError, KeyError, TypeError):
        return ""
