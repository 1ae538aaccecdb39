"""One monitor's life: create the process, hand out its stdio, record how it ended.

    open stdio      pipes (or a console socket for the pty), attach + control sockets
    create          `runc create` (an exec waits for its launch: runc has no exec-create)
    [created]       with --wait-attach: published, then wait for the first client
    launch          `runc start` / `runc exec --detach` → state "running"
    serve           output → log + attach clients; input → stdin; control requests
    exit            the process is reaped (we are its subreaper); output drained
    finish          log flushed, state "exited", clients told and closed, `runc delete`,
                    exit 0

A refusal by the runtime at create or launch ends in state "create-failed" instead.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from lamina import timestamps
from lamina.containers.logs.writer import LogWriter
from lamina.containers.monitor import cgroups, reaper, sockets
from lamina.containers.monitor.attach import AttachHub
from lamina.containers.monitor.control import ControlServer
from lamina.containers.monitor.loop import Listener, Reactor, Reader, SocketChannel, Writer
from lamina.containers.monitor.notes import note
from lamina.containers.monitor.options import Options
from lamina.containers.monitor.terminal import receive_master, set_size
from lamina.containers.state import MonitorFiles, State, Status, write_state
from lamina.containers.stdio import STDERR, STDOUT
from lamina.errors import Conflict, Internal, LaminaError
from lamina.runtime.protocol import Stdio
from lamina.runtime.runc import oci_runtime

DRAIN_SECONDS = 2.0  # after the exit, how long output from lingering writers is awaited
FLUSH_SECONDS = 2.0  # how long clients get to read their last queued bytes


class Monitor:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.files = MonitorFiles(opts.state_dir, opts.exec_id)
        self.runtime = oci_runtime(opts.runtime, root=opts.runtime_root)
        self.reactor = Reactor()
        self.hub = AttachHub(tty=opts.tty, stdin_once=opts.stdin_once, on_first_attach=self._go)
        self.control = ControlServer(
            {"resize": self._resize, "close-stdin": self._close_stdin, "start": self._start}
        )
        self.state = State(Status.CREATED, monitor_pid=os.getpid())
        self.log: LogWriter | None = None
        self.readers: list[Reader] = []
        self.terminal: Reader | None = None
        self.exit_code: int | None = None
        self.failure: LaminaError | None = None
        self.waiting = False
        self._drain_until = 0.0
        self._finished_at = ""
        self._stdio: Stdio | None = None
        self._child_fds: list[int] = []
        self._console: socket.socket | None = None
        self._dir_fd = -1
        self._cgroup: Path | None = None
        self._ready_fd = opts.ready_fd

    def run(self) -> int:
        self._setup_process()
        self._open_stdio()
        self._listen()
        try:
            self._begin()
            self._serve()
        except LaminaError as err:
            self.failure = err
        except OSError as err:  # e.g. the runtime wrote no pid file
            self.failure = Internal(f"monitor of {self.opts.id}: {err}")
        self._finish()
        return 0

    # -- setup ---------------------------------------------------------------------------

    def _setup_process(self) -> None:
        os.chdir("/")  # hold no mount busy
        reaper.become_subreaper()
        self.reactor.add(reaper.watch_children(self._reap))
        for signum in (signal.SIGHUP, signal.SIGINT):  # a terminal's, or a daemon's group's
            signal.signal(signum, signal.SIG_IGN)
        if self._ready_fd is not None:
            os.set_inheritable(self._ready_fd, False)
        self.files.dir.mkdir(parents=True, exist_ok=True)
        self._dir_fd = os.open(self.files.dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        if self.opts.log is not None and not self.opts.is_exec:
            self.log = LogWriter(self.opts.log, self.opts.log_config, report=note)

    def _open_stdio(self) -> None:
        if self.opts.tty:
            self._console = sockets.listen(self.files.console, backlog=1)
            return
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        if self.opts.stdin:
            in_r, in_w = os.pipe2(os.O_CLOEXEC)
            self._set_stdin(in_w)
        else:
            in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self._stdio = (in_r, out_w, err_w)
        self._child_fds = [in_r, out_w, err_w]
        self._add_reader(out_r, STDOUT)
        self._add_reader(err_r, STDERR)

    def _listen(self) -> None:
        attach = sockets.listen(self.files.attach)
        control = sockets.listen(self.files.control)
        self.reactor.add(Listener(attach, lambda s: self.reactor.add(self.hub.connect(s))))
        self.reactor.add(Listener(control, lambda s: self.reactor.add(self.control.connect(s))))

    def _add_reader(self, fd: int, stream: int) -> Reader:
        reader = Reader(fd, lambda data: self._output(stream, data))
        self.readers.append(reader)
        self.reactor.add(reader)
        return reader

    def _set_stdin(self, fd: int) -> None:
        self.hub.stdin = Writer(fd)
        self.reactor.add(self.hub.stdin)

    # -- create and launch ---------------------------------------------------------------

    def _begin(self) -> None:
        if not self.opts.is_exec:
            assert self.opts.bundle is not None
            self.runtime.create(
                self.opts.id, self.opts.bundle, pid_file=self.files.pid_file,
                console_socket=self._console_address(), stdio=self._stdio,
            )  # fmt: skip
            self._runtime_started_process()
            self._discard_runtime_output()
            self._cgroup = cgroups.memory_cgroup(self.state.pid)
        if self.opts.wait_attach:
            self.waiting = True
            self._publish(self.state)
        else:
            self._launch()

    def _launch(self) -> None:
        if self.opts.is_exec:
            self.runtime.exec(
                self.opts.id, self._exec_process(), pid_file=self.files.pid_file,
                console_socket=self._console_address(), stdio=self._stdio,
            )  # fmt: skip
            self._runtime_started_process()
        else:
            self.runtime.start(self.opts.id, pid=self.state.pid)
        running = State(Status.RUNNING, pid=self.state.pid, monitor_pid=os.getpid())
        self._publish(running._replace(started_at=timestamps.now()))

    def _go(self) -> None:
        """Launch a --wait-attach process (first attach, or a `start` request)."""
        if not self.waiting:
            return
        self.waiting = False
        try:
            self._launch()
        except LaminaError as err:
            self.failure = err

    def _runtime_started_process(self) -> None:
        for fd in self._child_fds:  # the process has its copies; EOF must depend on it alone
            os.close(fd)
        self._child_fds = []
        if self._console is not None:
            self._attach_terminal()
        pid = int(self.files.pid_file.read_text())
        self.files.pid_file.unlink(missing_ok=True)
        self.state = self.state._replace(pid=pid)

    def _attach_terminal(self) -> None:
        assert self._console is not None
        with self._console:
            master = receive_master(self._console)
        self._console = None
        self.files.console.unlink(missing_ok=True)
        if self.opts.console_size is not None:
            set_size(master, *self.opts.console_size)
        self.terminal = self._add_reader(master, STDOUT)
        if self.opts.stdin:
            self._set_stdin(os.dup(master))  # a second descriptor: reader and writer close apart

    def _discard_runtime_output(self) -> None:
        # Until `start`, nothing of the container has run: bytes in its pipes are the
        # runtime's own messages (it shares them with the process) and are not output.
        for reader in self.readers:
            reader.discard()

    def _exec_process(self) -> dict[str, Any]:
        assert self.opts.exec_process is not None
        process: dict[str, Any] = json.loads(self.opts.exec_process.read_bytes())
        process["terminal"] = self.opts.tty
        return process

    def _console_address(self) -> str | None:
        if self._console is None:
            return None
        return sockets.address_for_child(self.files.console, self._dir_fd)

    # -- serve -----------------------------------------------------------------------------

    def _serve(self) -> None:
        self._reap()  # a process that ended before SIGCHLD was being watched
        while not self._done():
            timeout = None
            if self.exit_code is not None:
                timeout = max(0.0, self._drain_until - time.monotonic())
            self.reactor.poll(timeout)

    def _done(self) -> bool:
        if self.failure is not None:
            return True
        if self.exit_code is None:
            return False
        drained = all(reader.closed for reader in self.readers)
        return drained or time.monotonic() >= self._drain_until

    def _output(self, stream: int, data: bytes) -> None:
        if self.log is not None:
            self.log.write("stdout" if stream == STDOUT else "stderr", data)
        self.hub.broadcast(stream, data)

    def _reap(self) -> None:
        code = reaper.reap(self.state.pid)
        if code is not None and self.exit_code is None:
            self.exit_code = code
            self._finished_at = timestamps.now()
            self._drain_until = time.monotonic() + DRAIN_SECONDS

    # -- control requests ------------------------------------------------------------------

    def _resize(self, request: dict[str, Any]) -> None:
        if self.terminal is None or self.terminal.closed:
            raise Conflict(f"{self.opts.id} has no terminal to resize")
        set_size(self.terminal.fd, int(request["height"]), int(request["width"]))

    def _close_stdin(self, request: dict[str, Any]) -> None:
        self.hub.close_stdin()

    def _start(self, request: dict[str, Any]) -> None:
        # Idempotent: a daemon may attach (which starts the process) and then ask.
        self._go()
        if self.failure is not None:
            raise self.failure

    # -- finish ----------------------------------------------------------------------------

    def _finish(self) -> None:
        if self.failure is None:
            for reader in self.readers:
                reader.drain()
        if self.log is not None:
            self.log.close()
        for fd in self._child_fds:
            os.close(fd)
        if self._console is not None:
            self._console.close()
        final = self._final_state()
        self._publish(final)
        notified = self.control.notify(final.to_json())
        self.hub.finish_all()
        self._flush([*self.hub.clients, *notified])
        if not self.opts.is_exec:
            # After the exit is out, not before: `runc delete` takes ~6 ms that nobody
            # waiting for the exit needs to wait for. Whoever reuses the id waits for
            # this process to end instead (Runner.spawn).
            self._delete()
        self.reactor.close_all()
        for path in self.files.sockets:
            path.unlink(missing_ok=True)
        if self.log is not None:
            self.log.wait()  # a rotated file still being compressed

    def _final_state(self) -> State:
        ended = self._finished_at or timestamps.now()
        oom = cgroups.oom_kills(self._cgroup) > 0 if self._cgroup else False
        if self.failure is not None:
            note(f"{self.opts.id}: {self.failure}")
            code = getattr(self.failure, "exit_code", 128)
            return State(Status.CREATE_FAILED, monitor_pid=os.getpid(), finished_at=ended,
                         exit_code=code, error=str(self.failure))  # fmt: skip
        return self.state._replace(
            status=Status.EXITED, exit_code=self.exit_code, finished_at=ended, oom_killed=oom
        )

    def _delete(self) -> None:
        try:
            self.runtime.delete(self.opts.id, force=True)
        except LaminaError as err:
            if self.runtime.state(self.opts.id) is not None:
                note(f"{self.opts.id}: runtime delete failed: {err}")

    def _flush(self, conns: list[SocketChannel]) -> None:
        deadline = time.monotonic() + FLUSH_SECONDS
        while any(not c.closed for c in conns) and time.monotonic() < deadline:
            self.reactor.poll(0.05)

    def _publish(self, state: State) -> None:
        self.state = state
        write_state(self.files.state, state)
        fd, self._ready_fd = self._ready_fd, None  # readiness is the first state, once
        if fd is not None:
            try:
                os.write(fd, json.dumps(state.to_json()).encode() + b"\n")
            except OSError:
                pass  # the daemon that wanted to know is gone; the state file says it all
            finally:
                os.close(fd)
