"""The pty side of a monitor: receiving the master from the runtime, sizing it.

With a terminal, runc creates the pty inside the container and sends the master end
over `--console-socket` as SCM_RIGHTS ancillary data; the monitor then reads output
from and writes input to that one descriptor.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import termios

from lamina.errors import Internal, map_errors

TIMEOUT = 10.0


def receive_master(listener: socket.socket) -> int:
    """Accept the runtime's connection and take the pty master it sends."""
    listener.settimeout(TIMEOUT)
    with map_errors({OSError: Internal}, what="no pty master from the runtime's console socket"):
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            _, fds, _, _ = socket.recv_fds(conn, 4096, 4)
    if not fds:
        raise Internal("the runtime connected to the console socket but sent no pty master")
    for extra in fds[1:]:
        os.close(extra)
    # recv_fds does not ask for MSG_CMSG_CLOEXEC; a master leaked into a runc child
    # would keep the pty open after the container's last process is gone.
    os.set_inheritable(fds[0], False)
    return fds[0]


def set_size(fd: int, height: int, width: int) -> None:
    """Set the window size (the foreground process group gets SIGWINCH)."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
