"""Containers end to end on runc: lifecycle, volumes, logs, exec, cp, daemon restarts."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import Daemon, start_daemon
from tests.support.wait import wait_for

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runc") is None, reason="needs root and runc"
)


def test_run_prints_output_and_passes_on_the_exit_code(daemon: Daemon, busybox: str) -> None:
    assert daemon.lamina("run", "--rm", "busybox", "echo", "hello").stdout == "hello\n"
    assert (
        daemon.lamina("run", "--rm", "busybox", "sh", "-c", "exit 3", check=False).returncode == 3
    )
    assert daemon.lamina("ps", "-aq").stdout == ""  # --rm removed them


def test_missing_command_and_image_fail_like_docker(daemon: Daemon, busybox: str) -> None:
    missing = daemon.lamina("run", "--rm", "busybox", "nosuchcmd", check=False)
    assert missing.returncode == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in missing.stderr
    no_image = daemon.lamina("run", "--rm", "nosuchimage", check=False)
    assert no_image.returncode != 0 and "No such image: nosuchimage:latest" in no_image.stderr
    assert daemon.lamina("ps", "-aq").stdout == ""  # --rm removed them, failures included
    assert "Traceback" not in missing.stderr + no_image.stderr


def test_stdin_env_workdir_user(daemon: Daemon, busybox: str) -> None:
    out = daemon.lamina("run", "--rm", "-i", "busybox", "cat", input=b"piped\n").stdout
    assert out == "piped\n"
    out = daemon.lamina(
        "run",
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "nobody",
        "--hostname",
        "box",
        "busybox",
        "sh",
        "-c",
        "echo $A $(pwd) $(id -u) $(hostname)",
    ).stdout
    assert out.split() == ["1", "/tmp", "65534", "box"]


def test_seed_volume_experiment(daemon: Daemon, busybox: str) -> None:
    """The seed: data written by a database container is lost without a volume and
    kept with `-v sample_volume:/data/db` across stop, rm and a new container."""
    write = "mkdir -p /data/db && echo record-1 >> /data/db/records && cat /data/db/records"
    read = "cat /data/db/records 2>/dev/null || echo no-records"
    daemon.lamina("run", "-d", "--name", "db", "busybox", "sh", "-c", write + "; sleep 60")
    daemon.lamina("stop", "-t", "1", "db")
    daemon.lamina("rm", "db")
    assert daemon.lamina("run", "--rm", "busybox", "sh", "-c", read).stdout == "no-records\n"

    daemon.lamina("volume", "create", "sample_volume")
    volume = ["-v", "sample_volume:/data/db"]
    daemon.lamina(
        "run", "-d", "--name", "volumedb", *volume, "busybox", "sh", "-c", write + "; sleep 60"
    )
    daemon.lamina("stop", "-t", "1", "volumedb")
    daemon.lamina("rm", "volumedb")
    out = daemon.lamina("run", "--rm", *volume, "busybox", "sh", "-c", read).stdout
    assert out == "record-1\n"
    in_use = daemon.lamina("run", "-d", *volume, "busybox", "sleep", "30").stdout.strip()
    refused = daemon.lamina("volume", "rm", "sample_volume", check=False)
    assert refused.returncode == 1 and "volume is in use" in refused.stderr
    assert in_use[:12] in refused.stderr or in_use in refused.stderr


def test_two_containers_share_a_volume(daemon: Daemon, busybox: str) -> None:
    loop = "i=0; while true; do echo {n}-$i >> /shared/log; i=$((i+1)); sleep 0.1; done"
    for n in ("a", "b"):
        daemon.lamina(
            "run",
            "-d",
            "--name",
            f"writer-{n}",
            "-v",
            "shared:/shared",
            "busybox",
            "sh",
            "-c",
            loop.format(n=n),
        )

    def both_wrote(reader: str) -> bool:
        seen = daemon.lamina("exec", reader, "cat", "/shared/log").stdout.split()
        return any(s.startswith("a-") for s in seen) and any(s.startswith("b-") for s in seen)

    wait_for(lambda: both_wrote("writer-a"), what="lines from both writers in the shared volume")
    assert both_wrote("writer-b")  # the other container sees the same file


def test_anonymous_volume_from_image_volume_and_rm_v(daemon: Daemon, busybox: str) -> None:
    cid = daemon.lamina("run", "-d", "-v", "/scratch", "busybox", "sleep", "30").stdout.strip()
    [info] = json.loads(daemon.lamina("inspect", cid).stdout)
    [mount] = info["Mounts"]
    assert mount["Type"] == "volume" and mount["Destination"] == "/scratch"
    daemon.lamina("rm", "-f", "-v", cid)
    assert mount["Name"] not in daemon.lamina("volume", "ls", "-q").stdout


def run_ticker(daemon: Daemon) -> None:
    daemon.lamina(
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done",
    )


def test_logs_tail_and_timestamps(daemon: Daemon, busybox: str) -> None:
    run_ticker(daemon)
    wait_for(
        lambda: len(daemon.lamina("logs", "ticker").stdout.splitlines()) >= 2, what="two ticks"
    )
    tail = daemon.lamina("logs", "--tail", "2", "ticker").stdout.splitlines()
    assert len(tail) == 2 and all(line.startswith("tick ") for line in tail)
    stamped = daemon.lamina("logs", "-t", "--tail", "1", "ticker").stdout
    assert stamped[:4].isdigit() and "Z tick" in stamped


def test_exec_top_and_cp_in_a_running_container(
    daemon: Daemon, busybox: str, tmp_path: object
) -> None:
    run_ticker(daemon)
    assert (
        daemon.lamina(
            "exec", "-e", "X=7", "ticker", "sh", "-c", "echo $X; exit 5", check=False
        ).returncode
        == 5
    )
    assert "sh -c" in daemon.lamina("top", "ticker").stdout
    src = os.path.join(str(tmp_path), "in.txt")
    with open(src, "w") as f:
        f.write("copied\n")
    daemon.lamina("cp", src, "ticker:/tmp/")
    assert daemon.lamina("exec", "ticker", "cat", "/tmp/in.txt").stdout == "copied\n"
    out = os.path.join(str(tmp_path), "hostname")
    daemon.lamina("cp", "ticker:/etc/hostname", out)
    with open(out) as f:
        assert len(f.read().strip()) == 12


def test_rename_a_running_container_then_kill_it(daemon: Daemon, busybox: str) -> None:
    run_ticker(daemon)
    daemon.lamina("rename", "ticker", "renamed")
    [info] = json.loads(daemon.lamina("inspect", "renamed").stdout)
    assert info["Name"] == "/renamed" and info["State"]["Running"] is True
    daemon.lamina("kill", "renamed")
    assert daemon.lamina("wait", "renamed").stdout.strip() == "137"


def test_name_conflict_and_running_removal(daemon: Daemon, busybox: str) -> None:
    daemon.lamina("run", "-d", "--name", "one", "busybox", "sleep", "30")
    dup = daemon.lamina("run", "-d", "--name", "one", "busybox", "true", check=False)
    assert dup.returncode != 0 and 'The container name "/one" is already in use' in dup.stderr
    running = daemon.lamina("rm", "one", check=False)
    assert running.returncode == 1 and "container is running" in running.stderr
    image_rm = daemon.lamina("rmi", "busybox", check=False)
    assert image_rm.returncode == 1
    assert 'unable to remove repository reference "busybox" (must force)' in image_rm.stderr


def test_restart_policy_and_security_defaults(daemon: Daemon, busybox: str) -> None:
    daemon.lamina(
        "run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1"
    )

    def given_up() -> dict[str, Any] | None:
        [info] = json.loads(daemon.lamina("inspect", "flaky").stdout)
        done = info["RestartCount"] == 2 and not info["State"]["Running"]
        return info if done else None

    info = wait_for(given_up, timeout=15, interval=0.2, what="two restarts, then no more")
    assert info["RestartCount"] == 2 and info["State"]["ExitCode"] == 1
    status = daemon.lamina(
        "run", "--rm", "busybox", "grep", "-E", "CapEff|Seccomp:", "/proc/self/status"
    ).stdout.split()
    assert status == ["CapEff:", "00000000a80425fb", "Seccomp:", "2"]
    ro = daemon.lamina("run", "--rm", "--read-only", "busybox", "touch", "/x", check=False)
    assert ro.returncode == 1 and "Read-only file system" in ro.stderr


def test_containers_survive_a_daemon_kill(daemon: Daemon, busybox: str) -> None:
    loop = "i=0; while true; do echo n$i; i=$((i+1)); sleep 0.1; done"
    for n in range(5):
        daemon.lamina("run", "-d", "--name", f"c{n}", "busybox", "sh", "-c", loop)
    short_id = daemon.lamina(
        "run", "-d", "--name", "short", "busybox", "sh", "-c", "sleep 1; exit 7"
    ).stdout.strip()
    reply = 'echo ready; read line; echo "got $line"; exit 3'
    daemon.lamina("run", "-di", "--name", "talker", "busybox", "sh", "-c", reply)
    daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait()
    # A removal the kill interrupted: the record is gone, its files are not yet.
    orphan = daemon.paths.root / "containers" / ("0" * 64) / "upper"
    orphan.mkdir(parents=True)
    daemon.wait_exit_recorded(short_id, what='"short" to exit while no daemon runs')
    daemon.process = start_daemon(daemon.paths)
    assert not orphan.parent.exists()
    rows = daemon.lamina("ps", "--format", "{{.Names}} {{.State}}").stdout.split("\n")
    assert sorted(r for r in rows if r) == [*(f"c{n} running" for n in range(5)), "talker running"]
    # attach through the new daemon: stdin reaches the container, its output and exit code
    # come back (the monitor kept its stdin open while no daemon ran)
    talk = daemon.lamina("attach", "talker", input=b"hello\n", check=False)
    assert (talk.returncode, talk.stdout) == (3, "got hello\n"), talk.stderr
    [short] = json.loads(daemon.lamina("inspect", "short").stdout)
    assert short["State"]["Status"] == "exited" and short["State"]["ExitCode"] == 7
    before = len(daemon.lamina("logs", "c0").stdout.splitlines())
    follow = subprocess.Popen(
        [sys.executable, "-m", "lamina", "logs", "-f", "--tail", "0", "c1"],
        env=daemon.env,
        stdout=subprocess.PIPE,
    )
    wait_for(
        lambda: len(daemon.lamina("logs", "c0").stdout.splitlines()) > before,
        what="c0's log to grow under the new daemon",
    )
    assert follow.stdout is not None
    wait_for(lambda: select.select([follow.stdout], [], [], 0)[0], what="logs -f to print a line")
    daemon.lamina("stop", "-t", "1", "c1")  # logs -f follows new lines, then ends with it
    out, _ = follow.communicate(timeout=10)
    assert follow.returncode == 0 and len(out.split()) >= 2
    daemon.lamina("stop", "-t", "1", "c0")
    assert json.loads(daemon.lamina("inspect", "c0").stdout)[0]["State"]["Running"] is False


def test_logs_follow_ends_with_the_container(daemon: Daemon, busybox: str) -> None:
    daemon.lamina(
        "run",
        "-d",
        "--name",
        "brief",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo $i; sleep 0.2; done",
    )
    out = daemon.lamina("logs", "-f", "brief").stdout
    assert out.split() == ["1", "2", "3"]


def test_limits_security_and_mount_flags(daemon: Daemon, busybox: str, tmp_path: object) -> None:
    script = (
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us; grep -E 'NoNewPrivs' /proc/self/status; "
        "ps -o comm | sed -n 2p; touch /t/x && echo tmpfs-ok; cat /b/file; "
        "grep CapEff /proc/self/status"
    )
    host_dir = os.path.join(str(tmp_path), "bind")
    os.makedirs(host_dir)
    with open(os.path.join(host_dir, "file"), "w") as f:
        f.write("bound\n")
    out = daemon.lamina(
        "run",
        "--rm",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "50",
        "--init",
        "--security-opt",
        "no-new-privileges",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "CHOWN",
        "--tmpfs",
        "/t",
        "--mount",
        f"type=bind,source={host_dir},target=/b,readonly",
        "busybox",
        "sh",
        "-c",
        script,
    ).stdout.split()
    assert out[:3] == [str(64 * 1024 * 1024), "50", "50000"]
    assert out[3:5] == ["NoNewPrivs:", "1"]
    assert out[5] == "tini-static" or out[5].startswith("docker-init") or out[5] == "init"
    assert out[6:8] == ["tmpfs-ok", "bound"]
    assert out[8:] == ["CapEff:", "0000000000000001"]
    priv = daemon.lamina(
        "run", "--rm", "--privileged", "busybox", "grep", "Seccomp:", "/proc/self/status"
    ).stdout.split()
    assert priv == ["Seccomp:", "0"]
    ro_bind = daemon.lamina(
        "run", "--rm", "-v", f"{host_dir}:/b:ro", "busybox", "touch", "/b/new", check=False
    )
    assert ro_bind.returncode == 1 and "Read-only file system" in ro_bind.stderr


@pytest.mark.slow
def test_seed_volume_experiment_with_redis(daemon: Daemon) -> None:
    """The seed's database experiment with a real server: redis-server from a Debian
    image bootstrapped with mmdebstrap (needs the Debian mirror, as CI has)."""
    boot = daemon.lamina(
        "image",
        "bootstrap",
        "debian:bookworm",
        "--include",
        "redis-server",
        "-t",
        "redis-test",
        check=False,
    )
    if boot.returncode != 0 and "mmdebstrap failed" in boot.stderr:
        pytest.fail(f"could not bootstrap Debian with redis-server:\n{boot.stderr}")
    serve = ["sh", "-c", "mkdir -p /data && exec redis-server --dir /data --save ''"]

    def run_db(name: str, *volume: str) -> None:
        daemon.lamina("run", "-d", "--name", name, *volume, "redis-test", *serve)
        wait_for(
            lambda: daemon.lamina("exec", name, "redis-cli", "ping", check=False).stdout
            == "PONG\n",
            timeout=20,
            interval=0.2,
            what="redis to start",
        )

    def cycle(*volume: str) -> str:
        run_db("db1", *volume)
        assert daemon.lamina("exec", "db1", "redis-cli", "set", "record", "kept").stdout == "OK\n"
        daemon.lamina("exec", "db1", "redis-cli", "save")
        daemon.lamina("stop", "db1")
        daemon.lamina("rm", "db1")
        run_db("db2", *volume)
        value = daemon.lamina("exec", "db2", "redis-cli", "get", "record").stdout
        daemon.lamina("rm", "-f", "db2")
        return value

    daemon.lamina("volume", "create", "sample_volume")
    assert cycle() == "\n"  # without a volume the record is gone
    assert cycle("-v", "sample_volume:/data") == "kept\n"


def test_container_prune_honours_its_filters(daemon: Daemon, busybox: str) -> None:
    for name, label in (("keep1", "keep=yes"), ("gone1", "stage=tmp"), ("gone2", "stage=tmp")):
        daemon.lamina("create", "--name", name, "-l", label, "busybox", "true")
    out = daemon.lamina("container", "prune", "-f", "--filter", "label=stage=tmp").stdout
    assert len(out.split("\n")[1:3]) == 2
    names = daemon.lamina("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert names == ["keep1"]
    daemon.docker("container", "prune", "-f", "--filter", "label!=keep")
    assert daemon.lamina("ps", "-aq").stdout.split() != []  # keep1 carries `keep`
    daemon.lamina("container", "prune", "-f", "--filter", "until=1h")
    assert daemon.lamina("ps", "-aq").stdout.split() != []  # created just now
    daemon.lamina("container", "prune", "-f")
    assert daemon.lamina("ps", "-aq").stdout.split() == []


def test_logs_options_are_checked_before_streaming(daemon: Daemon, busybox: str) -> None:
    daemon.lamina("run", "--name", "said", "busybox", "echo", "hello")
    assert daemon.lamina("logs", "--since", "10m", "said").stdout == "hello\n"
    bad = daemon.lamina("logs", "--tail", "many", "said", check=False)
    assert bad.returncode == 1 and "invalid tail 'many'" in bad.stderr
