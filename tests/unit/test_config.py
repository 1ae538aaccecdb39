from __future__ import annotations

from pathlib import Path

import pytest

from lamina.config import Paths, from_env
from lamina.errors import InvalidArgument


def test_defaults() -> None:
    paths = from_env({})
    assert paths.root == Path("/var/lib/lamina")
    assert paths.socket == Path("/run/lamina/lamina.sock")
    assert paths.run_dir == Path("/run/lamina")
    assert paths.device_prefix == "lam"


def test_other_instances_derive_distinct_paths() -> None:
    a = from_env({"LAMINA_ROOT": "/tmp/a", "LAMINA_HOST": "unix:///tmp/a/x.sock"})
    b = from_env({"LAMINA_ROOT": "/tmp/b", "LAMINA_HOST": "unix:///tmp/b/x.sock"})
    assert a.run_dir == Path("/tmp/a/x.run")
    assert a.device_prefix != b.device_prefix
    assert len(a.device_prefix) <= 5


def test_only_unix_sockets() -> None:
    paths = from_env({"LAMINA_HOST": "tcp://1.2.3.4:2375"})
    with pytest.raises(InvalidArgument, match="unix://"):
        _ = paths.socket


def test_paths_are_strings_until_asked_for() -> None:
    paths = from_env({"LAMINA_ROOT": "/tmp/a/", "LAMINA_HOST": "unix:///tmp/a/x.sock"})
    assert paths.socket_file == "/tmp/a/x.sock"
    assert paths.root == Path("/tmp/a")
    assert paths == from_env({"LAMINA_ROOT": "/tmp/a", "LAMINA_HOST": "unix:///tmp/a/x.sock"})


def test_each_instance_has_a_cgroup_parent_of_its_own() -> None:
    default = Paths(root="/var/lib/lamina", host="unix:///run/lamina/lamina.sock")
    other = Paths(root="/tmp/lam-x/root", host="unix:///tmp/lam-x/lamina.sock")
    assert default.cgroup_parent == "/lamina"
    assert other.cgroup_parent == f"/lamina-{other.device_prefix}"
