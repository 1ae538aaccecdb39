"""Bad build input gets a clear error and changes nothing; a failed RUN shows why;
a build the client abandons, or whose daemon is killed, leaves nothing behind."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Daemon, needs_root, start_daemon
from tests.support.builds import build, leftovers, steps, write_tree
from tests.support.store_audit import audit
from tests.support.wait import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    needs_root(),
    pytest.mark.usefixtures("no_build_leftovers"),
]


def images(daemon: Daemon) -> list[str]:
    return daemon.lamina("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()


@pytest.mark.parametrize(
    ("dockerfile", "message"),
    [
        ("FROM busybox\nRUN true\nFRM busybox\n", "Dockerfile:3: unknown instruction: FRM"),
        ("RUN true\n", "Dockerfile:1: no build stage in current context"),
        ("FROM busybox\nCOPY\n", "Dockerfile:2: COPY requires at least two arguments"),
        ("FROM nosuch:1\n", "Dockerfile:1: No such image: nosuch:1"),
        ("FROM busybox AS a\nFROM a AS a\n", 'Dockerfile:2: duplicate stage name "a"'),
        ("FROM busybox\nEXPOSE 80/tcpx\n", "Dockerfile:2: invalid containerPort: 80/tcpx"),
    ],
)
def test_bad_dockerfiles_name_file_and_line(
    daemon: Daemon, busybox: str, tmp_path: Path, dockerfile: str, message: str
) -> None:
    context = write_tree(tmp_path / "ctx", {"Dockerfile": dockerfile})
    result = build(daemon, context, "-t", "broken", check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert images(daemon) == ["busybox:latest"]


def test_copy_sources_missing_or_outside_the_context(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    context = write_tree(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY nosuch /x\n"})
    result = build(daemon, context, "-t", "broken", check=False)
    assert result.returncode == 1
    assert 'Dockerfile:2: COPY failed: "nosuch": not found in the build context' in result.stderr
    (context / "Dockerfile").write_text("FROM busybox\nCOPY ../secret /x\n")
    result = build(daemon, context, "-t", "broken", check=False)
    assert "forbidden path outside the build context: ../secret" in result.stderr
    (tmp_path / "secret").write_text("no")
    (context / "link").symlink_to(tmp_path / "secret")
    (context / "Dockerfile").write_text("FROM busybox\nCOPY link /x\n")
    result = build(daemon, context, "-t", "broken", check=False)
    assert 'COPY failed: "link": not found in the build context' in result.stderr
    assert images(daemon) == ["busybox:latest"]


def test_failing_run_shows_its_output_and_exit_code(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    dockerfile = "FROM busybox\nRUN echo first-line && echo to-stderr >&2 && exit 3\n"
    context = write_tree(tmp_path / "ctx", {"Dockerfile": dockerfile})
    result = build(daemon, context, "-t", "broken", check=False)
    assert result.returncode == 1
    command = "/bin/sh -c echo first-line && echo to-stderr >&2 && exit 3"
    assert f"The command '{command}' returned a non-zero code: 3" in result.stderr
    assert "first-line" in result.stderr and "to-stderr" in result.stderr
    quiet = daemon.lamina("build", "-q", str(context), check=False)
    assert quiet.returncode == 1 and quiet.stdout == ""
    assert "first-line" in quiet.stderr and "non-zero code: 3" in quiet.stderr
    assert images(daemon) == ["busybox:latest"]


def test_missing_command_is_reported(daemon: Daemon, busybox: str, tmp_path: Path) -> None:
    context = write_tree(tmp_path / "ctx", {"Dockerfile": 'FROM busybox\nRUN ["nosuch"]\n'})
    result = build(daemon, context, check=False)
    assert result.returncode == 1
    assert "nosuch" in result.stderr and "not found" in result.stderr


def test_client_going_away_cancels_and_cleans_up(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    dockerfile = "FROM busybox\nRUN echo started && sleep 60\n"
    context = write_tree(tmp_path / "ctx", {"Dockerfile": dockerfile})
    client = subprocess.Popen(
        [sys.executable, "-m", "lamina", "build", "--progress=plain", str(context)],
        env=daemon.env,
        stderr=subprocess.PIPE,
        text=True,
        # ^C as from a terminal, even when this suite runs in a background job (which
        # starts with SIGINT ignored, and Python then never turns it into an interrupt)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert client.stderr is not None
    for line in client.stderr:
        # The step's own output, not its header ("RUN echo started && …"): the step runs.
        if line.rstrip().endswith(" started"):
            break
    client.send_signal(signal.SIGINT)
    assert client.wait(timeout=10) == 130
    wait_for(lambda: leftovers(daemon) == [], what="no build leftovers")
    # The daemon is fine and the step was not recorded as built.
    result = build(daemon, write_tree(tmp_path / "ok", {"Dockerfile": "FROM busybox\n"}))
    assert "DONE" in result.stderr


def test_a_daemon_killed_mid_step_leaves_nothing_and_keeps_the_cache(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    """kill -9 while a RUN runs: the CLI says the stream was cut; the next start removes
    the step's mount, folders and runc container; the stores hold nothing unreferenced;
    the next build succeeds, from the cache up to the killed step."""
    dockerfile = (
        "FROM busybox\nRUN echo one > /one\nARG NAP=0\n"
        "RUN echo started && sleep $NAP\nRUN cat /one > /two\n"
    )
    context = write_tree(tmp_path / "ctx", {"Dockerfile": dockerfile})
    argv = [sys.executable, "-m", "lamina", "build", "--progress=plain", "-t", "app"]
    client = subprocess.Popen(
        [*argv, "--build-arg", "NAP=60", str(context)],
        env=daemon.env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert client.stderr is not None
    for line in client.stderr:
        if line.rstrip().endswith(" started"):
            break
    daemon.process.kill()
    daemon.process.wait()
    _, err = client.communicate(timeout=30)
    assert client.returncode == 1
    assert err.rstrip().endswith("ERROR: the daemon closed the stream before the build finished")
    left = leftovers(daemon)
    assert any(p.endswith("/rootfs") for p in left), left  # the kill landed mid-step
    daemon.process = start_daemon(daemon.paths)
    assert leftovers(daemon) == []  # no mount, no step folder, no runc container
    assert audit(daemon.paths.root).clean
    again = steps(build(daemon, context, "-t", "app").stderr)
    assert again["RUN echo one > /one"] == "CACHED"
    assert again["RUN echo started && sleep $NAP"] == "DONE"
    assert daemon.lamina("run", "--rm", "app", "cat", "/two").stdout == "one\n"
    rebuilt = steps(build(daemon, context, "-t", "app").stderr)
    assert {rebuilt[k] for k in again if k.startswith(("RUN", "ARG"))} == {"CACHED"}, rebuilt
