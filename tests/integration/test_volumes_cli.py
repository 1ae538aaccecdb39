"""Volumes end to end: the lamina CLI, the real docker CLI and docker-py against lamina."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import docker
import pytest

from tests.conftest import Daemon, daemon_log, start_daemon, stop_daemon

BAD_NAME = (
    'create a@b: "a@b" includes invalid characters for a local volume name, only '
    '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
    "directory, use absolute path"
)


@pytest.fixture
def client(daemon: Daemon) -> Iterator[docker.DockerClient]:
    sdk = docker.DockerClient(base_url=daemon.paths.host)
    yield sdk
    sdk.close()


def both(daemon: Daemon, *args: str, check: bool = True) -> str:
    """Run the same command with both CLIs; they must print the same and exit alike."""
    ours = daemon.lamina(*args, check=check)
    theirs = daemon.docker(*args, check=check)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
    assert ours.stderr.strip() == theirs.stderr.strip()
    return ours.stdout


def create_three(daemon: Daemon) -> str:
    """vol10 with lamina, vol2 (labelled) and an anonymous one with docker: its name."""
    assert daemon.lamina("volume", "create", "vol10").stdout == "vol10\n"
    assert daemon.docker("volume", "create", "--label", "app=web", "vol2").stdout == "vol2\n"
    anonymous = daemon.docker("volume", "create").stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", anonymous)
    return anonymous


def test_both_clis_create_and_list_alike(daemon: Daemon) -> None:
    anonymous = create_three(daemon)
    assert daemon.lamina("volume", "create", "vol10").stdout == "vol10\n"  # idempotent
    listing = both(daemon, "volume", "ls")
    assert listing.splitlines() == [
        "DRIVER    VOLUME NAME",
        f"local     {anonymous}",
        "local     vol2",
        "local     vol10",
    ]
    assert both(daemon, "volume", "ls", "-q").split() == [anonymous, "vol2", "vol10"]


def test_both_clis_filter_alike(daemon: Daemon) -> None:
    anonymous = create_three(daemon)
    assert both(daemon, "volume", "ls", "-f", "label=app=web", "-q").split() == ["vol2"]
    assert both(daemon, "volume", "ls", "-f", "name=vol1", "-q").split() == ["vol10"]
    assert both(daemon, "volume", "ls", "-f", "dangling=true", "-q").split() == [
        anonymous,
        "vol2",
        "vol10",
    ]


def test_both_clis_format_alike(daemon: Daemon) -> None:
    anonymous = create_three(daemon)
    table = both(daemon, "volume", "ls", "--format", "table {{.Name}}\t{{.Labels}}")
    lines = table.splitlines()
    assert lines[0].split("   ")[0] == "VOLUME NAME" and lines[0].endswith("LABELS")
    assert lines[1].split() == [anonymous, "com.docker.volume.anonymous="]
    assert lines[2].split() == ["vol2", "app=web"] and lines[3].split() == ["vol10"]
    assert (
        both(
            daemon,
            "volume",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}",
            "-f",
            "name=vol2",
        )
        == "vol2 local local\n"
    )
    as_json = both(daemon, "volume", "ls", "--format", "json", "-f", "name=vol2")
    assert json.loads(as_json)["Labels"] == "app=web"


def test_both_clis_inspect_alike(daemon: Daemon) -> None:
    anonymous = create_three(daemon)
    inspected = json.loads(both(daemon, "volume", "inspect", "vol2", "vol10"))
    assert [v["Name"] for v in inspected] == ["vol2", "vol10"]
    vol2 = inspected[0]
    assert vol2["Labels"] == {"app": "web"} and vol2["Driver"] == "local"
    assert vol2["Scope"] == "local" and vol2["Options"] == {}
    assert vol2["Mountpoint"] == str(daemon.paths.root / "volumes" / "vol2" / "_data")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", vol2["CreatedAt"])
    assert (
        both(daemon, "volume", "inspect", "-f", "{{.Mountpoint}}", "vol2").strip()
        == (vol2["Mountpoint"])
    )
    [anon] = json.loads(both(daemon, "volume", "inspect", anonymous))
    assert anon["Labels"] == {"com.docker.volume.anonymous": ""}


def test_labels_and_options_from_the_lamina_cli(daemon: Daemon) -> None:
    daemon.lamina("volume", "create", "--label", "a=1", "--label", "flag", "labelled")
    [volume] = json.loads(daemon.lamina("volume", "inspect", "labelled").stdout)
    assert volume["Labels"] == {"a": "1", "flag": ""}
    refused = daemon.lamina(
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=100m",
        "scratch",
        check=False,
    )
    assert refused.returncode == 1 and "are not supported yet" in refused.stderr
    assert daemon.lamina("volume", "ls", "-q").stdout.split() == ["labelled"]


def test_rm_prints_names_and_refuses_missing_ones(daemon: Daemon) -> None:
    daemon.lamina("volume", "create", "gone1")
    daemon.lamina("volume", "create", "gone2")
    out = daemon.lamina("volume", "rm", "gone1", "nosuch", "gone2", check=False)
    assert out.returncode == 1 and out.stdout == "gone1\ngone2\n"
    assert out.stderr == "Error response from daemon: get nosuch: no such volume\n"
    daemon.docker("volume", "create", "gone3")
    assert both(daemon, "volume", "rm", "-f", "nosuch") == "nosuch\n"
    assert daemon.docker("volume", "rm", "gone3").stdout == "gone3\n"
    assert not (daemon.paths.root / "volumes" / "gone3").exists()
    assert daemon.lamina("volume", "ls", "-q").stdout == ""


def test_prune_anonymous_then_all(daemon: Daemon) -> None:
    daemon.lamina("volume", "create", "named")
    anonymous = daemon.lamina("volume", "create").stdout.strip()
    declined = daemon.lamina("volume", "prune", input=b"n\n")
    assert declined.stdout.startswith("WARNING! This will remove anonymous local volumes")
    assert len(daemon.lamina("volume", "ls", "-q").stdout.split()) == 2
    out = daemon.lamina("volume", "prune", input=b"y\n").stdout
    assert f"Deleted Volumes:\n{anonymous}\n\nTotal reclaimed space: 0B" in out
    assert daemon.docker("volume", "prune", "-f").stdout == "Total reclaimed space: 0B\n"
    daemon.lamina("volume", "create", "other")
    (daemon.paths.root / "volumes" / "other" / "_data" / "f").write_bytes(b"x" * 2000)
    out = daemon.docker("volume", "prune", "--all", "--force").stdout
    assert out == "Deleted Volumes:\nnamed\nother\n\nTotal reclaimed space: 2kB\n"
    assert daemon.lamina("volume", "ls", "-q").stdout == ""


def test_prune_label_filters(daemon: Daemon) -> None:
    for name, label in (("keep1", "keep=yes"), ("drop1", "stage=tmp"), ("drop2", "stage=tmp")):
        daemon.lamina("volume", "create", "--label", label, name)
    out = daemon.lamina("volume", "prune", "-a", "-f", "--filter", "label=stage=tmp").stdout
    assert out.startswith("Deleted Volumes:\ndrop1\ndrop2\n")
    daemon.lamina("volume", "create", "--label", "stage=tmp", "drop3")
    out = daemon.docker("volume", "prune", "-a", "-f", "--filter", "label!=keep").stdout
    assert out.startswith("Deleted Volumes:\ndrop3\n")
    assert daemon.lamina("volume", "ls", "-q").stdout.split() == ["keep1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("volume", "create", "a@b"), BAD_NAME),
        (
            ("volume", "create", "x"),
            "create x: volume name is too short, names should be at "
            "least two alphanumeric characters",
        ),
        (
            ("volume", "create", "-d", "nfs", "shared"),
            'create shared: error looking up volume plugin nfs: plugin "nfs" not found',
        ),
        (("volume", "inspect", "nosuch"), "get nosuch: no such volume"),
        (("volume", "rm", "nosuch"), "get nosuch: no such volume"),
        (("volume", "ls", "-f", "until=1h"), "invalid filter 'until'"),
    ],
)
def test_user_mistakes_get_dockers_messages(
    daemon: Daemon, args: tuple[str, ...], message: str
) -> None:
    for run in (daemon.lamina, daemon.docker):
        result = run(*args, check=False)
        assert result.returncode == 1, result
        assert f"Error response from daemon: {message}" in result.stderr
        assert "Traceback" not in result.stdout + result.stderr
    assert daemon.lamina("volume", "ls", "-q").stdout == ""


def test_docker_sdk(daemon: Daemon, client: docker.DockerClient) -> None:
    volume = client.volumes.create("sdk-vol", labels={"k": "v"})
    assert volume.name == "sdk-vol" and volume.attrs["Labels"] == {"k": "v"}
    anonymous = client.volumes.create()
    assert anonymous.attrs["Labels"] == {"com.docker.volume.anonymous": ""}
    assert {v.name for v in client.volumes.list()} == {"sdk-vol", anonymous.name}
    assert [v.name for v in client.volumes.list(filters={"label": "k"})] == ["sdk-vol"]
    assert client.volumes.get("sdk-vol").attrs["Mountpoint"].endswith("/sdk-vol/_data")
    assert client.volumes.prune() == {"VolumesDeleted": [anonymous.name], "SpaceReclaimed": 0}
    volume.remove()
    with pytest.raises(docker.errors.NotFound, match="get sdk-vol: no such volume"):
        client.volumes.get("sdk-vol")
    with pytest.raises(docker.errors.APIError) as err:
        client.volumes.create("bad/name")
    assert err.value.status_code == 400


def test_old_api_clients_prune_named_volumes_too(daemon: Daemon) -> None:
    old = docker.DockerClient(base_url=daemon.paths.host, version="1.41")
    try:
        old.volumes.create("named")
        assert old.volumes.prune()["VolumesDeleted"] == ["named"]
    finally:
        old.close()


def test_system_df_shows_volumes(daemon: Daemon, client: docker.DockerClient) -> None:
    mountpoint = client.volumes.create("sized").attrs["Mountpoint"]
    with open(f"{mountpoint}/blob", "wb") as f:
        f.write(b"z" * 5000)
    [entry] = client.df()["Volumes"]
    assert entry["Name"] == "sized"
    assert entry["UsageData"] == {"Size": 5000, "RefCount": 0}
    rows = {
        line.split("  ")[0]: line.split()
        for line in daemon.docker("system", "df").stdout.splitlines()
    }
    assert rows["Local Volumes"][2:6] == ["1", "0", "5kB", "5kB"]
    lamina_rows = daemon.lamina("system", "df").stdout.splitlines()
    assert [r.split()[:4] for r in lamina_rows if r.startswith("Local Volumes")] == [
        ["Local", "Volumes", "1", "0"]
    ]


def test_restart_keeps_volumes_and_reconciles(daemon: Daemon) -> None:
    daemon.lamina("volume", "create", "kept")
    daemon.lamina("volume", "create", "lost")
    (daemon.paths.root / "volumes" / "kept" / "_data" / "file").write_text("data")
    stop_daemon(daemon.process)
    volumes = daemon.paths.root / "volumes"
    (volumes / "lost" / "_data").rmdir()
    (volumes / "lost").rmdir()
    (volumes / "half-made" / "_data").mkdir(parents=True)
    daemon.process = start_daemon(daemon.paths)
    assert daemon.lamina("volume", "ls", "-q").stdout.split() == ["kept"]
    assert (volumes / "kept" / "_data" / "file").read_text() == "data"
    assert not (volumes / "half-made").exists()
    log = daemon_log(daemon.paths)
    assert "volume lost: its directory is gone, record removed" in log
    assert "volume half-made: directory without a record" in log
