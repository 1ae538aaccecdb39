"""The syscall probe (syscall_probe.c), built static so it runs in any container."""

from __future__ import annotations

import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("syscall_probe.c")


def build_probe(directory: Path) -> Path:
    """Compile the probe into `directory` (gcc and libc6-dev: the Makefile installs them)."""
    binary = directory / "syscall-probe"
    command = ["gcc", "-static", "-O1", "-Wall", "-Werror", "-o", str(binary), str(SOURCE)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"building the syscall probe failed:\n{result.stderr}"
    return binary


def results(stdout: str) -> dict[str, str]:
    """The probe's lines as {call: "OK" or an errno name}."""
    return dict(line.split(" ", 1) for line in stdout.splitlines() if " " in line)
