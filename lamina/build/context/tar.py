"""A build context that arrives as a tar (`POST /build`), unpacked to be read in place.

The tar (plain or gzip, as the docker CLI and docker-py send it) is extracted into a
fresh folder under `<build>/contexts/` with the layer extractor's protections: every
member is placed inside the folder (`..` and symlinks cannot lead out), and `.wh.`
names are ordinary files, since a context is not a layer. The folder is then a context
like any other, and is removed when the build ends.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from lamina.errors import InvalidArgument
from lamina.store.archive import apply_layer, open_layer


def extract_context(stream: BinaryIO, parent: Path) -> Path:
    """Unpack the context tar in `stream`; returns the folder (the caller removes it)."""
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(prefix="ctx-", dir=parent))
    try:
        apply_layer(open_layer(stream), folder, whiteouts="keep")
    except InvalidArgument as err:
        shutil.rmtree(folder, ignore_errors=True)
        message = str(err).replace("layer tar:", "build context tar:")
        raise InvalidArgument(message) from err
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def remove_context(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
