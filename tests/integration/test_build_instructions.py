"""Dockerfile instructions end to end: stages and targets, ARG/ENV, WORKDIR/USER,
.dockerignore, COPY options, ADD, heredocs, RUN mounts and network, ONBUILD."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Daemon, needs_root
from tests.support.builds import build, logs, run_in, steps, write_tree

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    needs_root(),
    pytest.mark.usefixtures("no_build_leftovers"),
]


def inspect(daemon: Daemon, name: str) -> dict[str, Any]:
    [image] = json.loads(daemon.lamina("image", "inspect", name).stdout)
    return dict(image)


MULTI = """ARG BASE=busybox
FROM $BASE AS builder
ARG VERSION=1
ENV GREETING=hello
WORKDIR /src
RUN echo "$GREETING $VERSION" > out.txt
FROM busybox AS unused
RUN echo unused-stage-ran && exit 1
FROM builder AS tested
RUN test -f /src/out.txt
FROM busybox
COPY --from=builder /src/out.txt /out.txt
COPY --from=0 /src/out.txt /from-index.txt
USER nobody
WORKDIR /home/app
RUN id -u > /tmp/uid; pwd > /tmp/pwd; echo "$GREETING" > /tmp/env; cat /from-index.txt
"""


def test_multi_stage_target_args_env_workdir_user(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    context = write_tree(tmp_path / "ctx", {"Dockerfile": MULTI})
    result = build(daemon, context, "-t", "multi", "--build-arg", "VERSION=2").stderr
    assert "unused-stage-ran" not in result
    assert "[tested 2/2]" not in result  # stages the target does not need are not built
    assert run_in(daemon, "multi", "cat /out.txt /tmp/uid /tmp/pwd /tmp/env") == [
        "hello 2", "65534", "/home/app", "",
    ]  # fmt: skip
    config = inspect(daemon, "multi")["Config"]
    assert config["User"] == "nobody" and config["WorkingDir"] == "/home/app"
    assert "VERSION=2" not in " ".join(config["Env"] or [])  # ARGs do not persist
    build(daemon, context, "-t", "stage", "--target", "builder", "--build-arg", "VERSION=3")
    assert run_in(daemon, "stage", "cat /src/out.txt; echo $GREETING") == ["hello 3", "hello"]
    bad = build(daemon, context, "--target", "nosuch", check=False)
    assert bad.returncode == 1 and 'target stage "nosuch" could not be found' in bad.stderr


def test_unused_build_args_are_warned_about(daemon: Daemon, busybox: str, tmp_path: Path) -> None:
    context = write_tree(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nARG USED\n"})
    result = build(daemon, context, "--build-arg", "USED=1", "--build-arg", "EXTRA=2").stderr
    assert "One or more build-args [EXTRA] were not consumed" in result


def test_dockerignore_excludes_from_copy_and_from_the_key(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    files = {
        "Dockerfile": "FROM busybox\nCOPY . /app/\nRUN find /app | sort\n",
        ".dockerignore": "secret.txt\nnode_modules\n*.log\n!keep.log\n",
        "secret.txt": "s",
        "node_modules/dep/index.js": "d",
        "debug.log": "l",
        "keep.log": "k",
        "src/a.js": "a",
    }
    context = write_tree(tmp_path / "ctx", files)
    listed = logs(build(daemon, context).stderr)
    assert "/app/keep.log" in listed and "/app/src/a.js" in listed
    assert not [p for p in listed if "secret" in p or "node_modules" in p or "debug" in p]
    (context / "secret.txt").write_text("changed")
    (context / "node_modules" / "new.js").write_text("n")
    assert steps(build(daemon, context).stderr)["COPY . /app/"] == "CACHED"
    # <Dockerfile>.dockerignore wins over .dockerignore
    write_tree(context, {"Other": files["Dockerfile"], "Other.dockerignore": "src\n"})
    listed = logs(build(daemon, context, "-f", str(context / "Other")).stderr)
    assert "/app/secret.txt" in listed and "/app/src" not in listed


def test_copy_options_and_add_of_a_tar(daemon: Daemon, busybox: str, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("pkg/inside.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"inside"))
    files: dict[str, str | bytes] = {
        "Dockerfile": """FROM busybox
COPY --chown=nobody:nogroup --chmod=640 a.txt /data/
COPY --chown=1234 *.md /docs/
ADD archive.tar.gz /opt/
ADD a.txt /plain/
COPY --link b.txt /linked/
RUN stat -c '%U:%G %a %n' /data/a.txt && stat -c '%u:%g %a %n' /docs/x.md /docs/y.md \\
    && cat /opt/pkg/inside.txt /plain/a.txt /linked/b.txt
""",
        "a.txt": "a\n",
        "b.txt": "b\n",
        "x.md": "x",
        "y.md": "y",
        "archive.tar.gz": buf.getvalue(),
    }
    context = write_tree(tmp_path / "ctx", files)
    assert logs(build(daemon, context).stderr) == [
        "nobody:nogroup 640 /data/a.txt",
        "1234:1234 644 /docs/x.md",
        "1234:1234 644 /docs/y.md",
        "insidea",
        "b",
    ]


def test_heredocs_in_run_and_copy(daemon: Daemon, busybox: str, tmp_path: Path) -> None:
    dockerfile = """FROM busybox
ENV NAME=world
COPY <<EOF /greeting.txt
hello $NAME
EOF
RUN <<EOF
echo script line one
cat /greeting.txt
EOF
RUN cat <<EOT > /made.txt && cat /made.txt
from a heredoc
EOT
"""
    context = write_tree(tmp_path / "ctx", {"Dockerfile": dockerfile})
    assert logs(build(daemon, context).stderr) == [
        "script line one", "hello world", "from a heredoc",
    ]  # fmt: skip


def test_cache_mounts_persist_and_are_not_in_the_image(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    dockerfile = (
        "FROM busybox\nARG N\n"
        "RUN --mount=type=cache,target=/cache echo $N >> /cache/runs && cat /cache/runs\n"
    )
    context = write_tree(tmp_path / "ctx", {"Dockerfile": dockerfile})
    build(daemon, context, "--build-arg", "N=1", "-t", "cached")
    assert logs(build(daemon, context, "--build-arg", "N=2").stderr) == ["1", "2"]
    assert run_in(daemon, "cached", "test -e /cache || echo no-cache-dir") == ["no-cache-dir"]


def test_run_network_none_has_no_interfaces_but_loopback(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    dockerfile = (
        "FROM busybox\nRUN --network=none ls /sys/class/net\nRUN ls /sys/class/net | wc -l\n"
    )
    context = write_tree(tmp_path / "ctx", {"Dockerfile": dockerfile})
    out = logs(build(daemon, context).stderr)
    assert out[0] == "lo"
    assert int(out[1]) >= 1  # the host's interfaces, by default


def test_onbuild_triggers_run_in_the_child(daemon: Daemon, busybox: str, tmp_path: Path) -> None:
    triggers = "ONBUILD COPY hello.txt /hello.txt\nONBUILD RUN cat /hello.txt\n"
    parent = write_tree(tmp_path / "parent", {"Dockerfile": "FROM busybox\n" + triggers})
    build(daemon, parent, "-t", "withtriggers")
    assert inspect(daemon, "withtriggers")["Config"]["OnBuild"] == [
        "COPY hello.txt /hello.txt", "RUN cat /hello.txt",
    ]  # fmt: skip
    child = write_tree(
        tmp_path / "child", {"Dockerfile": "FROM withtriggers\n", "hello.txt": "hi\n"}
    )
    assert logs(build(daemon, child, "-t", "child").stderr) == ["hi"]
    assert not inspect(daemon, "child")["Config"]["OnBuild"]


def test_config_instructions_and_history(daemon: Daemon, busybox: str, tmp_path: Path) -> None:
    dockerfile = """FROM busybox
LABEL org.example.team="build team" version=1
MAINTAINER someone@example.com
EXPOSE 80 53/udp 8000-8001
ENV PATH=/opt/bin:$PATH
VOLUME ["/data"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s CMD wget -q localhost || exit 1
SHELL ["/bin/sh", "-ec"]
RUN echo shell form > /f
ENTRYPOINT ["/bin/sh", "-c"]
CMD echo hi
"""
    context = write_tree(tmp_path / "ctx", {"Dockerfile": dockerfile})
    build(daemon, context, "-t", "meta", "--label", "extra=yes")
    image = inspect(daemon, "meta")
    config = image["Config"]
    labels = {"org.example.team": "build team", "version": "1", "extra": "yes"}
    assert labels.items() <= config["Labels"].items()
    assert set(config["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert config["Env"][0].startswith("PATH=/opt/bin:/usr/local/sbin")
    assert config["Volumes"] == {"/data": {}} and config["StopSignal"] == "SIGINT"
    assert config["Healthcheck"]["Interval"] == 5_000_000_000
    assert config["Entrypoint"] == ["/bin/sh", "-c"]
    assert config["Cmd"] == ["/bin/sh", "-ec", "echo hi"]
    assert image["Author"] == "someone@example.com"
    history = daemon.lamina("history", "--no-trunc", "meta").stdout.splitlines()
    assert len(history) == 1 + 1 + 11  # header, busybox's import, one per instruction
    [run] = [line for line in history if "RUN /bin/sh -ec echo shell form > /f" in line]
    assert "0B" not in run  # it added a layer; config steps add none
    assert all(" 0B " in line for line in history if "EXPOSE map[" in line or "ENV PATH" in line)


def test_source_date_epoch_makes_builds_reproducible(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    dockerfile = "FROM busybox\nCOPY a.txt /\nRUN echo made > /made\nENV X=1\n"
    context = write_tree(tmp_path / "ctx", {"Dockerfile": dockerfile, "a.txt": "a"})
    epoch = ("--build-arg", "SOURCE_DATE_EPOCH=1700000000")
    one = daemon.lamina("build", "-q", "--no-cache", *epoch, str(context)).stdout.strip()
    two = daemon.lamina("build", "-q", "--no-cache", *epoch, str(context)).stdout.strip()
    assert one == two and one.startswith("sha256:")
    assert inspect(daemon, one)["Created"] == "2023-11-14T22:13:20Z"


def test_images_validate_and_hide_intermediates(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    import sqlite3

    from tests.support.oci_schema import validate_oci

    dockerfile = 'FROM busybox\nWORKDIR /w\nCOPY a.txt .\nRUN echo x > b\nCMD ["sh"]\n'
    context = write_tree(tmp_path / "ctx", {"Dockerfile": dockerfile, "a.txt": "a"})
    iidfile = tmp_path / "iid"
    build(daemon, context, "-t", "valid", "--iidfile", str(iidfile))
    image_id = iidfile.read_text()
    blobs = daemon.paths.root / "content" / "blobs" / "sha256"
    db = sqlite3.connect(daemon.paths.root / "lamina.db")
    [(manifest,)] = db.execute("SELECT manifest FROM images WHERE id = ?", (image_id,)).fetchall()
    db.close()
    validate_oci(json.loads((blobs / image_id[7:]).read_bytes()), "config-schema.json")
    validate_oci(json.loads((blobs / manifest[7:]).read_bytes()), "image-manifest-schema.json")
    assert daemon.lamina("images", "-q").stdout.split() == [image_id[7:19], busybox[7:19]]
    assert len(daemon.lamina("images", "-a", "-q").stdout.split()) == 5  # + one per step
    daemon.lamina("image", "prune", "-f")  # intermediate images are the cache: kept
    assert set(steps(build(daemon, context).stderr).values()) == {"CACHED", "DONE"}
    assert steps(build(daemon, context).stderr)["RUN echo x > b"] == "CACHED"
