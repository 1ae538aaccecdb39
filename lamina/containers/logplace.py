"""Where a container's log lives, by its driver (in the container's folder):

json-file   <id>-json.log, .1, .2 …   shown as `LogPath` by inspect
local       local-logs/container.log   not shown: Docker keeps these files to itself
                                       (their format is not an interface)
none        nowhere
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from lamina.containers.model import Container
from lamina.containers.monitor.logs import config as logconfig
from lamina.errors import InvalidArgument, Unsupported


class LogFiles(NamedTuple):
    """A container's log as its reader needs it: the current file, how many are kept."""

    path: Path
    max_files: int


def current_file(folder: Path, c: Container) -> Path | None:
    """The file the monitor appends to; None when the driver keeps no log."""
    driver = (c.host_config.get("LogConfig") or {}).get("Type") or logconfig.DEFAULT_DRIVER
    if driver == "none":
        return None
    if driver == "local":
        return folder / "local-logs" / "container.log"
    return folder / f"{c.id}-json.log"


def log_files(folder: Path, c: Container) -> LogFiles:
    """Where `logs` reads; Docker's 501 (Unsupported) when the driver keeps none."""
    path = current_file(folder, c)
    if path is None:
        raise Unsupported("configured logging driver does not support reading")
    try:
        max_files = logconfig.parse(c.host_config.get("LogConfig")).max_files
    except InvalidArgument:  # a record from before drivers were checked: it kept one file
        max_files = 1
    return LogFiles(path, max_files)


def shown_path(folder: Path, c: Container) -> str:
    """inspect's `LogPath`: the json-file log's path, else ""."""
    path = current_file(folder, c)
    return str(path) if path is not None and path.parent == folder else ""
