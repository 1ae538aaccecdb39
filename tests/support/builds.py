"""Helpers for build tests: context folders, `lamina build` runs, and reading its output."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import Daemon

_STEP = re.compile(r"^#(\d+) (\[[^\]]*\] .*|exporting to image)$")
_STATUS = re.compile(r"^#(\d+) (CACHED|DONE [\d.]+s|ERROR: .*)$")
_LOG = re.compile(r"^#(\d+) \d+\.\d{3} (.*)$")


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create `files` (relative path → content) under `root`; returns `root`."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def aged_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """`write_tree`, with every entry dated a minute back: older than the stat cache's
    racy window, as a user's files are."""
    write_tree(root, files)
    old = time.time() - 60
    for path in [root, *root.rglob("*")]:
        os.utime(path, (old, old))
    return root


def build(
    daemon: Daemon, context: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`lamina build --progress=plain ARGS CONTEXT` (progress is on stderr)."""
    return daemon.lamina("build", "--progress=plain", *args, str(context), check=check)


def steps(output: str) -> dict[str, str]:
    """Each step's instruction text → CACHED, DONE or ERROR, from plain progress."""
    names: dict[str, str] = {}
    result: dict[str, str] = {}
    for line in output.splitlines():
        if found := _STEP.match(line):
            text = found.group(2)
            names[found.group(1)] = text.split("] ", 1)[1] if text.startswith("[") else text
        elif found := _STATUS.match(line):
            result[names[found.group(1)]] = found.group(2).split()[0].rstrip(":")
    return result


def logs(output: str) -> list[str]:
    """The output lines of every step, in order."""
    return [found.group(2) for line in output.splitlines() if (found := _LOG.match(line))]


def run_in(daemon: Daemon, image: str, script: str) -> list[str]:
    """Run `script` in `image` as a build step (no container API needed); its output."""
    with tempfile.TemporaryDirectory(prefix="probe-") as folder:
        dockerfile = Path(folder) / "Dockerfile"
        dockerfile.write_text(f"FROM {image}\nRUN {script}\n")
        result = build(daemon, Path(folder), "--no-cache")
    return logs(result.stderr)


def docker_legacy(
    daemon: Daemon, *args: str, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The real docker CLI with the classic builder (DOCKER_BUILDKIT=0)."""
    env = {**daemon.env, "DOCKER_BUILDKIT": "0"}
    result = subprocess.run(
        ["docker", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}:\n{result}")
    return result


def leftovers(daemon: Daemon) -> list[str]:
    """Build steps still on disk, in the layer store (their snapshots and views), or in
    the runtime (should be none between builds)."""
    found = [p.name for p in (daemon.paths.root / "build" / "steps").glob("*")]
    found += [p.name for p in (daemon.paths.root / "layers" / "active").glob("build-*")]
    runc_root = daemon.paths.run_dir / "runc"
    if runc_root.is_dir():
        listed = subprocess.run(
            ["runc", f"--root={runc_root}", "list", "-q"], capture_output=True, text=True
        ).stdout.split()
        found += [name for name in listed if name.startswith("build-")]
    with open("/proc/mounts", encoding="utf-8") as mounts:
        root = os.fspath(daemon.paths.root / "build")
        found += [line.split()[1] for line in mounts if root in line]
    return found
