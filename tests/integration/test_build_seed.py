"""The seed's build experiments: which steps rerun when source or package.json change,
and layers shared between Dockerfiles in different folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Daemon, needs_root
from tests.support.builds import build, run_in, steps, write_tree

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    needs_root(),
    pytest.mark.usefixtures("no_build_leftovers"),
]

INSTALL = "RUN sh -c 'cat package.json > /app/installed && sleep 0'"
BUILD = "RUN sh -c 'cat src/index.js > /app/built'"
# The seed's first Dockerfile: the whole source before the install step.
FIRST = f"""FROM busybox
WORKDIR /app
COPY . .
{INSTALL}
{BUILD}
EXPOSE 3000
CMD ["sh", "-c", "cat /app/built"]
"""
# Its "better Dockerfile": dependencies first, then the code.
BETTER = f"""FROM busybox
WORKDIR /app
COPY package* .
{INSTALL}
COPY . .
{BUILD}
EXPOSE 3000
CMD ["sh", "-c", "cat /app/built"]
"""
SOURCES = {"package.json": '{"name": "app", "dependencies": {}}\n', "src/index.js": "one\n"}


def project(tmp_path: Path, dockerfile: str, name: str = "app") -> Path:
    return write_tree(tmp_path / name, {"Dockerfile": dockerfile, **SOURCES})


def test_first_dockerfile_reinstalls_on_every_source_change(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    app = project(tmp_path, FIRST)
    first = steps(build(daemon, app, "-t", "seed").stderr)
    assert first["COPY . ."] == first[INSTALL] == "DONE"
    again = steps(build(daemon, app, "-t", "seed").stderr)
    assert {again[k] for k in ("WORKDIR /app", "COPY . .", INSTALL, BUILD)} == {"CACHED"}
    (app / "src" / "index.js").write_text("two\n")
    changed = steps(build(daemon, app, "-t", "seed").stderr)
    assert changed["WORKDIR /app"] == "CACHED"
    assert changed["COPY . ."] == changed[INSTALL] == changed[BUILD] == "DONE"


def test_better_dockerfile_keeps_the_install_step(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    app = project(tmp_path, BETTER)
    build(daemon, app, "-t", "seed")
    assert run_in(daemon, "seed", "cat /app/installed /app/built") == [
        '{"name": "app", "dependencies": {}}',
        "one",
    ]
    (app / "src" / "index.js").write_text("two\n")
    result = build(daemon, app, "-t", "seed", "--explain").stderr
    changed = steps(result)
    assert changed["COPY package* ."] == changed[INSTALL] == "CACHED"
    assert changed["COPY . ."] == changed[BUILD] == changed["EXPOSE 3000"] == "DONE"
    assert "cache miss: files changed: src/index.js (content)" in result
    assert run_in(daemon, "seed", "cat /app/built") == ["two"]
    (app / "package.json").write_text('{"name": "app", "dependencies": {"left-pad": "1"}}\n')
    result = build(daemon, app, "-t", "seed", "--explain").stderr
    changed = steps(result)
    assert changed["WORKDIR /app"] == "CACHED"
    assert changed["COPY package* ."] == changed[INSTALL] == changed["COPY . ."] == "DONE"
    assert "cache miss: files changed: package.json (content)" in result


def test_touching_a_file_keeps_the_cache(daemon: Daemon, busybox: str, tmp_path: Path) -> None:
    app = project(tmp_path, BETTER)
    build(daemon, app)
    (app / "src" / "index.js").touch()
    (app / "src" / "index.js").write_text("one\n")  # same content, new mtime and ctime
    assert set(steps(build(daemon, app).stderr).values()) - {"DONE"} == {"CACHED"}
    assert steps(build(daemon, app).stderr)[BUILD] == "CACHED"


def test_dockerfiles_in_two_folders_share_layers(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    shared = f"FROM busybox\nWORKDIR /app\nCOPY package.json .\n{INSTALL}\n"
    first = write_tree(tmp_path / "one", {**SOURCES, "Dockerfile": shared + "RUN echo one > f\n"})
    second = write_tree(tmp_path / "two", {**SOURCES, "Dockerfile": shared + "RUN echo two > f\n"})
    build(daemon, first, "-t", "one")
    layers_dir = daemon.paths.root / "layers"
    before = {p.name for p in layers_dir.iterdir() if len(p.name) == 64}
    result = steps(build(daemon, second, "-t", "two").stderr)
    assert result["WORKDIR /app"] == result["COPY package.json ."] == result[INSTALL] == "CACHED"
    assert result["RUN echo two > f"] == "DONE"
    one, two = (inspect(daemon, name) for name in ("one", "two"))
    assert one["RootFS"]["Layers"][:-1] == two["RootFS"]["Layers"][:-1]
    assert one["RootFS"]["Layers"][-1] != two["RootFS"]["Layers"][-1]
    after = {p.name for p in layers_dir.iterdir() if len(p.name) == 64}
    assert len(after - before) == 1  # only the last layer is new: the rest is one copy
    assert one["GraphDriver"]["Data"]["LowerDir"] == two["GraphDriver"]["Data"]["LowerDir"]


def inspect(daemon: Daemon, name: str) -> dict[str, object]:
    [image] = json.loads(daemon.lamina("image", "inspect", name).stdout)
    return dict(image)


def test_a_built_image_runs_as_a_container(daemon: Daemon, busybox: str, tmp_path: Path) -> None:
    # Steps' upper dirs become layers as they are (overlay's own xattrs and all): a
    # container over them must see what the steps made, changed and deleted.
    dockerfile = (
        "FROM busybox\nRUN echo changed > /etc/group && rm /etc/passwd && mkdir /made\n"
        'COPY src/index.js /made/\nCMD ["sh", "-c", "cat /etc/group /made/index.js; '
        'test -e /etc/passwd || echo no-passwd"]\n'
    )
    app = write_tree(tmp_path / "app", {**SOURCES, "Dockerfile": dockerfile})
    build(daemon, app, "-t", "runnable")
    out = daemon.lamina("run", "--rm", "--network", "none", "runnable").stdout
    assert out.splitlines() == ["changed", "one", "no-passwd"]
