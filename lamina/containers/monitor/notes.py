"""The monitor's own diagnostics, one line each on its stderr (a file the daemon chose).

Never fatal: if stderr is a pipe whose reader (a dead daemon) is gone, the note is lost
and the container keeps its monitor.
"""

from __future__ import annotations

import contextlib
import os
import sys

from lamina.timestamps import now


def note(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"{now()} monitor[{os.getpid()}]: {message}", file=sys.stderr, flush=True)
