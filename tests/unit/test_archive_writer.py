"""write_tar's own header writer gives exactly the bytes `tarfile` gives (layer diffIDs
must not depend on which of the two wrote them)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from lamina.store.archive import write_tar
from tests.support.tars import reference_tar, varied_tree


@pytest.fixture
def varied(tmp_path: Path) -> Path:
    return varied_tree(tmp_path / "tree")


@pytest.mark.parametrize("epoch", [None, 1_000_000_000])
def test_same_bytes_as_tarfile(varied: Path, epoch: int | None) -> None:
    out = io.BytesIO()
    write_tar(varied, out, source_date_epoch=epoch)
    assert out.getvalue() == reference_tar(varied, epoch=epoch)
    assert len(out.getvalue()) % tarfile.RECORDSIZE == 0


def test_same_bytes_for_an_overlay_upper_dir(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    os.mknod(upper / "etc" / "gone", stat.S_IFCHR, os.makedev(0, 0))
    (upper / "etc" / "new").write_text("n")
    out = io.BytesIO()
    write_tar(upper, out, whiteouts="overlay")
    assert out.getvalue() == reference_tar(upper, overlay=True)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        names = tar.getnames()
    assert names == ["etc", "etc/.wh.gone", "etc/new"]
