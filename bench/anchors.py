"""Anchors for side-by-side benchmarks: a private lamina daemon and a private dockerd.

Both get their own root, socket and state, and are stopped and removed afterwards.
dockerd runs without iptables or a bridge (nothing on the host changes); containers
on it use `--network none`, as lamina's do until networks exist. Its busybox image is
lamina's bootstrap root filesystem, imported, so both run the same binary.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = str(REPO / ".venv" / "bin" / "python")
LAMINA = [str(REPO / ".venv" / "bin" / "lamina")]  # the command users type
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DOCKER = "/usr/local/bin/docker" if Path("/usr/local/bin/docker").exists() else "docker"


def median_ms(action: Callable[[], object], runs: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def run(cmd: list[str], env: dict[str, str] | None = None, **kw: object) -> str:
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    return str(out.stdout)


def remove_containers(cli: Sequence[str], env: dict[str, str]) -> None:
    """`rm -f` every container the engine behind `cli` knows; quiet if it cannot."""
    with contextlib.suppress(Exception):
        ids = run([*cli, "ps", "-aq"], env).split()
        if ids:
            subprocess.run([*cli, "rm", "-f", *ids], env=env, capture_output=True)


def compile_lamina(tree: Path = REPO) -> None:
    """Bytecode as `make setup` leaves it: with PYTHONDONTWRITEBYTECODE set, a module
    edited since would be compiled anew by every command we time."""
    python = str(tree / ".venv" / "bin" / "python")
    subprocess.run([python, "-m", "compileall", "-q", str(tree / "lamina")], check=True)


def lamina_cli(tree: Path = REPO) -> list[str]:
    """The `lamina` command of a checkout (its own .venv, made by `make setup`)."""
    return [str(tree / ".venv" / "bin" / "lamina")]


@contextlib.contextmanager
def lamina_daemon(base: Path | None = None, *, tree: Path = REPO) -> Iterator[dict[str, str]]:
    """A private lamina daemon with busybox bootstrapped; yields the environment that
    points commands at it. `base` (default: a new temp dir, removed after) holds its
    root, socket and log; the log's tail is printed if the daemon dies. `tree` is the
    checkout whose lamina runs (another one for a before/after comparison)."""
    compile_lamina(tree)
    cli = lamina_cli(tree)
    own = base is None
    base = base or Path(tempfile.mkdtemp(prefix="lam-bench-", dir="/tmp"))
    (base / "root").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "LAMINA_ROOT": str(base / "root"),
        "LAMINA_NO_AUTOSTART": "1",
        "LAMINA_HOST": f"unix://{base}/lamina.sock",
    }
    env["DOCKER_HOST"] = env["LAMINA_HOST"]
    with open(base / "daemon.log", "wb") as log:
        daemon = subprocess.Popen([*cli, "daemon"], env=env, stdout=log, stderr=log)
    try:
        _wait_for(base / "lamina.sock", timeout=60)
        run([*cli, "image", "bootstrap", "busybox"], env)
        yield env
    except BaseException:
        if daemon.poll() is not None:
            text = (base / "daemon.log").read_text(errors="replace")
            print(f"the lamina daemon exited ({daemon.returncode}):\n{text[-3000:]}")
        raise
    finally:
        remove_containers(cli, env)
        daemon.terminate()
        daemon.wait(timeout=60)
        from lamina.config import Paths

        remove_cgroup_parent(Paths(root=env["LAMINA_ROOT"], host=env["LAMINA_HOST"]).cgroup_parent)
        if own:
            shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def dockerd(
    busybox_tar: Path, *, iptables: bool = False, name: str = "bench", extra: Sequence[str] = ()
) -> Iterator[dict[str, str] | None]:
    """A private dockerd with busybox imported, or None when dockerd is not installed.

    Without `iptables` it changes nothing on the host; with it (the network benchmark)
    its DOCKER* chains and rules are removed afterwards. Either way the FORWARD policy
    is restored and its directories and mounts are removed.
    """
    if shutil.which("dockerd") is None:
        yield None
        return
    base = Path(tempfile.mkdtemp(prefix=f"dockerd-{name}-", dir="/tmp"))
    sock = base / "docker.sock"
    policy = _forward_policy()
    firewall = [] if iptables else ["--iptables=false"]
    with open(base / "dockerd.log", "wb") as log:
        daemon = subprocess.Popen(
            ["dockerd", "--data-root", str(base / "data"), "--exec-root", str(base / "exec"),
             "--pidfile", str(base / "docker.pid"), "--host", f"unix://{sock}",
             *firewall, "--ip6tables=false", "--bridge=none",
             "--containerd-namespace", name, "--containerd-plugins-namespace", f"{name}-p",
             *extra],
            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
        )  # fmt: skip
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(base / "cfg")}
    try:
        _wait_for(sock, timeout=60)
        run([DOCKER, "import", "--change", 'CMD ["sh"]', "--change", f"ENV PATH={_PATH}",
             str(busybox_tar), "busybox:latest"], env)  # fmt: skip
        yield env
    finally:
        remove_containers([DOCKER], env)
        daemon.terminate()
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        unmount_below(base)
        shutil.rmtree(base, ignore_errors=True)
        if iptables:
            remove_docker_rules()
        _restore_forward_policy(policy)


def remove_cgroup_parent(name: str) -> None:
    """runc leaves the parent cgroup it made for its containers: remove it where empty."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        with contextlib.suppress(OSError):
            (hierarchy / name.strip("/")).rmdir()


def unmount_below(root: Path) -> None:
    with open("/proc/mounts", encoding="utf-8") as f:
        points = [line.split()[1] for line in f]
    for point in reversed(points):
        if point.startswith(f"{root}/"):
            subprocess.run(["umount", "-l", point], capture_output=True)


def remove_docker_rules() -> None:
    """dockerd leaves its chains behind when it stops: delete the jumps to them from
    the built-in chains, then the DOCKER* chains, in every table it uses. Nothing else
    is touched (other daemons' rules stay)."""
    for table in ("filter", "nat", "raw", "mangle"):
        lines = subprocess.run(
            ["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True
        ).stdout.splitlines()
        for line in lines:
            words = line.split()
            if line.startswith("-A ") and not words[1].startswith("DOCKER") and "DOCKER" in line:
                subprocess.run(
                    ["iptables", "-w", "-t", table, "-D", *words[1:]], capture_output=True
                )
        chains = [line.split()[1] for line in lines if line.startswith("-N DOCKER")]
        for flag in ("-F", "-X"):
            for chain in chains:
                subprocess.run(["iptables", "-w", "-t", table, flag, chain], capture_output=True)


def busybox_tar(dest: Path) -> Path:
    """The root filesystem lamina's busybox image is made of, as a tar."""
    from lamina.images.bootstrap import BUSYBOX, busybox_rootfs_tar

    dest.write_bytes(busybox_rootfs_tar(int(BUSYBOX.stat().st_mtime)))
    return dest


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pids_matching(needle: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if needle.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
    return found


def _wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear")
        time.sleep(0.05)
    time.sleep(0.2)


def _forward_policy() -> str:
    out = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True)
    first = out.stdout.splitlines()[0] if out.stdout else ""
    return first.split()[-1] if first.startswith("-P FORWARD") else ""


def _restore_forward_policy(policy: str) -> None:
    if policy and policy != _forward_policy():
        subprocess.run(["iptables", "-P", "FORWARD", policy], capture_output=True)
