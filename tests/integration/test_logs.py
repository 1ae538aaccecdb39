"""Log drivers end to end: json-file rotation, local, none, refusals, following across
rotations, and `logs` of a big log in bounded daemon memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.conftest import Daemon
from tests.support.rawhttp import request

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runc") is None, reason="needs root and runc"
)

COUNT = 100_000  # `seq 1 COUNT`: ~1.7 MB of log lines, many rotations at 100k


def inspect(daemon: Daemon, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(daemon.lamina("inspect", name).stdout)[0]
    return found


def run_seq(daemon: Daemon, name: str, *flags: str, count: int = COUNT) -> Path:
    """Run a container printing 1..count; returns its folder once it has exited."""
    daemon.lamina("run", "-d", "--name", name, *flags, "busybox", "seq", "1", str(count))
    assert daemon.lamina("wait", name).stdout.strip() == "0"
    return daemon.paths.root / "containers" / inspect(daemon, name)["Id"]


def sizes(folder: Path, prefix: str) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in folder.iterdir() if p.name.startswith(prefix)}


def numbers(text: str) -> list[int]:
    return [int(line) for line in text.split()]


def test_json_file_rotation_keeps_max_size_times_max_file(daemon: Daemon, busybox: str) -> None:
    folder = run_seq(daemon, "rot", "--log-opt", "max-size=100k", "--log-opt", "max-file=3")
    cid = folder.name
    files = sizes(folder, cid)
    assert sorted(files) == [f"{cid}-json.log", f"{cid}-json.log.1", f"{cid}-json.log.2"]
    assert all(size <= 100_000 for size in files.values()) and sum(files.values()) <= 300_000
    kept = numbers(daemon.lamina("logs", "rot").stdout)  # across the three files, in order
    assert kept == list(range(kept[0], COUNT + 1)) and len(kept) > 3000
    assert numbers(daemon.lamina("logs", "--tail", "5", "rot").stdout) == kept[-5:]
    sdk = docker.DockerClient(base_url=daemon.paths.host)
    replayed = sdk.containers.get("rot").attach(logs=True, stream=False)  # attach's logs=1
    assert numbers(replayed.decode()) == kept
    config = inspect(daemon, "rot")["HostConfig"]["LogConfig"]
    assert config == {"Type": "json-file", "Config": {"max-size": "100k", "max-file": "3"}}
    assert inspect(daemon, "rot")["LogPath"] == str(folder / f"{cid}-json.log")


def test_a_huge_max_file_is_applied_without_counting_to_it(daemon: Daemon, busybox: str) -> None:
    started = time.monotonic()
    flags = ("--log-opt", "max-size=10k", "--log-opt", f"max-file={2**63 - 1}")
    folder = run_seq(daemon, "many", *flags, count=5000)
    assert len(sizes(folder, folder.name)) > 20  # ~30 files of 10 kB: none rotated out
    assert numbers(daemon.lamina("logs", "many").stdout) == list(range(1, 5001))
    assert numbers(daemon.lamina("logs", "-n", "2", "many").stdout) == [4999, 5000]
    assert time.monotonic() - started < 30  # ~2 s; counting to max-file: for ever


def test_compressed_rotation_and_the_local_driver(daemon: Daemon, busybox: str) -> None:
    flags = ("--log-opt", "max-size=100k", "--log-opt", "max-file=3", "--log-opt", "compress=1")
    folder = run_seq(daemon, "gz", *flags)
    assert sorted(sizes(folder, folder.name)) == [
        f"{folder.name}-json.log", f"{folder.name}-json.log.1.gz", f"{folder.name}-json.log.2.gz"
    ]  # fmt: skip
    kept = numbers(daemon.lamina("logs", "gz").stdout)
    assert kept == list(range(kept[0], COUNT + 1)) and len(kept) > 3000  # more: compressed
    # local: Docker's defaults are five files of 20 MiB, compressed
    folder = run_seq(daemon, "loc", "--log-driver", "local", "--log-opt", "max-size=100k")
    files = sizes(folder / "local-logs", "container.log")
    assert sorted(files) == ["container.log", *(f"container.log.{n}.gz" for n in range(1, 5))]
    kept = numbers(daemon.lamina("logs", "loc").stdout)
    assert kept == list(range(kept[0], COUNT + 1))
    assert numbers(daemon.lamina("logs", "-n", "3", "loc").stdout) == kept[-3:]
    assert not list(folder.glob("*-json.log*"))
    found = inspect(daemon, "loc")
    assert found["LogPath"] == ""  # Docker keeps the local driver's files to itself
    assert found["HostConfig"]["LogConfig"] == {"Type": "local", "Config": {"max-size": "100k"}}


def test_none_keeps_nothing_and_logs_says_so(daemon: Daemon, busybox: str) -> None:
    out = daemon.lamina("run", "--name", "quiet", "--log-driver", "none", "busybox", "echo", "hi")
    assert out.stdout == "hi\n"  # attached output does not need a log
    folder = daemon.paths.root / "containers" / inspect(daemon, "quiet")["Id"]
    assert not [p.name for p in folder.iterdir() if "log" in p.name and p.name != "monitor.log"]
    refused = daemon.lamina("logs", "quiet", check=False)
    assert refused.returncode == 1
    assert "configured logging driver does not support reading" in refused.stderr
    found = inspect(daemon, "quiet")
    assert found["LogPath"] == "" and found["HostConfig"]["LogConfig"]["Type"] == "none"
    sdk = docker.DockerClient(base_url=daemon.paths.host)
    with pytest.raises(docker.errors.APIError) as err:
        sdk.containers.get("quiet").attach(logs=True, stream=False)
    assert err.value.status_code == 501  # Docker's NotImplemented
    if shutil.which("docker"):
        refused = daemon.docker("logs", "quiet", check=False)
        assert "configured logging driver does not support reading" in refused.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--log-driver", "syslog"], "the syslog log driver is not supported by lamina"),
        (["--log-driver", "nosuch"], "logger: no log driver named 'nosuch' is registered"),
        (["--log-opt", "foo=1"], "unknown log opt 'foo' for json-file log driver"),
        (["--log-opt", "max-size=10x"], "invalid value for max-size: 10x: invalid suffix: 'x'"),
        (["--log-opt", "mode=lossy"], "logger: logging mode not supported: lossy"),
        (["--log-driver", "none", "--log-opt", "max-size=1m"], "invalid logging opts"),
    ],
)
def test_refused_at_create(daemon: Daemon, busybox: str, flags: list[str], message: str) -> None:
    refused = daemon.lamina("run", "-d", *flags, "busybox", "true", check=False)
    assert refused.returncode != 0 and message in refused.stderr
    assert "Traceback" not in refused.stderr
    assert daemon.lamina("ps", "-aq").stdout == ""  # nothing was created


@pytest.mark.parametrize(
    ("log_config", "message"),
    [
        ({"Type": "nosuch"}, "logger: no log driver named 'nosuch' is registered"),
        (
            {"Type": "syslog"},
            "logger: the syslog log driver is not supported by lamina "
            "(it runs json-file, local, none)",
        ),
        (
            {"Type": "json-file", "Config": {"max-size": "1e400"}},
            'invalid value for max-size: 1e400: strconv.ParseFloat: parsing "1e400": '
            "value out of range",
        ),
        (
            {"Type": "local", "Config": {"mode": "non-blocking", "max-buffer-size": "1e400"}},
            'error parsing option max-buffer-size: strconv.ParseFloat: parsing "1e400": '
            "value out of range",
        ),
    ],
)
def test_refused_at_create_through_the_api(
    daemon: Daemon, busybox: str, log_config: dict[str, Any], message: str
) -> None:
    """What docker-py and the docker CLI send: a 400 with Docker's message, not a 500."""
    body = {"Image": busybox, "HostConfig": {"LogConfig": log_config}}
    answer = request(str(daemon.paths.socket), "POST", "/v1.45/containers/create",
                     json.dumps(body).encode())  # fmt: skip
    assert (answer.status, answer.message) == (400, message)
    assert daemon.lamina("ps", "-aq").stdout == ""


def test_refusals_through_docker_and_non_blocking_mode(daemon: Daemon, busybox: str) -> None:
    if shutil.which("docker"):
        refused = daemon.docker("create", "--log-driver", "gelf", "busybox", check=False)
        assert "the gelf log driver is not supported by lamina" in refused.stderr
        daemon.docker("create", "--name", "dk", "--log-opt", "max-size=1m", "busybox")
        shown = daemon.docker("inspect", "-f", "{{json .HostConfig.LogConfig}}", "dk").stdout
        assert json.loads(shown) == {"Type": "json-file", "Config": {"max-size": "1m"}}
    flags = ("--log-opt", "mode=non-blocking", "--log-opt", "max-buffer-size=4m")
    run_seq(daemon, "nb", *flags, count=1000)
    assert numbers(daemon.lamina("logs", "nb").stdout) == list(range(1, 1001))
    if shutil.which("docker"):  # Docker puts the entry's attributes (none here) first
        assert daemon.docker("logs", "--details", "-n", "2", "nb").stdout == " 999\n 1000\n"


@pytest.mark.parametrize("compress", ["false", "true"])
def test_follow_goes_on_across_rotations(daemon: Daemon, busybox: str, compress: str) -> None:
    # ~3.6 MB of log in 50 kB files, all kept (100 files): a follower that falls more
    # than max-size times max-file behind (a loaded machine) loses what was rotated out, as
    # with Docker; within that, nothing.
    flags = ["--log-opt", "max-size=50k", "--log-opt", "max-file=100"]
    flags += ["--log-opt", f"compress={compress}"]
    script = f"sleep 1; seq 1 {COUNT // 2}"
    daemon.lamina("run", "-d", "--name", "fol", *flags, "busybox", "sh", "-c", script)
    follow = subprocess.run(
        [sys.executable, "-m", "lamina", "logs", "-f", "fol"],
        env=daemon.env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    folder = daemon.paths.root / "containers" / inspect(daemon, "fol")["Id"]
    assert len(sizes(folder, folder.name)) > 20  # it rotated while being followed
    assert numbers(follow.stdout.decode()) == list(range(1, COUNT // 2 + 1))


def _peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


@pytest.mark.slow
def test_logs_of_a_500_mb_log_in_bounded_memory(daemon: Daemon, busybox: str) -> None:
    daemon.lamina("create", "--name", "big", "busybox", "true")
    path = Path(inspect(daemon, "big")["LogPath"])
    text = "x" * 900
    line = json.dumps(
        {"log": text + "\n", "stream": "stdout", "time": "2024-05-01T12:00:00.000000000Z"}
    )
    block = ((line + "\n") * 1100).encode()  # ~1 MB
    with open(path, "wb") as f:
        for _ in range(500):
            f.write(block)
        for n in range(10):
            end = {"log": f"end {n}\n", "stream": "stdout", "time": "2024-05-01T12:00:01Z"}
            f.write(json.dumps(end).encode() + b"\n")
    assert path.stat().st_size > 500_000_000
    before = _peak_rss_kb(daemon.process.pid)
    started = time.monotonic()
    tail = daemon.lamina("logs", "--tail", "5", "big").stdout
    assert tail.split("\n") == [f"end {n}" for n in range(5, 10)] + [""]
    tail_seconds = time.monotonic() - started
    assert tail_seconds < 5  # from the end: a CLI start and a few reads, not 500 MB
    started = time.monotonic()
    reader = subprocess.Popen(
        [sys.executable, "-m", "lamina", "logs", "big"],
        env=daemon.env,
        stdout=subprocess.PIPE,
    )
    assert reader.stdout is not None
    served = sum(len(chunk) for chunk in iter(lambda: reader.stdout.read(1 << 20), b""))  # type: ignore[union-attr]
    assert reader.wait(timeout=60) == 0
    assert served == 500 * 1100 * 901 + sum(len(f"end {n}\n") for n in range(10))
    grown_mb = (_peak_rss_kb(daemon.process.pid) - before) / 1024
    print(
        f"logs of {path.stat().st_size / 1e6:.0f} MB: {time.monotonic() - started:.1f} s, "
        f"daemon peak RSS +{grown_mb:.1f} MB; --tail 5: {tail_seconds:.2f} s"
    )
    assert grown_mb < 100
    daemon.lamina("rm", "big")  # its 500 MB go with it
    assert not path.exists()
