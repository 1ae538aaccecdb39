"""Attaching to a container's stdio: now, or at its start (`docker run`, `start -a`).

A client that attaches to a running container gets a connection to its monitor. One
that attaches to a container not running yet (created, or exited and about to be
started again) gets a `PendingAttach`: the container's start connects it after the
monitor is up and before the process runs, so no output is missed. The API joins the
connection to the client's (lamina.api.attach); everything before that is here.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from lamina.containers.model import Status
from lamina.containers.monitor import client as monitor
from lamina.containers.monitor.state import State as MonitorState
from lamina.containers.monitor.state import Status as MonitorStatus
from lamina.containers.monitor.stdio import AttachRequest
from lamina.errors import NotFound

if TYPE_CHECKING:
    from lamina.containers.running import ContainerLifecycle

POLL = 0.5  # seconds between looks at a client that waits for its container's start


def attach(
    service: ContainerLifecycle, ref: str, request: AttachRequest
) -> socket.socket | PendingAttach | None:
    """A connection to the running container's monitor, or a `PendingAttach` its start
    will connect, or None (a container that neither runs nor can start)."""
    with service.lock:
        current = service.get(ref)
        cid = current.id
        if current.state.running:
            return monitor.attach(service.runner.files(cid), request)
        if current.state.status in (Status.CREATED, Status.EXITED):
            pending = PendingAttach(service, cid, request)
            service.attach_hooks.setdefault(cid, []).append(pending.hook)
            return pending
    return None


class PendingAttach:
    """An attach to a container not running yet, connected by its start."""

    def __init__(self, service: ContainerLifecycle, cid: str, request: AttachRequest) -> None:
        self.service = service
        self.cid = cid
        self.request = request
        self.ready = threading.Event()
        self.sock: socket.socket | None = None

    def hook(self, state: MonitorState) -> None:
        """Called by start, after the monitor is up and before the process starts."""
        if state.status != MonitorStatus.CREATE_FAILED:
            self.sock = monitor.attach(self.service.runner.files(self.cid), self.request)
        self.ready.set()

    def wait(self, gone: Callable[[], bool]) -> socket.socket | None:
        """The monitor connection once the container starts; None if it is removed
        first, or the client leaves first (`gone`, asked every POLL seconds)."""
        while not self.ready.wait(POLL):
            if gone():
                return None
            try:
                self.service.get(self.cid)
            except NotFound:
                return None
        return self.sock

    def abandon(self) -> None:
        """Let go of an attach nobody reads: its start hook, and the connection a start
        made for it meanwhile."""
        with self.service.lock:  # a start running its hooks finishes them first
            hooks = self.service.attach_hooks.get(self.cid, [])
            if self.hook in hooks:
                hooks.remove(self.hook)
        if self.sock is not None:
            self.sock.close()
