"""What the tests may do, by capability rather than by user id: `make test` runs the
unit tests as root with every capability dropped (uid 0, and no power of root's)."""

from __future__ import annotations

from lamina.process import CAP_CHOWN, CAP_MKNOD, effective_capabilities

__all__ = ["CAP_CHOWN", "CAP_MKNOD", "capable"]


def capable(*capabilities: int) -> bool:
    """Whether this process holds every one of `capabilities` (CAP_* numbers)."""
    held = effective_capabilities()
    return all(held >> capability & 1 for capability in capabilities)
