"""Printing Docker's JSON message streams (import, bootstrap, later pull and build)."""

from __future__ import annotations

import sys

from lamina.cli.client import Reply


def show_stream(reply: Reply, *, quiet_status: bool = False) -> int:
    """Print each message's status/stream text; an `error` message makes the exit 1."""
    status = 0
    try:
        for message in reply.lines():
            if "error" in message:
                print(
                    f"Error: {message['error']}"
                    if message.get("errorDetail", {}).get("code") != 404
                    else f"Error response from daemon: {message['error']}",
                    file=sys.stderr,
                )
                status = 1
            elif "stream" in message:
                sys.stdout.write(message["stream"])
            elif "status" in message and not quiet_status:
                print(message["status"])
            elif "aux" in message and "ID" in message["aux"]:
                print(message["aux"]["ID"])
        sys.stdout.flush()
    finally:
        reply.close()
    return status
