"""Unpacked layers: the store (names, commits, chains, active snapshots) and its drivers.

Read store.py's module doc first: it defines chainID, parent, diff, driver and mount
description, and walks through importing a layer, running a container and committing
a build step; `LayerStore.__init__` defines key, parent, active and committed.
"""

from __future__ import annotations

from lamina.store.layers.copy import CopyDriver
from lamina.store.layers.driver import Driver
from lamina.store.layers.overlay import OverlayDriver
from lamina.store.layers.store import Layer, LayerStore

__all__ = ["CopyDriver", "Driver", "Layer", "LayerStore", "OverlayDriver"]
