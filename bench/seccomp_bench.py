"""Bare `runc run` of busybox `true` with lamina's default seccomp profile beside others.

    .venv/bin/python bench/seccomp_bench.py [--runs 100] [--profile FILE ...]

runc compiles the seccomp filter (libseccomp) on every `runc create`, on the hot path of
`lamina run`. Each bundle holds the spec lamina writes for a default container and
differs only in `linux.seccomp`: the built-in profile, each `--profile` (Docker format;
by default Debian containers-common's, lamina's default before issue 9, if installed),
and none. Runs are interleaved so a busy machine slows all alike. Reported: medians of
wall time and of the CPU time of runc and its children (steadier on a shared machine).
Needs root and runc; no daemon.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.anchors import remove_cgroup_parent
from lamina.runtime.spec import SpecInput, build_spec

CONTAINERS_COMMON = Path("/usr/share/containers/seccomp.json")
CGROUP_PARENT = "lamina-seccomp-bench"


def make_bundle(base: Path, label: str, seccomp: str) -> Path:
    bundle = base / label
    (bundle / "rootfs" / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", bundle / "rootfs" / "bin" / "busybox")
    (bundle / "rootfs" / "bin" / "true").symlink_to("busybox")
    inp = SpecInput(
        args=["/bin/true"],
        env=[],
        rootfs=bundle / "rootfs",
        cgroups_path=f"/{CGROUP_PARENT}/{label}",
        seccomp=seccomp,
    )
    (bundle / "config.json").write_text(json.dumps(build_spec(inp)))
    return bundle


def run_once(bundle: Path, name: str) -> tuple[float, float]:
    """Wall and CPU milliseconds of one `runc run`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        ["runc", "--root", str(bundle / "state"), "run", "--bundle", str(bundle), name],
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall * 1000, cpu * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--profile", action="append", type=Path, default=[])
    opts = parser.parse_args()
    profiles = opts.profile or ([CONTAINERS_COMMON] if CONTAINERS_COMMON.is_file() else [])
    choices = {"lamina default": "builtin", **{p.name: str(p) for p in profiles}}
    choices["no seccomp"] = "unconfined"
    base = Path(tempfile.mkdtemp(prefix="seccomp-bench-", dir="/tmp"))
    try:
        bundles = {
            label: make_bundle(base, f"b{i}", v) for i, (label, v) in enumerate(choices.items())
        }
        samples: dict[str, list[tuple[float, float]]] = {label: [] for label in bundles}
        for n in range(opts.runs + 1):
            for label, bundle in bundles.items():
                sample = run_once(bundle, f"seccomp-bench-{n}")
                if n:  # the first round warms caches
                    samples[label].append(sample)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        remove_cgroup_parent(CGROUP_PARENT)
    print(f"bare `runc run` of busybox true, median of {opts.runs} interleaved runs, ms")
    for label, values in samples.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(f"  {label:32s} wall {wall:6.1f}   cpu {cpu:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
