"""Volumes: named directories that outlive containers (Docker's `local` driver).

Read service.py's module doc first: it defines volume, anonymous, users and copy-up,
and says how creation, removal and copy-up survive a crash. disk.py keeps the
directories, records.py the rows; the API shows them (lamina.api.views.volumes).
"""

from __future__ import annotations

from lamina.volumes.service import ANONYMOUS_LABEL, Volume, VolumeService

__all__ = ["ANONYMOUS_LABEL", "Volume", "VolumeService"]
