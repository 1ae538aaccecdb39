"""Concurrent identical work happens once: builds that reach a step another build is
making wait for it and take its layer and image (CACHED); `--no-cache` builds follow
BuildKit's rule (they share only with each other; cache-using builds may join them)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Daemon, needs_root
from tests.support.builds import run_in, steps, write_tree

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    needs_root(),
    pytest.mark.usefixtures("no_build_leftovers"),
]

# Counts its runs in a cache mount (shared by every build of the daemon, not keyed by
# its contents); slow enough that builds started together overlap.
SLOW = "RUN --mount=type=cache,target=/count sh -c 'echo run >> /count/{name}; echo started; sleep 1; date > /stamp'"  # noqa: E501

Start = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def start(daemon: Daemon) -> Iterator[Start]:
    """Starts `lamina build --progress=plain ARGS CONTEXT`; any build still running when
    the test ends (it failed) is stopped."""
    builds: list[subprocess.Popen[str]] = []

    def begin(context: Path, *args: str) -> subprocess.Popen[str]:
        argv = [sys.executable, "-m", "lamina", "build", "--progress=plain", *args, str(context)]
        builds.append(subprocess.Popen(argv, env=daemon.env, stderr=subprocess.PIPE, text=True))
        return builds[-1]

    yield begin
    for build in builds:
        if build.poll() is None:
            build.kill()
        build.wait()
        if build.stderr is not None:
            build.stderr.close()


def finish(build: subprocess.Popen[str]) -> str:
    """The build's progress output, once it has succeeded."""
    _, output = build.communicate(timeout=120)
    assert build.returncode == 0, output
    return output


def read_until(build: subprocess.Popen[str], ending: str) -> str:
    """The build's progress up to the first line that ends with `ending`."""
    assert build.stderr is not None
    seen = []
    for line in build.stderr:
        seen.append(line)
        if line.rstrip().endswith(ending):
            return "".join(seen)
    raise AssertionError(f"the build ended before {ending!r}:\n" + "".join(seen))


def until_started(build: subprocess.Popen[str]) -> str:
    """Its progress up to its RUN's `started` line: the step is running."""
    return read_until(build, " started")


def runs(daemon: Daemon, name: str) -> int:
    counted = run_in(daemon, "busybox", f"--mount=type=cache,target=/count wc -l < /count/{name}")
    return int(counted[-1])


def image(daemon: Daemon, name: str) -> dict[str, object]:
    [found] = json.loads(daemon.lamina("image", "inspect", name).stdout)
    return dict(found)


def test_eight_parallel_builds_make_the_shared_step_once(
    daemon: Daemon, busybox: str, tmp_path: Path, start: Start
) -> None:
    slow = SLOW.format(name="shared")
    dockerfile = f"FROM busybox\n{slow}\nCOPY id /id\n"
    contexts = [
        write_tree(tmp_path / f"ctx{i}", {"Dockerfile": dockerfile, "id": f"{i}\n"})
        for i in range(8)
    ]
    builds = [start(ctx, "-t", f"app{i}") for i, ctx in enumerate(contexts)]
    outputs = [finish(build) for build in builds]
    statuses = [steps(output)[slow] for output in outputs]
    assert sorted(statuses) == ["CACHED"] * 7 + ["DONE"], outputs
    assert runs(daemon, "shared") == 1
    # One layer and one image for the step in every result; each image its own top.
    images = [image(daemon, f"app{i}") for i in range(8)]
    layers = {tuple(i["RootFS"]["Layers"][:2]) for i in images}  # type: ignore[index]
    assert len(layers) == 1 and len({i["Parent"] for i in images}) == 1
    assert len({i["Id"] for i in images}) == 8
    rebuilds = [start(ctx, "-t", f"app{i}") for i, ctx in enumerate(contexts)]
    for i, build in enumerate(rebuilds):
        rebuilt = steps(finish(build))
        assert (rebuilt[slow], rebuilt["COPY id /id"]) == ("CACHED", "CACHED")
        assert image(daemon, f"app{i}")["Id"] == images[i]["Id"]
    assert runs(daemon, "shared") == 1


def test_no_cache_builds_never_take_a_cached_result(
    daemon: Daemon, busybox: str, tmp_path: Path, start: Start
) -> None:
    first, second = SLOW.format(name="first"), SLOW.format(name="second")
    one = write_tree(tmp_path / "one", {"Dockerfile": f"FROM busybox\n{first}\n"})
    two = write_tree(tmp_path / "two", {"Dockerfile": f"FROM busybox\n{second}\n"})
    # A build that uses the cache is making `first`; a --no-cache one is making `second`.
    leaders = [start(one), start(two, "--no-cache")]
    early = [until_started(build) for build in leaders]
    # Meanwhile: a --no-cache build of `first` runs it itself; a cache-using build of
    # `second` takes the --no-cache build's result (it is fresh).
    followers = [start(one, "--no-cache"), start(two)]
    outputs = [e + finish(b) for e, b in zip(early, leaders, strict=True)]
    outputs += [finish(build) for build in followers]
    texts = [first, second, first, second]
    statuses = [steps(output)[text] for output, text in zip(outputs, texts, strict=True)]
    assert statuses == ["DONE", "DONE", "DONE", "CACHED"], outputs
    assert (runs(daemon, "first"), runs(daemon, "second")) == (2, 1)


def test_a_waiter_takes_over_from_a_build_whose_client_went_away(
    daemon: Daemon, busybox: str, tmp_path: Path, start: Start
) -> None:
    slow = SLOW.format(name="abandoned")
    context = write_tree(tmp_path / "ctx", {"Dockerfile": f"FROM busybox\n{slow}\n"})
    leader = start(context)
    until_started(leader)
    waiter = start(context)
    early = read_until(waiter, slow)  # its step has begun: it waits for the leader's
    leader.kill()  # Ctrl-C: the daemon cancels the leader's build
    leader.communicate()
    assert steps(early + finish(waiter))[slow] == "DONE"
    assert runs(daemon, "abandoned") == 2
