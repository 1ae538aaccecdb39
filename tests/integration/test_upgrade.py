"""A data root an older lamina made: its containers' writable layers sit in
`containers/<id>/{upper,work}`, from before the layer store owned active snapshots.
They survive the upgrade, running or stopped: the new daemon moves each into the
store (`layers/active/container-<id>/`) and the containers go on as they were."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from lamina.cli.client import Client
from tests.conftest import Daemon, start_daemon, stop_daemon
from tests.support.store_audit import audit
from tests.support.wait import wait_for

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runc") is None, reason="needs root and runc"
)


def to_older_layout(root: Path, cid: str) -> None:
    """Put a container's writable layer back where an older lamina kept it. The
    running one's stays mounted as it is: a mount holds its dirs, not their names."""
    snapshot = root / "layers" / "active" / f"container-{cid}"
    for name in ("upper", "work"):
        os.rename(snapshot / name, root / "containers" / cid / name)
    shutil.rmtree(snapshot)


def test_an_older_laminas_containers_survive_the_upgrade(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    d, root = daemon, daemon.paths.root
    d.lamina("run", "-d", "--name", "running", "busybox", "sh", "-c", "echo a > /a; sleep 600")
    d.lamina("run", "--name", "stopped", "busybox", "sh", "-c", "echo b > /b")
    ids = d.lamina("inspect", "-f", "{{.Id}}", "running", "stopped").stdout.split()
    wait_for(
        lambda: d.lamina("exec", "running", "cat", "/a", check=False).stdout == "a\n",
        what="the running container to write its file",
    )
    stop_daemon(d.process)  # containers keep running, as they do across an upgrade
    for cid in ids:
        to_older_layout(root, cid)
    d.process = start_daemon(d.paths)

    for cid, name in zip(ids, ("a", "b"), strict=True):
        assert not {"upper", "work"} & set(os.listdir(root / "containers" / cid))
        upper = root / "layers" / "active" / f"container-{cid}" / "upper"
        assert (upper / name).read_text() == f"{name}\n"
    d.lamina("exec", "running", "sh", "-c", "echo c > /c")  # into the moved, mounted dir
    [shown] = json.loads(d.lamina("inspect", "running").stdout)
    assert (Path(shown["GraphDriver"]["Data"]["UpperDir"]) / "c").read_text() == "c\n"
    assert shown["GraphDriver"]["Data"]["WorkDir"] == str(
        root / "layers" / "active" / f"container-{ids[0]}" / "work"
    )
    sizes = {c["Id"]: c["SizeRw"] for c in Client(d.paths).get_json("/system/df")["Containers"]}
    assert sizes[ids[0]] > 0 and sizes[ids[1]] > 0
    d.lamina("restart", "-t", "1", "running")  # mounted again, from the store
    assert d.lamina("exec", "running", "cat", "/a", "/c").stdout == "a\nc\n"
    d.lamina("cp", "stopped:/b", str(tmp_path / "b"))
    assert (tmp_path / "b").read_text() == "b\n"
    d.lamina("start", "-a", "stopped")
    assert audit(root).clean
    d.lamina("rm", "-f", "running", "stopped")
    assert os.listdir(root / "layers" / "active") == []
