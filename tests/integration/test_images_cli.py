"""The image commands end to end: lamina CLI → API → engine, on a private daemon."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from tests.conftest import Daemon


def rootfs_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_bootstrap_busybox_is_deterministic_and_cached(daemon: Daemon, busybox: str) -> None:
    assert busybox.startswith("sha256:")
    again = daemon.lamina("image", "bootstrap", "busybox").stdout.strip().splitlines()
    assert again[-1] == busybox
    assert not any("building" in line for line in again)
    images = daemon.lamina("images").stdout.splitlines()
    assert images[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert images[1].split()[:3] == ["busybox", "latest", busybox[7:19]]


def test_inspect_and_history(daemon: Daemon, busybox: str) -> None:
    [image] = json.loads(daemon.lamina("image", "inspect", "busybox").stdout)
    assert image["Id"] == busybox
    assert image["RepoTags"] == ["busybox:latest"]
    assert image["Config"]["Cmd"] == ["sh"]
    assert len(image["RootFS"]["Layers"]) == 1
    fmt = daemon.lamina("inspect", "--format", "{{json .Config.Cmd}}", busybox[7:19]).stdout
    assert fmt.strip() == '["sh"]'
    history = daemon.lamina("history", "busybox").stdout.splitlines()
    assert history[0].split()[:2] == ["IMAGE", "CREATED"]
    assert history[1].split()[0] == busybox[7:19]


def test_import_with_changes_and_tag_rules(daemon: Daemon) -> None:
    tar = rootfs_tar({"hello.txt": b"hi\n"})
    out = daemon.lamina(
        "import", "-c", 'CMD ["/hello"]', "-c", "ENV A=1", "-m", "first", "-", "mine:v1", input=tar
    ).stdout
    image_id = out.strip().splitlines()[-1]
    assert image_id.startswith("sha256:")
    [image] = json.loads(daemon.lamina("image", "inspect", "mine:v1").stdout)
    assert image["Config"]["Cmd"] == ["/hello"] and image["Config"]["Env"] == ["A=1"]
    assert image["Comment"] == "first"
    # the same tar again makes the same layer: stored once
    daemon.lamina("import", "-", "other", input=tar)
    layers_dir = daemon.paths.root / "layers"
    assert len([p for p in layers_dir.iterdir() if len(p.name) == 64]) == 1
    daemon.lamina("tag", "mine:v1", "mine:v2")
    daemon.lamina("tag", "mine:v1", "elsewhere/mine")
    # by ID with tags in several repositories: refused without -f
    refused = daemon.lamina("rmi", image_id[7:19], check=False)
    assert refused.returncode == 1
    assert "must be forced" in refused.stderr and "multiple repositories" in refused.stderr
    # untag one name: the image stays
    assert daemon.lamina("rmi", "mine:v2").stdout.strip() == "Untagged: mine:v2"
    removed = daemon.lamina("rmi", "-f", image_id).stdout
    assert "Untagged: mine:v1" in removed and f"Deleted: {image_id}" in removed


def test_prune_removes_only_dangling(daemon: Daemon, busybox: str) -> None:
    daemon.lamina("import", "-", input=rootfs_tar({"a": b"1"}))
    before = daemon.lamina("images", "-q").stdout.split()
    assert len(before) == 2
    out = daemon.lamina("image", "prune", "-f").stdout
    assert "Deleted Images:" in out and "Total reclaimed space:" in out
    assert daemon.lamina("images", "-q").stdout.split() == [busybox[7:19]]


def test_system_df_counts_layers(daemon: Daemon, busybox: str) -> None:
    out = daemon.lamina("system", "df").stdout.splitlines()
    assert out[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert out[1].split()[:3] == ["Images", "1", "0"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("image", "inspect", "nosuch"),
            "Error response from daemon: No such image: nosuch:latest",
        ),
        (("rmi", "nosuch"), "Error response from daemon: No such image: nosuch:latest"),
        (
            ("history", "Bad_Name"),
            "invalid reference format: repository name (library/Bad_Name) must be lowercase",
        ),
        (("tag", "nosuch", "x"), "No such image: nosuch:latest"),
        (("tag", "busybox", "a:b:c"), "invalid reference format"),
    ],
)
def test_user_mistakes_get_docker_messages(
    daemon: Daemon, busybox: str, args: tuple[str, ...], message: str
) -> None:
    result = daemon.lamina(*args, check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_hostile_import_is_refused_and_changes_nothing(daemon: Daemon) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../../escape")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    result = daemon.lamina("import", "-", "evil", input=buf.getvalue(), check=False)
    assert result.returncode == 1 and "escape" in result.stderr
    assert daemon.lamina("images", "-q").stdout.strip() == ""
    assert not (daemon.paths.root.parent / "escape").exists()


def test_api_errors_and_version_prefix(daemon: Daemon) -> None:
    from lamina.cli.client import Client, DaemonError

    client = Client(daemon.paths, autostart=False)
    assert client.get_json("/version")["ApiVersion"] == "1.45"
    reply = client.request("GET", "/_ping")
    assert reply.read() == b"OK" and reply.headers["api-version"] == "1.45"
    with pytest.raises(DaemonError) as err:
        client.get_json("/images/nosuch/json")
    assert err.value.status == 404


def test_everything_written_validates_against_oci_schemas(daemon: Daemon, busybox: str) -> None:
    import sqlite3

    from tests.support.oci_schema import validate_oci

    daemon.lamina("import", "-c", "EXPOSE 80", "-", "x:1", input=rootfs_tar({"a": b"1"}))
    blobs = daemon.paths.root / "content" / "blobs" / "sha256"
    db = sqlite3.connect(daemon.paths.root / "lamina.db")
    rows = db.execute("SELECT id, manifest FROM images").fetchall()
    db.close()
    assert len(rows) == 2
    for image_id, manifest in rows:
        config = json.loads((blobs / image_id.removeprefix("sha256:")).read_bytes())
        validate_oci(config, "config-schema.json")
        doc = json.loads((blobs / manifest.removeprefix("sha256:")).read_bytes())
        validate_oci(doc, "image-manifest-schema.json")
        assert doc["config"]["digest"] == image_id
        for layer in doc["layers"]:
            assert (blobs / layer["digest"].removeprefix("sha256:")).stat().st_size == layer["size"]
