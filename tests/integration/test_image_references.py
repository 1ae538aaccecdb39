"""Images in use are never destroyed: Docker's `rmi` rules, containers' references on
their layers, the create/rmi race, and the collector after a restart (issue 9, item 1)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lamina.cli.client import Client, DaemonError
from tests.conftest import Daemon, needs_root, start_daemon
from tests.support.builds import build, steps, write_tree
from tests.support.store_audit import audit

pytestmark = [pytest.mark.integration, pytest.mark.root, needs_root()]


def container_id(daemon: Daemon, name: str) -> str:
    [info] = json.loads(daemon.lamina("inspect", name).stdout)
    return str(info["Id"])


def crash_and_restart(daemon: Daemon) -> None:
    """kill -9, then a new daemon: what it finds is what a crash leaves."""
    daemon.process.kill()
    daemon.process.wait()
    daemon.process = start_daemon(daemon.paths)


def test_rmi_of_an_image_in_use(daemon: Daemon, busybox: str) -> None:
    daemon.lamina("run", "-d", "--name", "runner", "busybox", "sleep", "1000")
    cid, image = container_id(daemon, "runner")[:12], busybox[7:19]
    # Its only tag is refused without -f, and stays.
    refused = daemon.lamina("rmi", "busybox", check=False)
    assert refused.returncode == 1
    assert (
        f'conflict: unable to remove repository reference "busybox" (must force) - '
        f"container {cid} is using its referenced image {image}"
    ) in refused.stderr
    # By ID, a running container's image cannot be removed even with -f.
    for flags in ([], ["-f"]):
        refused = daemon.lamina("rmi", *flags, image, check=False)
        assert refused.returncode == 1
        assert (
            f"conflict: unable to delete {image} (cannot be forced) - "
            f"image is being used by running container {cid}"
        ) in refused.stderr
    with pytest.raises(DaemonError) as refusal:
        Client(daemon.paths).call("DELETE", f"/images/{image}", query={"force": 1})
    assert refusal.value.status == 409
    assert daemon.lamina("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split() == [
        "busybox:latest"
    ]
    assert daemon.lamina("exec", "runner", "cat", "/etc/group").stdout.startswith("root:")
    daemon.lamina("kill", "runner")
    daemon.lamina("wait", "runner")
    # Stopped: must be forced; forced, the record goes and the layers stay.
    refused = daemon.lamina("rmi", image, check=False)
    assert (
        f"conflict: unable to delete {image} (must be forced) - "
        f"image is being used by stopped container {cid}"
    ) in refused.stderr
    removed = daemon.lamina("rmi", "-f", image).stdout.splitlines()
    assert removed == ["Untagged: busybox:latest", f"Deleted: {busybox}"]
    assert daemon.lamina("images", "-aq").stdout == ""
    # The container holds its layers across a crash (the collector runs at start).
    crash_and_restart(daemon)
    daemon.lamina("start", "runner")
    assert daemon.lamina("exec", "runner", "cat", "/etc/group").stdout.startswith("root:")
    assert audit(daemon.paths.root).layers != set()
    # Its removal drops the last reference: the collector frees the layers and blobs.
    daemon.lamina("rm", "-f", "runner")
    after = audit(daemon.paths.root)
    assert after.layers == set() and after.blobs == set() and after.clean


def test_docker_cli_rmi_follows_docker(daemon: Daemon, busybox: str) -> None:
    image = busybox[7:19]
    daemon.docker("run", "-d", "--name", "runner", "busybox", "sleep", "1000")
    running = container_id(daemon, "runner")[:12]
    refused = daemon.docker("image", "rm", "-f", image, check=False)
    assert refused.returncode == 1
    assert f"(cannot be forced) - image is being used by running container {running}" in (
        refused.stderr
    )
    daemon.docker("rm", "-f", "runner")
    daemon.docker("create", "--name", "waiter", "busybox", "ls", "/bin/busybox")
    stopped = container_id(daemon, "waiter")[:12]
    refused = daemon.docker("rmi", "busybox", check=False)
    assert refused.returncode == 1 and "unable to remove repository reference" in refused.stderr
    assert "busybox" in daemon.docker("images", "--format", "{{.Repository}}").stdout
    refused = daemon.docker("rmi", image, check=False)
    assert f"(must be forced) - image is being used by stopped container {stopped}" in (
        refused.stderr
    )
    removed = daemon.docker("image", "rm", "-f", image).stdout
    assert "Untagged: busybox:latest" in removed and f"Deleted: {busybox}" in removed
    assert daemon.docker("start", "-a", "waiter").stdout.strip() == "/bin/busybox"


def test_create_racing_rmi_f_never_strands_a_container(daemon: Daemon, busybox: str) -> None:
    """Each create either fails with 404 or makes a container that starts."""
    client = Client(daemon.paths, autostart=False)
    rng = random.Random(9)
    made: list[str] = []

    def create(image: str, outcomes: list[object]) -> None:
        try:
            body = {"Image": image, "Cmd": ["cat", "/etc/group"]}
            outcomes.append(client.call("POST", "/containers/create", json_body=body)["Id"])
        except DaemonError as err:
            outcomes.append(err)

    for _ in range(6):
        image = daemon.lamina("image", "bootstrap", "busybox").stdout.split()[-1]
        outcomes: list[object] = []
        threads = [threading.Thread(target=create, args=(image, outcomes)) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0, 0.05))
        client.call("DELETE", f"/images/{image}", query={"force": 1})
        for thread in threads:
            thread.join()
        for outcome in outcomes:
            if isinstance(outcome, DaemonError):
                assert outcome.status == 404 and "No such image" in str(outcome), outcome
            else:
                made.append(str(outcome))
    assert made, "no create won the race: the test proved nothing"
    for cid in made:
        assert daemon.lamina("start", "-a", cid).stdout.startswith("root:")
    daemon.lamina("rm", *made)
    assert audit(daemon.paths.root).clean


def test_no_op_rebuild_after_a_restart_is_cached(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    """The collector at start keeps what the build cache needs: intermediate images."""
    context = write_tree(
        tmp_path,
        {
            "Dockerfile": "FROM busybox\nRUN echo one > /a\nCOPY f /f\nRUN cat /f /a > /b\n",
            "f": "two\n",
        },
    )
    build(daemon, context, "-t", "app")
    before = audit(daemon.paths.root)
    crash_and_restart(daemon)
    assert audit(daemon.paths.root) == before
    again = steps(build(daemon, context, "-t", "app").stderr)
    assert {again[k] for k in ("RUN echo one > /a", "COPY f /f", "RUN cat /f /a > /b")} == {
        "CACHED"
    }
    assert daemon.lamina("run", "--rm", "app", "cat", "/b").stdout == "two\none\n"


def test_prune_during_a_build_leaves_what_the_build_uses(
    daemon: Daemon, busybox: str, tmp_path: Path
) -> None:
    """`image prune -a` while a RUN runs: the base and the step just made (untagged,
    childless: dangling) are the build's, and stay; the build succeeds and is cached."""
    dockerfile = "FROM busybox\nRUN echo one > /a\nRUN echo started && sleep 1\n"
    context = write_tree(tmp_path, {"Dockerfile": dockerfile})
    argv = [sys.executable, "-m", "lamina", "build", "--progress=plain", "-t", "app"]
    running = subprocess.Popen([*argv, str(context)], env=daemon.env, stderr=subprocess.PIPE)
    assert running.stderr is not None
    for line in running.stderr:
        if line.rstrip().endswith(b" started"):
            break
    pruned = daemon.lamina("image", "prune", "-af").stdout
    _, err = running.communicate(timeout=60)
    assert running.returncode == 0, err
    assert pruned.strip() == "Total reclaimed space: 0B"
    again = steps(build(daemon, context, "-t", "app").stderr)
    assert {again["RUN echo one > /a"], again["RUN echo started && sleep 1"]} == {"CACHED"}
