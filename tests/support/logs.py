"""A container's log read entry by entry, as tests want it; the daemon streams the
batches `read_batches` hands out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lamina.containers.monitor.logs.entries import LogEntry
from lamina.containers.monitor.logs.reader import read_batches


def read_entries(path: Path, **options: Any) -> Iterator[LogEntry]:
    """The entries of the log at `path`, oldest first; `options` are read_batches'."""
    for batch in read_batches(path, **options):
        yield from batch
