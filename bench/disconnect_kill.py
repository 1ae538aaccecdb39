"""How often a kill -9 at a random moment of `network disconnect` lands between its steps.

    .venv/bin/python bench/disconnect_kill.py [--tries 20] [--from api|cli]

disconnect deletes the member's veth, frees its address, then forgets the member: a
daemon killed between two steps leaves a half-done member, which the next start
finishes as a disconnect (lamina/networks/reconcile.py; docs/crashes.md, promise 7).
Each try connects a running container, starts a disconnect, kills the daemon after a
delay drawn uniformly from zero to the median time a disconnect takes, reads what the
kill left (the member's row in lamina.db, the veth in /sys/class/net), restarts the
daemon and checks that the member is whole or gone. `--from api` sends the request on
the socket itself (the delay covers the daemon's work); `--from cli` runs `lamina
network disconnect`, whose first ~30 ms are the CLI's own start.
Needs root and runc; an instance of its own under /tmp, removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lamina.config import Paths
from lamina.networks import naming


class Instance:
    def __init__(self, base: Path) -> None:
        self.paths = Paths(root=base / "root", host=f"unix://{base}/lamina.sock")
        self.log = base / "daemon.log"
        self.env = {
            **os.environ,
            "LAMINA_ROOT": str(self.paths.root),
            "LAMINA_HOST": self.paths.host,
            "LAMINA_NO_AUTOSTART": "1",
        }
        self.daemon = self.start()

    def start(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as log:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "lamina", "daemon"], env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 60
        while not self.answers():
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the daemon did not start: see {self.log}")
            time.sleep(0.01)
        return daemon

    def answers(self) -> bool:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(str(self.paths.socket))
            except OSError:
                return False
        return True

    def kill(self) -> None:
        self.daemon.send_signal(signal.SIGKILL)
        self.daemon.wait()

    def lamina(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "lamina", *args],
            env=self.env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    def api(self, method: str, path: str, body: dict[str, Any]) -> int:
        connection = http.client.HTTPConnection("localhost", timeout=30)
        connection.sock = socket.socket(socket.AF_UNIX)
        try:
            connection.sock.connect(str(self.paths.socket))
            connection.request(method, path, json.dumps(body), {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            return response.status
        except OSError:  # the daemon was killed under it
            return 0
        finally:
            connection.close()

    def member(self, cid: str, nid: str) -> str:
        """What a kill left: untouched, done, or which half-done state."""
        db = sqlite3.connect(f"file:{self.paths.root}/lamina.db?mode=ro", uri=True)
        row = db.execute(
            "SELECT address FROM network_members WHERE network_id = ? AND container_id = ?",
            (nid, cid),
        ).fetchone()
        db.close()
        veth = naming.host_veth(self.paths.device_prefix, cid, nid)
        device = os.path.exists(f"/sys/class/net/{veth}")
        if row is None:
            return "half: a device, no member" if device else "done"
        if row[0] is None:
            return "half: a member without address" + (" and a device" if device else "")
        return "untouched" if device else "half: a member attached, no device"


def measure(inst: Instance, tries: int, via: str) -> list[str]:
    inst.lamina("image", "bootstrap", "busybox")
    nid = inst.lamina("network", "create", "n")
    cid = inst.lamina("run", "-d", "--name", "box", "busybox", "sleep", "3600")
    disconnect = _disconnect(inst, nid, cid, via)
    connect = f"/networks/{nid}/connect"
    durations = []
    for _ in range(10):
        assert inst.api("POST", connect, {"Container": cid}) // 100 == 2
        started = time.perf_counter()
        disconnect().join()
        durations.append(time.perf_counter() - started)
    window = statistics.median(durations)
    print(f"a disconnect from the {via}: median {window * 1000:.1f} ms")
    outcomes = []
    for n in range(tries):
        assert inst.api("POST", connect, {"Container": cid}) // 100 == 2
        request = disconnect()
        delay = random.uniform(0, window)
        time.sleep(delay)
        inst.kill()
        request.join()
        outcomes.append(inst.member(cid, nid))
        print(f"{n + 1:3d}  kill after {delay * 1000:5.1f} ms: {outcomes[-1]}", flush=True)
        inst.daemon = inst.start()
        after = inst.member(cid, nid)
        assert after in ("untouched", "done"), f"the restart left {after}"
        if after == "untouched":
            assert inst.api("POST", f"/networks/{nid}/disconnect", {"Container": cid}) // 100 == 2
    return outcomes


def _disconnect(inst: Instance, nid: str, cid: str, via: str) -> Callable[[], threading.Thread]:
    def send() -> None:
        if via == "cli":
            subprocess.run(
                [sys.executable, "-m", "lamina", "network", "disconnect", "n", "box"],
                env=inst.env, capture_output=True, check=False,
            )  # fmt: skip
        else:
            inst.api("POST", f"/networks/{nid}/disconnect", {"Container": cid})

    def start() -> threading.Thread:
        thread = threading.Thread(target=send, daemon=True)
        thread.start()
        return thread

    return start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--from", dest="via", choices=("api", "cli"), default="api")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="lam-kill-", dir="/tmp"))
    inst = Instance(base)
    try:
        outcomes = measure(inst, args.tries, args.via)
    finally:
        if inst.daemon.poll() is None:
            for cleanup in (("rm", "-f", "box"), ("network", "rm", "n")):
                with contextlib.suppress(subprocess.CalledProcessError):
                    inst.lamina(*cleanup)
        inst.daemon.terminate()
        inst.daemon.wait()
        shutil.rmtree(base, ignore_errors=True)
    half = sum(o.startswith("half") for o in outcomes)
    kinds = ", ".join(f"{o}: {outcomes.count(o)}" for o in sorted(set(outcomes)))
    print(f"half-done members: {half} of {len(outcomes)} ({kinds})")


if __name__ == "__main__":
    main()
