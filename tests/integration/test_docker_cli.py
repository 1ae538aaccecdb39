"""The real docker CLI (client only) against lamina: proof of API compatibility."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import Daemon

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")


def test_version_and_info(daemon: Daemon) -> None:
    out = daemon.docker("version", "--format", "{{json .Server}}").stdout
    server = json.loads(out)
    assert server["ApiVersion"] == "1.45" and server["Platform"]["Name"] == "lamina"
    info = daemon.docker("info", "--format", "{{json .}}").stdout
    assert json.loads(info)["Driver"] in ("overlay", "copy")
    assert "Server Version: 0.1.0" in daemon.docker("info").stdout


def test_images_inspect_history_df_and_rmi(daemon: Daemon, busybox: str) -> None:
    rows = daemon.docker("images").stdout.splitlines()
    assert rows[1].split()[:3] == ["busybox", "latest", busybox[7:19]]
    [image] = json.loads(daemon.docker("image", "inspect", "busybox").stdout)
    assert image["Id"] == busybox and image["Config"]["Cmd"] == ["sh"]
    history = daemon.docker("history", "busybox").stdout.splitlines()
    assert history[1].startswith(busybox[7:19])
    df = daemon.docker("system", "df").stdout.splitlines()
    assert df[1].split()[:3] == ["Images", "1", "0"]
    removed = daemon.docker("rmi", "busybox").stdout
    assert "Untagged: busybox:latest" in removed and f"Deleted: {busybox}" in removed


def test_tag_then_untag_with_a_registry_name(daemon: Daemon, busybox: str) -> None:
    daemon.docker("tag", "busybox", "localhost:5000/tools/bb:1.0")
    assert "localhost:5000/tools/bb" in daemon.docker("images").stdout
    assert (
        daemon.docker("rmi", "localhost:5000/tools/bb:1.0").stdout.strip()
        == "Untagged: localhost:5000/tools/bb:1.0"
    )
    df = daemon.docker("system", "df").stdout.splitlines()
    assert df[1].split()[:3] == ["Images", "1", "0"]  # the untag left busybox's one image


def test_docker_cli_errors(daemon: Daemon) -> None:
    result = daemon.docker("image", "inspect", "nosuch", check=False)
    assert result.returncode == 1 and "No such image: nosuch" in result.stderr
    result = daemon.docker("rmi", "nosuch", check=False)
    assert result.returncode == 1 and "No such image: nosuch:latest" in result.stderr


def test_docker_import(daemon: Daemon) -> None:
    from tests.integration.test_images_cli import rootfs_tar

    daemon.docker("import", "-", "imported:1", input=rootfs_tar({"f": b"data"}))
    assert "imported" in daemon.docker("images", "--format", "{{.Repository}}").stdout


def test_docker_sdk_lists_and_tags(daemon: Daemon, busybox: str) -> None:
    import docker

    client = docker.DockerClient(base_url=daemon.paths.host)
    try:
        [image] = client.images.list()
        assert image.id == busybox and image.tags == ["busybox:latest"]
        assert image.tag("sdk/tagged", "x")
        assert "sdk/tagged:x" in client.images.get("busybox").tags
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get("nosuch")
    finally:
        client.close()
