"""Networks beside dockerd: 20 containers that resolve each other, 1 GB through a port.

    .venv/bin/python bench/net_bench.py [--containers 20] [--gigabytes 1] [--runs 3]

Both engines run the same busybox root filesystem. dockerd runs privately *with* its
bridge driver and iptables here (unlike bench/anchors.py's), on a network without
masquerading, with --dns 127.0.0.1 so its embedded DNS could only ever forward to
loopback; afterwards its network, its DOCKER* chains and rules go, and the FORWARD
policy is restored. Traffic goes only to loopback and to the benchmark's containers.

1. names: start N containers on one user network, each looping over `nslookup` of all
   the others once all are started; time from the first `run` to the last one done.
2. throughput: busybox httpd (sendfile) in a container serves a sparse 1 GB file on a
   published port; the host reads it from 127.0.0.1 (median of --runs).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.anchors import (
    DOCKER,
    LAMINA,
    busybox_tar,
    dockerd,
    lamina_daemon,
    remove_containers,
    run,
)

NETWORK = "benchnet"
# Each container, once all are started, looks up every name until it resolves, says so,
# and stays up (a stopped container's name stops resolving, in both engines).
RESOLVE = (
    "until [ -e /sync/go ]; do sleep 0.02; done; for n in {names}; do "
    "until nslookup $n >/dev/null 2>&1; do sleep 0.02; done; done; touch /sync/done-$(hostname); "
    "sleep 600"
)


def names_bench(cli: list[str], env: dict[str, str], count: int) -> float:
    sync = Path(tempfile.mkdtemp(prefix="net-bench-sync-"))
    names = " ".join(f"c{i}" for i in range(count))
    try:
        start = time.perf_counter()
        for i in range(count):
            run([*cli, "run", "-d", "--name", f"c{i}", "--hostname", f"c{i}", "--network",
                 NETWORK, "-v", f"{sync}:/sync", "busybox", "sh", "-c",
                 RESOLVE.format(names=names)], env)  # fmt: skip
        (sync / "go").touch()
        deadline = time.monotonic() + 300
        while len(list(sync.glob("done-*"))) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(list(sync.glob('done-*')))} containers resolved all")
            time.sleep(0.01)
        return time.perf_counter() - start
    finally:
        subprocess.run([*cli, "rm", "-f", *(f"c{i}" for i in range(count))], env=env,
                       capture_output=True)  # fmt: skip
        shutil.rmtree(sync, ignore_errors=True)


def throughput_bench(cli: list[str], env: dict[str, str], gigabytes: float, runs: int) -> float:
    size = int(gigabytes * (1 << 30))
    run(
        [
            *cli,
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            NETWORK,
            "-p",
            "127.0.0.1::80",
            "busybox",
            "sh",
            "-c",
            f"mkdir /www && truncate -s {size} /www/big && httpd -f -p 80 -h /www",
        ],
        env,
    )
    try:
        port = int(run([*cli, "port", "web", "80"], env).split(":")[-1])
        seconds = []
        for _ in range(runs + 1):  # the first one warms up
            start = time.perf_counter()
            assert _fetch(port) == size
            seconds.append(time.perf_counter() - start)
        return size / statistics.median(seconds[1:]) / 1e6  # MB/s
    finally:
        subprocess.run([*cli, "rm", "-f", "web"], env=env, capture_output=True)


def _fetch(port: int) -> int:
    deadline = time.monotonic() + 20
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=60)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with sock:
        sock.sendall(b"GET /big HTTP/1.0\r\n\r\n")
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        head = b""
        while b"\r\n\r\n" not in head:
            n = sock.recv_into(view)
            if not n:
                return 0
            head += bytes(view[:n])
        body = len(head) - head.index(b"\r\n\r\n") - 4
        while n := sock.recv_into(view):
            body += n
        return body


@contextlib.contextmanager
def networked_dockerd(tar: Path) -> Iterator[dict[str, str] | None]:
    """A private dockerd with its bridge driver and iptables (its rules go afterwards),
    DNS that can only forward to loopback, and a network without masquerading."""
    with dockerd(tar, iptables=True, name="netbench", extra=["--dns", "127.0.0.1"]) as env:
        if env is None:
            yield None
            return
        run([DOCKER, "network", "create", "-o",
             "com.docker.network.bridge.enable_ip_masquerade=false", NETWORK], env)  # fmt: skip
        try:
            yield env
        finally:
            remove_containers([DOCKER], env)
            subprocess.run([DOCKER, "network", "rm", NETWORK], env=env, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with lamina_daemon() as env:
        run([*LAMINA, "network", "create", NETWORK], env)
        results["lamina"] = {
            "names": names_bench(LAMINA, env, args.containers),
            "mbps": throughput_bench(LAMINA, env, args.gigabytes, args.runs),
        }
        run([*LAMINA, "network", "rm", NETWORK], env)
    with (
        tempfile.TemporaryDirectory() as tmp,
        networked_dockerd(busybox_tar(Path(tmp) / "bb.tar")) as denv,
    ):
        if denv is not None:
            results["dockerd"] = {
                "names": names_bench([DOCKER], denv, args.containers),
                "mbps": throughput_bench([DOCKER], denv, args.gigabytes, args.runs),
            }
    n = args.containers
    print(f"{'':28}{'lamina':>12}{'dockerd':>12}{'ratio':>8}")
    for key, label, better in (
        ("names", f"{n} containers resolve all (s)", "lower"),
        ("mbps", f"{args.gigabytes:g} GB via 127.0.0.1 (MB/s)", "higher"),
    ):
        ours = results["lamina"][key]
        theirs = results.get("dockerd", {}).get(key)
        ratio = f"{ours / theirs:.2f}" if theirs else "-"
        shown = f"{theirs:12.2f}" if theirs else f"{'-':>12}"
        print(f"{label:28}{ours:12.2f}{shown}{ratio:>8}  ({better} is better)")


if __name__ == "__main__":
    main()
