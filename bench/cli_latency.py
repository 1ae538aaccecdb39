"""CLI latency: `lamina version` / `lamina images` beside `docker images` on dockerd.

Runs a private lamina daemon with busybox bootstrapped and a private dockerd with the
same busybox imported (bench/anchors.py), times each command with the project's
virtualenv interpreter (no pyenv shim), and prints medians and ratios. The real docker
CLI against lamina is timed too, since it is what many users will type.

    .venv/bin/python bench/cli_latency.py [--runs 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.anchors import (
    DOCKER,
    LAMINA,
    PYTHON,
    busybox_tar,
    dockerd,
    lamina_daemon,
    median_ms,
    run,
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tar = busybox_tar(Path(tmp) / "busybox.tar")
        with lamina_daemon() as env:
            for args in (["version"], ["images"]):
                results["lamina " + " ".join(args)] = median_ms(
                    lambda a=args: run([*LAMINA, *a], env), runs
                )
            results["python -c pass (interpreter floor)"] = median_ms(
                lambda: run([PYTHON, "-c", "pass"], env), runs
            )
            results["docker CLI images → lamina"] = median_ms(
                lambda: run([DOCKER, "images"], env), runs
            )
        with dockerd(tar) as denv:
            if denv is not None:
                results["docker CLI images → dockerd"] = median_ms(
                    lambda: run([DOCKER, "images"], denv), runs
                )
    print(f"median of {runs} runs, milliseconds")
    for name, ms in results.items():
        print(f"  {name:40s} {ms:7.1f}")
    anchor = results.get("docker CLI images → dockerd")
    if anchor:
        print(
            f"  ratio lamina images / docker images on dockerd: "
            f"{results['lamina images'] / anchor:.2f}"
        )
    verdict = "meets" if results["lamina images"] <= 80 else "MISSES"
    print(f"  lamina images {verdict} the 80 ms target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
