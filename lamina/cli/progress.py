"""Printing Docker's JSON message streams (import, bootstrap, later pull and build).

A stream is complete only with its final message (an import's image ID, a bootstrap's
`aux` ID): one that ends without it, or is cut off, means the daemon stopped midway,
and that is an error, never a silent success.
"""

from __future__ import annotations

import sys

from lamina.cli.client import ConnectionLost, Reply

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every command ~2.5 ms to import
    from collections.abc import Callable
    from typing import Any

    Message = dict[str, Any]


def show_stream(
    reply: Reply, *, what: str, finished: Callable[[Message], bool], quiet_status: bool = False
) -> int:
    """Print each message's status/stream text; exit 1 on an `error` message, and on a
    stream that ends before a message `finished` accepts (naming `what` was cut short)."""
    status = 0
    done = False
    try:
        for message in reply.lines():
            status |= _show(message, quiet_status=quiet_status)
            done = done or finished(message)
        sys.stdout.flush()
    except (ConnectionLost, ValueError):  # cut off, maybe mid-line
        done = False
    finally:
        reply.close()
    if status == 0 and not done:
        return cut_short(what)
    return status


def cut_short(what: str) -> int:
    """Say that the daemon went away before `what` finished; the exit status."""
    sys.stdout.flush()
    print(f"error: the daemon closed the stream before the {what} finished", file=sys.stderr)
    return 1


def _show(message: Message, *, quiet_status: bool) -> int:
    if "error" in message:
        print(
            f"Error: {message['error']}"
            if message.get("errorDetail", {}).get("code") != 404
            else f"Error response from daemon: {message['error']}",
            file=sys.stderr,
        )
        return 1
    if "stream" in message:
        sys.stdout.write(message["stream"])
    elif "status" in message and not quiet_status:
        print(message["status"])
    elif "aux" in message and "ID" in message["aux"]:
        print(message["aux"]["ID"])
    return 0
