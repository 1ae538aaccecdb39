"""How much a user may store as labels on a container, image build, volume or network.

Labels are kept with their object and shown by every list and inspect, so their size is
bounded where they are stored; the limits are lamina's (Docker has none, and a 100 MB
label made every `ps` slow).
"""

from __future__ import annotations

from collections.abc import Mapping

from lamina.errors import TooLarge

MAX_LABEL = 64 << 10  # bytes of one label's key and value
MAX_LABELS = 1 << 20  # bytes of all the labels of one object


def check_labels(labels: Mapping[str, str] | None, where: str) -> None:
    """Refuse (TooLarge, a 413) a label over MAX_LABEL bytes, or labels over MAX_LABELS
    bytes in all; `where` names them in the message."""
    total = 0
    for key, value in (labels or {}).items():
        size = len(key.encode()) + len(value.encode())
        if size > MAX_LABEL:
            raise TooLarge(f"{where}: label {key[:64]!r} is over {MAX_LABEL >> 10} KiB")
        total += size
    if total > MAX_LABELS:
        raise TooLarge(f"{where}: labels are over {MAX_LABELS >> 20} MiB in all")
