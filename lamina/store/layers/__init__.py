"""Unpacked layers: the store (names, commits, chains) and its storage drivers.

Read store.py's module doc first: it defines chainID, parent, diff, driver and mount
description, and walks through importing a layer and running a container.
"""

from __future__ import annotations

from lamina.store.layers.copy import CopyDriver
from lamina.store.layers.driver import Driver
from lamina.store.layers.overlay import OverlayDriver
from lamina.store.layers.store import Layer, LayerStore

__all__ = ["CopyDriver", "Driver", "Layer", "LayerStore", "OverlayDriver"]
