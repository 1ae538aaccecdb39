"""`POST /build` with a tar context: the real docker CLI's classic builder and docker-py."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Daemon, needs_root
from tests.support.builds import build, docker_legacy, steps, write_tree

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    needs_root(),
    pytest.mark.usefixtures("no_build_leftovers"),
]
needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI")

DOCKERFILE = """FROM busybox
ARG WHO=world
WORKDIR /app
COPY package.json .
RUN echo "hello $WHO" > greeting && cat greeting
COPY . .
CMD ["cat", "/app/greeting"]
"""


@pytest.fixture(autouse=True)
def no_contexts_left(daemon: Daemon) -> Iterator[None]:
    """After the test: no unpacked tar context left behind."""
    yield
    assert not list((daemon.paths.root / "build" / "contexts").glob("*"))


@pytest.fixture
def context(tmp_path: Path) -> Path:
    files = {"Dockerfile": DOCKERFILE, "package.json": "{}\n", "src/a.js": "a\n"}
    files[".dockerignore"] = "secret.txt\n"
    files["secret.txt"] = "do not send\n"
    return write_tree(tmp_path / "ctx", files)


@needs_docker
def test_docker_cli_classic_builder(daemon: Daemon, busybox: str, context: Path) -> None:
    result = docker_legacy(
        daemon, "build", "-t", "x", "--build-arg", "WHO=docker", ".", cwd=context
    )
    out = result.stdout
    assert "Step 1/7 : FROM busybox" in out
    assert 'Step 5/7 : RUN echo "hello $WHO" > greeting && cat greeting' in out
    assert " ---> Running in " in out and "hello docker" in out
    assert "Successfully tagged x:latest" in out
    image_id = json.loads(daemon.lamina("image", "inspect", "x").stdout)[0]["Id"]
    assert f"Successfully built {image_id[7:19]}" in out
    again = docker_legacy(daemon, "build", "-t", "x", "--build-arg", "WHO=docker", ".", cwd=context)
    assert again.stdout.count(" ---> Using cache") == 6
    # A tar context and the same folder read in place reach the same cache keys.
    local = steps(build(daemon, context, "--build-arg", "WHO=docker").stderr)
    assert local['RUN echo "hello $WHO" > greeting && cat greeting'] == "CACHED"


@needs_docker
def test_docker_cli_errors(daemon: Daemon, busybox: str, context: Path) -> None:
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo out && exit 7\n")
    result = docker_legacy(daemon, "build", ".", cwd=context, check=False)
    assert result.returncode != 0 and "out" in result.stdout
    assert "The command '/bin/sh -c echo out && exit 7' returned a non-zero code: 7" in (
        result.stderr
    )
    (context / "Dockerfile").write_text("FROM busybox\nNOPE\n")
    result = docker_legacy(daemon, "build", ".", cwd=context, check=False)
    assert result.returncode != 0 and "Dockerfile:2: unknown instruction: NOPE" in result.stderr


@needs_docker
def test_docker_cli_iidfile_and_quiet(
    daemon: Daemon, busybox: str, context: Path, tmp_path: Path
) -> None:
    iid = tmp_path / "iid"
    result = docker_legacy(daemon, "build", "-q", "--iidfile", str(iid), ".", cwd=context)
    assert result.stdout.strip() == iid.read_text().strip()
    assert result.stdout.strip().startswith("sha256:")


def test_docker_sdk_build(daemon: Daemon, busybox: str, context: Path) -> None:
    import docker

    client = docker.DockerClient(base_url=daemon.paths.host)
    try:
        image, log = client.images.build(path=str(context), tag="sdk:1", buildargs={"WHO": "sdk"})
        assert "sdk:1" in image.tags
        text = "".join(item.get("stream", "") for item in log)
        assert "hello sdk" in text and "Successfully tagged sdk:1" in text
        assert image.attrs["Config"]["Cmd"] == ["cat", "/app/greeting"]
        with pytest.raises(docker.errors.BuildError, match="non-zero code: 7"):
            (context / "Dockerfile").write_text("FROM busybox\nRUN exit 7\n")
            client.images.build(path=str(context))
    finally:
        client.close()


def test_hostile_context_tar_is_refused(daemon: Daemon, busybox: str) -> None:
    from lamina.cli.client import Client, DaemonError

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", b"FROM busybox\n"), ("../../escape", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    client = Client(daemon.paths, autostart=False)
    with pytest.raises(DaemonError, match="escapes"):
        client.request("POST", "/build", body=buf.getvalue())
    assert not (daemon.paths.root.parent / "escape").exists()


def test_whiteout_names_in_a_context_are_plain_files(daemon: Daemon, busybox: str) -> None:
    from lamina.cli.client import Client

    client = Client(daemon.paths, autostart=False)

    def build_tar(dockerfile: bytes) -> str:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, data in {"Dockerfile": dockerfile, ".wh.keep": b"k"}.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        reply = client.request("POST", "/build", body=buf.getvalue())
        lines = list(reply.lines())
        reply.close()
        return "".join(m.get("stream", "") or m.get("error", "") for m in lines)

    # Extracting the context keeps it as a file (a context is not a layer) ...
    text = build_tar(b"FROM busybox\nRUN --mount=type=bind,target=/ctx ls -a /ctx\n")
    assert ".wh.keep" in text and "Successfully built" in text
    # ... but a layer cannot hold it: COPY says so rather than make a deletion of it.
    text = build_tar(b"FROM busybox\nCOPY . /ctx/\n")
    assert "cannot copy to /ctx/.wh.keep: names starting with .wh." in text
