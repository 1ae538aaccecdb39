"""The real docker CLI runs containers on lamina: run (-d, --rm, -i, -t), ps, logs, exec,
stop, rm, cp, and the Python SDK's containers.run."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Daemon
from tests.support.wait import wait_for

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runc") is None or shutil.which("docker") is None,
    reason="needs root, runc and the docker CLI",
)
PROMPT = b"/ # "  # busybox sh's, as root in /


def run_in_pty(
    cmd: list[str], env: dict[str, str], send: bytes = b"", timeout: float = 20
) -> tuple[int, bytes]:
    """Run `cmd` with a real terminal as its stdio; return its exit code and output.
    `send` is typed once the shell's prompt shows (so the container is attached)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        cmd, env=env, stdin=follower, stdout=follower, stderr=follower, start_new_session=True
    )
    os.close(follower)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                data = os.read(leader, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
            if send and PROMPT in out:
                os.write(leader, send)
                send = b""
        elif proc.poll() is not None:
            break
    os.close(leader)
    assert not send, f"no prompt to type at: {out!r}"
    return proc.wait(timeout=5), out


def test_run_without_a_terminal(daemon: Daemon, busybox: str) -> None:
    assert daemon.docker("run", "--rm", "busybox", "echo", "hi").stdout == "hi\n"
    failed = daemon.docker(
        "run", "--rm", "busybox", "sh", "-c", "echo err >&2; exit 3", check=False
    )
    assert failed.returncode == 3 and failed.stderr == "err\n"
    assert (
        daemon.docker("run", "--rm", "-i", "busybox", "cat", input=b"from stdin\n").stdout
        == "from stdin\n"
    )
    missing = daemon.docker("run", "--rm", "busybox", "nosuchcmd", check=False)
    assert missing.returncode == 127 and "executable file not found" in missing.stderr


def test_run_with_a_terminal(daemon: Daemon, busybox: str) -> None:
    code, out = run_in_pty(
        ["docker", "run", "--rm", "-t", "busybox", "sh", "-c", "tty; stty size"], daemon.env
    )
    assert code == 0 and b"/dev/pts/0" in out
    code, out = run_in_pty(
        ["docker", "run", "--rm", "-it", "busybox", "sh"],
        daemon.env,
        send=b"echo inside-$((6*7)); exit 4\r",
    )
    assert code == 4 and b"inside-42" in out


def run_web(daemon: Daemon) -> str:
    return daemon.docker(
        "run",
        "-d",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "echo started; while true; do sleep 0.1; done",
    ).stdout.strip()


def test_detached_lifecycle_ps_logs_stop_rm(daemon: Daemon, busybox: str) -> None:
    cid = run_web(daemon)
    assert len(cid) == 64
    ps = daemon.docker("ps").stdout.splitlines()
    assert ps[0].split()[:2] == ["CONTAINER", "ID"] and "web" in ps[1] and "Up" in ps[1]
    logs = wait_for(lambda: daemon.docker("logs", "web").stdout, what="the container's first line")
    assert logs == "started\n"
    daemon.docker("stop", "-t", "1", "web")
    assert "Exited (137)" in daemon.docker("ps", "-a").stdout
    assert daemon.docker("rm", "web").stdout.strip() == "web"
    assert daemon.docker("ps", "-aq").stdout == ""


def test_exec_and_cp_in_a_detached_container(daemon: Daemon, busybox: str, tmp_path: Path) -> None:
    run_web(daemon)
    assert daemon.docker("exec", "web", "sh", "-c", "echo $((1+2))").stdout == "3\n"
    assert daemon.docker("exec", "web", "sh", "-c", "exit 9", check=False).returncode == 9
    code, out = run_in_pty(
        ["docker", "exec", "-it", "web", "sh"], daemon.env, send=b"echo in-exec-tty; exit\r"
    )
    assert code == 0 and b"in-exec-tty" in out
    (tmp_path / "note.txt").write_text("note\n")
    daemon.docker("cp", str(tmp_path / "note.txt"), "web:/tmp/note.txt")
    daemon.docker("cp", "web:/tmp/note.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "note\n"


def test_python_sdk_runs_containers(daemon: Daemon, busybox: str) -> None:
    import docker

    client = docker.DockerClient(base_url=daemon.paths.host)
    try:
        assert client.containers.run("busybox", ["echo", "sdk"], remove=True) == b"sdk\n"
        c = client.containers.run("busybox", ["sleep", "30"], detach=True, name="sdk-c")
        assert client.containers.get("sdk-c").status == "running"
        assert c.exec_run(["echo", "x"]).output == b"x\n"
        c.stop(timeout=1)
        c.reload()
        assert c.attrs["State"]["ExitCode"] == 137
        c.remove()
        with pytest.raises(docker.errors.NotFound):
            client.containers.get("sdk-c")
    finally:
        client.close()


def test_ps_filters_before_since_health_and_a_limit(daemon: Daemon, busybox: str) -> None:
    """Filters the CLI sends are applied, not only accepted: before/since by position,
    health (every container is "none": lamina runs no healthchecks yet), and `-n`
    counting stopped containers as dockerd does."""
    for name in ("old", "mid", "new"):
        daemon.docker("create", "--name", name, "busybox", "true")

    def names(*args: str) -> list[str]:
        return daemon.docker("ps", "--format", "{{.Names}}", *args).stdout.split()

    assert names("-a", "--filter", "before=new") == ["mid", "old"]
    assert names("-a", "--filter", "since=old") == ["new", "mid"]
    assert names("-a", "--filter", "since=old", "--filter", "before=new") == ["mid"]
    assert names("-a", "--filter", "health=none") == ["new", "mid", "old"]
    assert names("-a", "--filter", "health=healthy") == []
    assert names("-n", "2") == ["new", "mid"]
    assert names() == []
    refused = daemon.docker("ps", "--filter", "health=green", check=False)
    assert refused.returncode != 0 and "Unrecognised filter value for health" in refused.stderr
    missing = daemon.docker("ps", "-a", "--filter", "before=nosuch", check=False)
    assert missing.returncode != 0 and "No such container: nosuch" in missing.stderr
