"""Docker's /wait on real containers, and the commands that lean on it (run, start -a,
attach) with lamina's CLI, the docker CLI and docker-py.

A wait's answer head means the wait is registered (tests/unit/test_wait.py shows the
order; tests/unit/test_cli_wait_first.py that the CLI starts only then). Here: the
conditions as dockerd has them, a removal ends every wait, and no command hangs on a
container that ends at once or is not running.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from lamina.cli.client import Client, Reply
from tests.conftest import Daemon, needs_root

pytestmark = [pytest.mark.integration, pytest.mark.root, needs_root()]

ANSWER_WITHIN = 20  # seconds; a wait that hangs fails the test instead


def wait(daemon: Daemon, ref: str, condition: str) -> Reply:
    """A wait whose head has come: registered."""
    reply = Client(daemon.paths, autostart=False).request(
        "POST", f"/containers/{ref}/wait", query={"condition": condition}
    )
    reply.sock.settimeout(ANSWER_WITHIN)
    return reply


def answer(reply: Reply) -> object:
    try:
        return reply.json()
    finally:
        reply.close()


def test_a_wait_registered_before_start_sees_that_start_s_exit(
    daemon: Daemon, busybox: str
) -> None:
    cid = daemon.lamina("create", "busybox", "sh", "-c", "exit 6").stdout.strip()
    waiting = wait(daemon, cid, "next-exit")
    daemon.lamina("start", cid)
    assert answer(waiting) == {"StatusCode": 6, "Error": None}
    # Not running now: not-running is met at once, next-exit waits for the next run.
    assert answer(wait(daemon, cid, "not-running")) == {"StatusCode": 6, "Error": None}
    again = wait(daemon, cid, "next-exit")
    daemon.lamina("start", cid)
    assert answer(again) == {"StatusCode": 6, "Error": None}


def test_a_removal_ends_every_wait(daemon: Daemon, busybox: str) -> None:
    """As dockerd: a container removed before it ever ran has no exit to wait for."""
    cid = daemon.lamina("create", "busybox", "true").stdout.strip()
    waits = [wait(daemon, cid, c) for c in ("next-exit", "not-running", "removed")]
    daemon.lamina("rm", cid)
    assert [answer(w) for w in waits] == [{"StatusCode": 0, "Error": None}] * 3
    missing = daemon.lamina("wait", cid, check=False)
    assert missing.returncode == 1 and "No such container" in missing.stderr


def lamina(daemon: Daemon, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lamina", *args],
        env=daemon.env,
        input=stdin.decode(),
        capture_output=True,
        text=True,
        timeout=ANSWER_WITHIN,
    )


def test_run_start_attach_report_the_exit_of_a_container_that_ends_at_once(
    daemon: Daemon, busybox: str
) -> None:
    assert lamina(daemon, "run", "--rm", "busybox", "sh", "-c", "exit 9").returncode == 9
    daemon.lamina("create", "--rm", "--name", "brief", "busybox", "sh", "-c", "echo hi; exit 4")
    started = lamina(daemon, "start", "-a", "brief")
    assert (started.returncode, started.stdout) == (4, "hi\n")
    # --rm: start -a waits for the removal, as docker's, so the container is gone now.
    assert lamina(daemon, "inspect", "brief").returncode == 1
    daemon.lamina("run", "-di", "--name", "talker", "busybox", "sh", "-c", "read l; exit 3")
    assert lamina(daemon, "attach", "talker", stdin=b"bye\n").returncode == 3


def test_attach_to_a_stopped_container_is_refused(daemon: Daemon, busybox: str) -> None:
    """As docker's: the attach would otherwise wait for the container's next start."""
    daemon.lamina("create", "--name", "idle", "busybox", "true")
    refused = lamina(daemon, "attach", "idle")
    assert refused.returncode == 1
    assert "You cannot attach to a stopped container, start it first" in refused.stderr


def test_the_docker_cli_and_sdk_wait_on_lamina(daemon: Daemon, busybox: str) -> None:
    import docker

    assert (
        daemon.docker("run", "--rm", "busybox", "sh", "-c", "exit 5", check=False).returncode == 5
    )
    daemon.docker("create", "--name", "once", "busybox", "sh", "-c", "echo once; exit 2")
    started = daemon.docker("start", "-a", "once", check=False)
    assert (started.returncode, started.stdout) == (2, "once\n")
    daemon.docker("run", "-di", "--name", "talker", "busybox", "sh", "-c", "read l; exit 3")
    assert daemon.docker("attach", "talker", input=b"bye\n", check=False).returncode == 3
    client = docker.DockerClient(base_url=daemon.paths.host)
    try:
        c = client.containers.run("busybox", ["sh", "-c", "exit 7"], detach=True)
        assert c.wait(timeout=ANSWER_WITHIN) == {"StatusCode": 7, "Error": None}
        c.remove()
    finally:
        client.close()
