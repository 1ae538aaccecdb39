"""`run --rm busybox true`: lamina vs dockerd vs bare runc, and idle monitor memory.

    .venv/bin/python bench/run_bench.py [--runs 20]

Each engine runs the same busybox root filesystem with no network. Bare runc runs a
bundle prepared once (the floor any engine pays). Memory: resident size of lamina's
per-container monitor beside dockerd's containerd-shim-runc-v2, each with one idle
container.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.anchors import (
    DOCKER,
    LAMINA,
    busybox_tar,
    dockerd,
    lamina_daemon,
    median_ms,
    pids_matching,
    remove_cgroup_parent,
    rss_kb,
    run,
)


def bare_runc(tar: Path, runs: int, *, secure: bool) -> float:
    """`runc run` of a prepared bundle: `runc spec`'s default, or (secure) the config
    lamina would write (default capabilities, seccomp profile, masked paths, cgroup)."""
    base = Path(tempfile.mkdtemp(prefix="runc-bench-", dir="/tmp"))
    try:
        (base / "rootfs").mkdir()
        run(["tar", "-C", str(base / "rootfs"), "-xf", str(tar)])
        run(["runc", "spec", "--bundle", str(base)])
        spec = json.loads((base / "config.json").read_text())
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["/bin/true"]
        if secure:
            from lamina.runtime.spec import SpecInput, build_spec

            spec = build_spec(
                SpecInput(
                    args=["/bin/true"],
                    env=[],
                    rootfs=base / "rootfs",
                    cgroups_path="/lamina-bench/bench",
                )
            )
        (base / "config.json").write_text(json.dumps(spec))
        state = base / "state"
        counter = iter(range(10**6))
        return median_ms(
            lambda: run(
                [
                    "runc",
                    "--root",
                    str(state),
                    "run",
                    "--bundle",
                    str(base),
                    f"bench-{next(counter)}",
                ]
            ),
            runs,
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
        remove_cgroup_parent("lamina-bench")


def monitor_rss(env: dict[str, str]) -> int:
    cid = run([*LAMINA, "run", "-d", "busybox", "sleep", "60"], env).strip()
    time.sleep(0.5)
    run_dir = Path(env["LAMINA_HOST"].removeprefix("unix://")).parent
    state = json.loads((run_dir / "c" / cid[:16] / "state.json").read_text())
    size = rss_kb(int(state["monitor_pid"]))
    run([*LAMINA, "rm", "-f", cid], env)
    return size


def shim_rss(env: dict[str, str]) -> int:
    before = set(pids_matching("containerd-shim"))
    cid = run([DOCKER, "run", "-d", "--network", "none", "busybox", "sleep", "60"], env).strip()
    time.sleep(0.5)
    new = [p for p in pids_matching("containerd-shim") if p not in before]
    size = rss_kb(new[0]) if new else 0
    run([DOCKER, "rm", "-f", cid], env)
    return size


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    results: dict[str, float] = {}
    memory: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tar = busybox_tar(Path(tmp) / "busybox.tar")
        with lamina_daemon() as env:
            results["lamina run --rm busybox true"] = median_ms(
                lambda: run([*LAMINA, "run", "--rm", "--network", "none", "busybox", "true"], env),
                runs,
            )
            results["lamina run --rm (default bridge network)"] = median_ms(
                lambda: run([*LAMINA, "run", "--rm", "busybox", "true"], env), runs
            )
            results["docker CLI → lamina run --rm"] = median_ms(
                lambda: run([DOCKER, "run", "--rm", "--network", "none", "busybox", "true"], env),
                runs,
            )
            memory["lamina monitor (idle container)"] = monitor_rss(env)
        results["bare runc run (prepared bundle)"] = bare_runc(tar, runs, secure=False)
        results["bare runc run (lamina's secure spec)"] = bare_runc(tar, runs, secure=True)
        with dockerd(tar) as denv:
            if denv is not None:
                results["docker run --rm on dockerd"] = median_ms(
                    lambda: run(
                        [DOCKER, "run", "--rm", "--network", "none", "busybox", "true"], denv
                    ),
                    runs,
                )
                memory["containerd-shim-runc-v2 (idle container)"] = shim_rss(denv)
    print(f"median of {runs} runs, milliseconds")
    for name, ms in results.items():
        print(f"  {name:40s} {ms:8.1f}")
    ours = results["lamina run --rm busybox true"]
    docker = results.get("docker run --rm on dockerd")
    if docker:
        print(f"  ratio lamina / dockerd:   {ours / docker:.2f}  (target ≤ 0.25)")
    for key in ("bare runc run (prepared bundle)", "bare runc run (lamina's secure spec)"):
        print(f"  ratio lamina / {key}: {ours / results[key]:.2f}  (target ≤ 2.5)")
    print("resident memory, kB")
    for name, kb in memory.items():
        print(f"  {name:40s} {kb:8d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
