"""A default container is confined as Docker confines one: each escape issue 9 found is
denied with EPERM from inside, and the ways out a user asks for (a capability, another
profile, unconfined, --privileged) open exactly what Docker opens.

The syscall probe (tests/support/syscall_probe.c) makes each call with arguments that
fail harmlessly with an errno of their own where the call is allowed, so EPERM can only
come from the seccomp filter.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.runtime.seccomp.default import PROFILE_FILE
from tests.conftest import Daemon
from tests.support.syscall_probe import build_probe, results

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("runc") is None, reason="needs root and runc"
    ),
]

# Issue 9's list: a default container gets EPERM for each (clone3 ENOSYS, as Docker).
ESCAPES = [
    "clone-newuser", "unshare-newuser", "keyctl", "add_key", "request_key", "socket-vsock",
    "socket-alg", "mount", "umount2", "setns", "pivot_root", "fsopen", "fsmount", "fsconfig",
    "open_tree", "mount_setattr",
]  # fmt: skip
ORDINARY = ["clone", "socket-inet", "socket-unix"]
USERNS_MOUNT = "unshare -Urm sh -c 'mount -t tmpfs none /tmp && echo mounted'"


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield build_probe(tmp_path_factory.mktemp("probe"))


def run_probe(daemon: Daemon, probe: Path, *options: str, cli: str = "lamina") -> dict[str, str]:
    run = daemon.lamina if cli == "lamina" else daemon.docker
    argv = ["run", "--rm", "--network", "none", "-v", f"{probe}:/probe:ro", *options]
    out = run(*argv, "busybox", "/probe", *ESCAPES, "clone3", *ORDINARY).stdout
    found = results(out)
    assert [found[c] for c in ORDINARY] == ["OK"] * len(ORDINARY), found
    return found


def userns_mount(daemon: Daemon, *options: str) -> tuple[int, str]:
    argv = ["run", "--rm", "--network", "none", *options, "busybox", "sh", "-c", USERNS_MOUNT]
    result = daemon.lamina(*argv, check=False)
    return result.returncode, result.stdout + result.stderr


def userns_allowed() -> bool:
    """Whether this kernel lets root make user namespaces at all."""
    return int(Path("/proc/sys/user/max_user_namespaces").read_text()) > 0


def test_default_container_gets_eperm_for_every_escape(
    daemon: Daemon, busybox: str, probe: Path
) -> None:
    found = run_probe(daemon, probe)
    assert {c: found[c] for c in ESCAPES} == dict.fromkeys(ESCAPES, "EPERM")
    assert found["clone3"] == "ENOSYS"  # so libc falls back to clone, whose flags we see
    code, out = userns_mount(daemon)
    assert code != 0 and "Operation not permitted" in out and "mounted" not in out
    plain = daemon.lamina("run", "--rm", "busybox", "unshare", "-U", "true", check=False)
    assert plain.returncode != 0 and "Operation not permitted" in plain.stderr
    info = json.loads(daemon.docker("info", "--format", "{{json .SecurityOptions}}").stdout)
    cgroup_v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()  # private cgroupns
    assert info == ["name=seccomp,profile=builtin", *(["name=cgroupns"] if cgroup_v2 else [])]


def test_sys_admin_opens_what_dockers_profile_opens(
    daemon: Daemon, busybox: str, probe: Path
) -> None:
    found = run_probe(daemon, probe, "--cap-add", "SYS_ADMIN")
    # Allowed with the capability: each fails with its own errno, not the filter's.
    assert {c: found[c] for c in ("mount", "umount2", "setns", "fsopen", "open_tree")} == {
        "mount": "EFAULT",
        "umount2": "EINVAL",
        "setns": "EBADF",
        "fsopen": "EINVAL",
        "open_tree": "EINVAL",
    }
    assert found["fsmount"] == "EINVAL" and found["clone3"] == "OK"
    # Never allowed by Docker's profile, capability or not.
    never = ("pivot_root", "keyctl", "add_key", "request_key", "socket-vsock", "socket-alg")
    assert {c: found[c] for c in never} == dict.fromkeys(never, "EPERM")
    if userns_allowed():
        assert found["unshare-newuser"] == "OK" and found["clone-newuser"] == "OK"
        assert userns_mount(daemon, "--cap-add", "SYS_ADMIN") == (0, "mounted\n")


def test_unconfined_and_privileged_lift_the_filter(
    daemon: Daemon, busybox: str, probe: Path
) -> None:
    found = run_probe(daemon, probe, "--security-opt", "seccomp=unconfined")
    # The filter's EPERMs are gone; what is left is the kernel's own answer.
    assert {c: found[c] for c in ("add_key", "mount", "setns", "open_tree", "clone3")} == {
        "add_key": "EFAULT",
        "mount": "EFAULT",
        "setns": "EBADF",
        "open_tree": "EINVAL",
        "clone3": "OK",
    }
    assert found["socket-vsock"] != "EPERM"
    assert found["pivot_root"] == "EPERM"  # no CAP_SYS_ADMIN: the kernel's refusal
    privileged = run_probe(daemon, probe, "--privileged")
    assert privileged["pivot_root"] == "EFAULT" and privileged["keyctl"] == "OK"
    if userns_allowed():
        assert found["unshare-newuser"] == "OK"
        assert userns_mount(daemon, "--security-opt", "seccomp=unconfined") == (0, "mounted\n")
        assert userns_mount(daemon, "--privileged") == (0, "mounted\n")


def test_profile_files_through_lamina_and_docker_clis(
    daemon: Daemon, busybox: str, probe: Path, tmp_path: Path
) -> None:
    # A profile that only refuses keyctl, with an errno of its own: proof it is the one
    # applied, not the default nor none.
    custom = tmp_path / "only-keyctl.json"
    custom.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}))  # fmt: skip
    for cli in ("lamina", "docker"):
        found = run_probe(daemon, probe, "--security-opt", f"seccomp={custom}", cli=cli)
        assert (found["keyctl"], found["add_key"]) == ("EACCES", "EFAULT"), cli
    # lamina's default profile, copied out as a user would start their own from it.
    found = run_probe(daemon, probe, "--security-opt", f"seccomp={PROFILE_FILE}", cli="docker")
    assert {c: found[c] for c in ESCAPES} == dict.fromkeys(ESCAPES, "EPERM")
    # A profile the daemon cannot use: a clear error from either CLI, nothing left over.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{}]}))
    for run in (daemon.lamina, daemon.docker):
        failed = run("run", "--rm", "--security-opt", f"seccomp={bad}", "busybox", "true",
                     check=False)  # fmt: skip
        assert failed.returncode == 125 and "syscalls[0].action: must be one of" in failed.stderr
    assert daemon.lamina("ps", "-aq").stdout == ""
