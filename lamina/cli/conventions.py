"""What the docker CLI does the same way across commands, done once here:
acting on each of several names, printing inspected objects, asking before a prune."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence

from lamina.cli.client import Client, DaemonError
from lamina.cli.format import render

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every command ~2.5 ms to import
    from typing import Any


def each(names: Sequence[str], action: Callable[[str], object], *, echo: bool = True) -> int:
    """Act on every name; print it when done (`echo`), report an error and go on."""
    status = 0
    for name in names:
        try:
            action(name)
        except DaemonError as err:
            print(f"Error response from daemon: {err}", file=sys.stderr)
            status = 1
            continue
        if echo:
            print(name)
    return status


def inspect_each(
    client: Client, names: Sequence[str], path: Callable[[str], str], fmt: str | None
) -> int:
    """`X inspect NAME…`: a JSON array (or one `--format` line each), errors on stderr."""
    found: list[Any] = []
    status = each(names, lambda name: found.append(client.get_json(path(name))), echo=False)
    print_objects(found, fmt)
    return status


def print_objects(found: Sequence[Any], fmt: str | None) -> None:
    if fmt:
        for item in found:
            print(render(fmt, item))
    else:
        print(json.dumps(found, indent=4))


def confirm(warning: str) -> bool:
    """Docker's prune prompt: WARNING!, then y/N on stdin."""
    print(f"WARNING! {warning}\nAre you sure you want to continue? [y/N] ", end="", flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")
