"""CLI latency: `lamina version` / `lamina images` beside `docker images` on dockerd.

Runs a private lamina daemon (its own root and socket) with busybox bootstrapped, times
each command N times with the project's virtualenv interpreter (no pyenv shim), and
prints medians and ratios. The anchor is `docker images` against a running dockerd
(`/var/run/docker.sock`) when there is one; the real docker CLI against lamina is also
timed, since it is what many users will type.

    .venv/bin/python bench/cli_latency.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAMINA = [str(REPO / ".venv" / "bin" / "python"), "-m", "lamina"]


def timed(cmd: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall time in milliseconds over `runs` runs (after one warm-up)."""
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    base = Path(tempfile.mkdtemp(prefix="lam-bench-", dir="/tmp"))
    env = {
        **os.environ,
        "LAMINA_ROOT": str(base / "root"),
        "LAMINA_HOST": f"unix://{base}/lamina.sock",
        "LAMINA_NO_AUTOSTART": "1",
    }
    daemon = subprocess.Popen([*LAMINA, "daemon"], env=env, stderr=subprocess.DEVNULL)
    try:
        while not (base / "lamina.sock").exists():
            time.sleep(0.02)
        subprocess.run(
            [*LAMINA, "image", "bootstrap", "busybox"], env=env, check=True, capture_output=True
        )
        results = {
            "lamina version": timed([*LAMINA, "version"], env, runs),
            "lamina images": timed([*LAMINA, "images"], env, runs),
            "python -c pass (interpreter floor)": timed([LAMINA[0], "-c", "pass"], env, runs),
        }
        docker = shutil.which("docker")
        if docker:
            docker_env = {**env, "DOCKER_HOST": env["LAMINA_HOST"]}
            results["docker CLI images → lamina"] = timed([docker, "images"], docker_env, runs)
        if docker and Path("/var/run/docker.sock").exists():
            anchor_env = {**os.environ, "DOCKER_HOST": "unix:///var/run/docker.sock"}
            results["docker CLI images → dockerd"] = timed([docker, "images"], anchor_env, runs)
    finally:
        daemon.terminate()
        daemon.wait()
        shutil.rmtree(base, ignore_errors=True)
    print(f"median of {runs} runs, milliseconds")
    for name, ms in results.items():
        print(f"  {name:40s} {ms:7.1f}")
    anchor = results.get("docker CLI images → dockerd")
    if anchor:
        print(
            f"  ratio lamina images / docker images (dockerd): "
            f"{results['lamina images'] / anchor:.2f}"
        )
    else:
        print("  (no dockerd running: anchor not measured)")
    target = 80.0
    verdict = "meets" if results["lamina images"] <= target else "MISSES"
    print(f"  lamina images {verdict} the {target:.0f} ms target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
