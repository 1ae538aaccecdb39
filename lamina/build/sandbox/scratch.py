"""A build's scratch space on one layer store: step workspaces and temporary folders.

    scratch = Scratch(root=<lamina root>/build, trash=trash, layers=images.layers,
                      mounter=runtime.mounter)
    space = scratch.workspace(state.chain_id)        # a snapshot on the parent
    mounts = space.mounts                            # mounted at <root>/steps/<id>/rootfs

What a step writes goes to its workspace's upper dir (see `workspace`); what it only
mounts for a while (a bind mount's private copy, heredoc files) to a temporary folder
under `<root>/<kind>/`, removed when the step ends.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lamina.build.sandbox.workspace import Trash, Workspace
from lamina.oci.digest import Digest
from lamina.runtime.mounter import Mounter
from lamina.store.layers.store import LayerStore


@dataclass(frozen=True)
class Scratch:
    root: Path
    trash: Trash
    layers: LayerStore
    mounter: Mounter  # the runtime's

    def workspace(self, parent: Digest | None) -> Workspace:
        """A new step's snapshot on `parent` and dirs; the caller removes them
        (`Workspace.remove`)."""
        return Workspace(self.root / "steps", self.layers, parent, self.trash, mounter=self.mounter)

    def layer_dirs(self, chain_id: Digest) -> list[Path]:
        """The unpacked layers of a chain, top first."""
        return self.layers.chain_dirs(chain_id)

    def folder(self, kind: str, stack: contextlib.ExitStack) -> Path:
        """A new empty folder under `<root>/<kind>/`, removed when `stack` closes."""
        parent = self.root / kind
        parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=parent))
        stack.callback(shutil.rmtree, folder, True)
        return folder
