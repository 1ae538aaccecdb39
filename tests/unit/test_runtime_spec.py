"""build_spec: the config.json is valid OCI and says what Docker's would."""

from __future__ import annotations

import json
import platform
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from lamina.errors import InvalidArgument
from lamina.runtime import security
from lamina.runtime.seccomp import default_seccomp, profile_from_json, seccomp_from_profile
from lamina.runtime.seccomp.default import PROFILE_FILE
from lamina.runtime.seccomp.profile_check import check_profile
from lamina.runtime.spec import (
    DEFAULT_PATH,
    DEFAULT_SYSCTLS,
    HostFacts,
    MountSpec,
    Resources,
    Rlimit,
    SpecInput,
    build_process,
    build_spec,
    process_env,
)
from tests.support.runtime_schema import validate_runtime_config

HOST = HostFacts(
    capabilities=security.CAPABILITIES,
    cgroup_unified=False,
    sysctls=frozenset(DEFAULT_SYSCTLS),
    cpus=4,
)
DOCKER_DEFAULT_CAPS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nwheel:x:10:app\n")
    return root


def build(rootfs: Path, host: HostFacts = HOST, **options: Any) -> dict[str, Any]:
    options.setdefault("seccomp", "unconfined")  # most tests are not about seccomp
    spec = build_spec(SpecInput(args=["/bin/sh"], env=[], rootfs=rootfs, **options), host=host)
    validate_runtime_config(spec)
    json.dumps(spec)  # what the caller writes must serialise
    return spec


def mount(spec: dict[str, Any], destination: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [m for m in spec["mounts"] if m["destination"] == destination]
    assert len(found) == 1, found
    return found[0]


def actions(seccomp: dict[str, Any], syscall: str) -> set[str]:
    return {rule["action"] for rule in seccomp["syscalls"] if syscall in rule["names"]}


# --- defaults -------------------------------------------------------------------------


def test_defaults_match_docker(rootfs: Path) -> None:
    spec = build(rootfs)
    caps = spec["process"]["capabilities"]
    assert caps == {
        "bounding": DOCKER_DEFAULT_CAPS,
        "effective": DOCKER_DEFAULT_CAPS,
        "permitted": DOCKER_DEFAULT_CAPS,
    }
    assert spec["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": [0]}
    assert spec["process"]["noNewPrivileges"] is False
    assert "rlimits" not in spec["process"]  # Docker 25+: inherited from the daemon
    assert spec["root"] == {"path": str(rootfs), "readonly": False}
    linux = spec["linux"]
    assert [ns["type"] for ns in linux["namespaces"]] == ["mount", "network", "uts", "pid", "ipc"]
    assert linux["maskedPaths"] == list(security.MASKED_PATHS)
    assert "/proc/kcore" in linux["maskedPaths"] and "/sys/firmware" in linux["maskedPaths"]
    assert linux["readonlyPaths"] == [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]
    assert linux["devices"] == []
    assert linux["resources"]["devices"][0] == {"allow": False, "access": "rwm"}
    assert linux["sysctl"] == dict(DEFAULT_SYSCTLS)
    assert "seccomp" not in linux and "cgroupsPath" not in linux


def test_default_mounts(rootfs: Path) -> None:
    spec = build(rootfs, shm_size=1 << 20)
    assert {m["destination"] for m in spec["mounts"]} == {
        "/proc",
        "/dev",
        "/dev/pts",
        "/sys",
        "/sys/fs/cgroup",
        "/dev/mqueue",
        "/dev/shm",
    }
    assert mount(spec, "/dev")["options"] == ["nosuid", "strictatime", "mode=755", "size=65536k"]
    assert mount(spec, "/dev/pts")["options"] == [
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
        "gid=5",
    ]
    assert "ro" in mount(spec, "/sys")["options"]
    assert mount(spec, "/sys/fs/cgroup")["type"] == "cgroup"
    assert "ro" in mount(spec, "/sys/fs/cgroup")["options"]
    assert mount(spec, "/dev/shm")["options"][-1] == "size=1048576"


def parents_first(mounts: list[dict[str, Any]]) -> bool:
    seen: list[PurePosixPath] = []
    for m in mounts:
        dest = PurePosixPath(m["destination"])
        if any(dest in s.parents for s in seen):
            return False  # a child was mounted before this parent
        seen.append(dest)
    return True


def test_mounts_put_parents_before_children(rootfs: Path) -> None:
    spec = build(
        rootfs,
        mounts=(
            MountSpec("/data/deep/er", "bind", "/srv/b", ("rbind",)),
            MountSpec("/data", "bind", "/srv/a", ("rbind",)),
            MountSpec("/dev/fuse-dir", "tmpfs", "tmpfs"),
        ),
    )
    assert parents_first(spec["mounts"])
    order = [m["destination"] for m in spec["mounts"]]
    assert order.index("/data") < order.index("/data/deep/er")
    assert order.index("/dev") < order.index("/dev/fuse-dir")


def test_user_mounts_replace_defaults(rootfs: Path) -> None:
    shm = MountSpec("/dev/shm", "tmpfs", "tmpfs", ("nosuid", "size=1g"))
    volume = MountSpec("/var/lib/data", "bind", "/var/lib/lamina/volumes/v/_data", ("rbind",))
    hosts = MountSpec("/etc/hosts", "bind", "/run/lamina/c/hosts", ("rbind", "ro"))
    spec = build(rootfs, mounts=(shm, volume, hosts))
    assert mount(spec, "/dev/shm") == {
        "destination": "/dev/shm",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "size=1g"],
    }
    assert mount(spec, "/var/lib/data")["source"] == volume.source
    assert mount(spec, "/etc/hosts")["options"] == ["rbind", "ro"]


def test_user_dev_mount_replaces_everything_under_dev(rootfs: Path) -> None:
    spec = build(rootfs, mounts=(MountSpec("/dev", "bind", "/dev", ("rbind",)),))
    assert [m["destination"] for m in spec["mounts"] if m["destination"].startswith("/dev")] == [
        "/dev"
    ]


def test_mount_errors(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument, match="absolute"):
        build(rootfs, mounts=(MountSpec("data", "bind", "/srv"),))
    with pytest.raises(InvalidArgument, match="Duplicate mount point: /data"):
        build(rootfs, mounts=(MountSpec("/data", "bind", "/a"), MountSpec("/data/", "bind", "/b")))


def test_shared_bind_makes_rootfs_propagation_shared(rootfs: Path) -> None:
    spec = build(rootfs, mounts=(MountSpec("/m", "bind", "/srv", ("rbind", "rshared")),))
    assert spec["linux"]["rootfsPropagation"] == "shared"


# --- privileges -----------------------------------------------------------------------


def test_privileged(rootfs: Path) -> None:
    host = HostFacts(security.CAPABILITIES[:40], False, frozenset(), 2)  # lacks one cap
    spec = build(rootfs, host=host, privileged=True, seccomp="builtin")
    assert spec["process"]["capabilities"]["bounding"] == list(security.CAPABILITIES[:40])
    linux = spec["linux"]
    assert "seccomp" not in linux
    assert linux["maskedPaths"] == [] and linux["readonlyPaths"] == []
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert linux["devices"] == security.host_devices()
    assert "ro" not in mount(spec, "/sys")["options"]
    assert "ro" not in mount(spec, "/sys/fs/cgroup")["options"]


def test_host_devices_lists_device_nodes() -> None:
    devices = {d["path"]: d for d in security.host_devices()}
    if "/dev/null" in devices:
        assert devices["/dev/null"] | {"uid": 0, "gid": 0} == {
            "path": "/dev/null",
            "type": "c",
            "major": 1,
            "minor": 3,
            "fileMode": 0o666,
            "uid": 0,
            "gid": 0,
        }
    assert not any(p.startswith(("/dev/pts/", "/dev/shm/")) for p in devices)


def test_cap_add_and_drop(rootfs: Path) -> None:
    spec = build(rootfs, cap_add=("NET_ADMIN", "cap_sys_ptrace"), cap_drop=("CAP_CHOWN", "mknod"))
    bounding = spec["process"]["capabilities"]["bounding"]
    assert "CAP_NET_ADMIN" in bounding and "CAP_SYS_PTRACE" in bounding
    assert "CAP_CHOWN" not in bounding and "CAP_MKNOD" not in bounding
    assert len(bounding) == 14


def test_cap_add_all_and_drop_all() -> None:
    every = security.CAPABILITIES
    assert security.capabilities(privileged=False, add=["ALL"], drop=[], available=every) == list(
        every
    )
    all_but = security.capabilities(privileged=False, add=["all"], drop=["KILL"], available=every)
    assert "CAP_KILL" not in all_but and len(all_but) == len(every) - 1
    only = security.capabilities(
        privileged=False, add=["CHOWN", "NET_RAW"], drop=["ALL"], available=every
    )
    assert only == ["CAP_CHOWN", "CAP_NET_RAW"]
    assert security.capabilities(privileged=False, add=[], drop=["ALL"], available=every) == []


def test_unknown_capability(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument) as err:
        build(rootfs, cap_add=("FOO",))
    assert str(err.value) == 'unknown capability: "CAP_FOO"'
    with pytest.raises(InvalidArgument, match="unknown capability"):
        build(rootfs, cap_drop=("CAP_BAR",))


def test_capability_the_host_cannot_grant(rootfs: Path) -> None:
    host = HostFacts(security.DEFAULT_CAPABILITIES, False, frozenset(), 1)
    with pytest.raises(InvalidArgument, match="not available in the current environment"):
        build(rootfs, host=host, cap_add=("SYS_ADMIN",))
    build(rootfs, host=host, cap_drop=("SYS_ADMIN",))  # dropping it is harmless


def test_non_root_user_gets_capabilities_in_bounding_only(rootfs: Path) -> None:
    spec = build(rootfs, user="app")
    assert spec["process"]["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 10]}
    assert spec["process"]["capabilities"] == {"bounding": DOCKER_DEFAULT_CAPS}


def test_unknown_user(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument, match="unable to find user ghost"):
        build(rootfs, user="ghost")


def test_no_new_privileges(rootfs: Path) -> None:
    assert build(rootfs, no_new_privileges=True)["process"]["noNewPrivileges"] is True


def test_readonly_rootfs(rootfs: Path) -> None:
    spec = build(rootfs, readonly_rootfs=True, mounts=(MountSpec("/data", "bind", "/srv"),))
    assert spec["root"]["readonly"] is True
    assert "ro" in mount(spec, "/sys")["options"]
    for writable in ("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/data"):
        assert "ro" not in mount(spec, writable)["options"], writable


# --- resources, namespaces, process ---------------------------------------------------


def test_resources(rootfs: Path) -> None:
    resources = Resources(
        memory=64 << 20,
        memory_swap=128 << 20,
        nano_cpus=1_500_000_000,
        cpu_shares=512,
        pids_limit=100,
    )
    res = build(rootfs, resources=resources, cgroups_path="/lamina/abc")["linux"]["resources"]
    assert res["memory"] == {"limit": 64 << 20, "swap": 128 << 20}
    assert res["cpu"] == {"shares": 512, "quota": 150_000, "period": 100_000}
    assert res["pids"] == {"limit": 100}
    unlimited = build(rootfs, resources=Resources(pids_limit=0, memory_swap=-1, memory=8 << 20))
    assert unlimited["linux"]["resources"]["pids"] == {"limit": -1}
    assert unlimited["linux"]["resources"]["memory"] == {"limit": 8 << 20, "swap": -1}


def test_cgroups_path(rootfs: Path) -> None:
    assert build(rootfs, cgroups_path="/lamina/abc")["linux"]["cgroupsPath"] == "/lamina/abc"


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (Resources(memory=1 << 20), "Minimum memory limit allowed is 6MB"),
        (Resources(memory_swap=1 << 30), "always set the Memory limit"),
        (Resources(memory=64 << 20, memory_swap=32 << 20), "larger than memory limit"),
        (Resources(nano_cpus=5_000_000_000), "Range of CPUs is from 0.01 to 4.00"),
        (Resources(cpu_shares=-2), "invalid CPU shares"),
    ],
)
def test_resource_errors(rootfs: Path, resources: Resources, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        build(rootfs, resources=resources)


def test_netns_path_and_host_network(rootfs: Path) -> None:
    spec = build(rootfs, netns="/run/lamina/netns/abc")
    assert {"type": "network", "path": "/run/lamina/netns/abc"} in spec["linux"]["namespaces"]
    host = build(rootfs, host_network=True, sysctls={"kernel.msgmax": "1"})
    assert "network" not in [ns["type"] for ns in host["linux"]["namespaces"]]
    assert host["linux"]["sysctl"] == {"kernel.msgmax": "1"}  # no net.* in the host's netns


def test_cgroup_namespace_only_on_unified_hierarchy(rootfs: Path) -> None:
    v2 = HostFacts(security.CAPABILITIES, True, frozenset(), 4)
    assert {"type": "cgroup"} in build(rootfs, host=v2)["linux"]["namespaces"]
    assert {"type": "cgroup"} not in build(rootfs)["linux"]["namespaces"]


def test_init_wraps_the_command(rootfs: Path) -> None:
    spec = build(rootfs, init="/usr/bin/tini-static")
    assert spec["process"]["args"] == ["/sbin/docker-init", "--", "/bin/sh"]
    assert mount(spec, "/sbin/docker-init") == {
        "destination": "/sbin/docker-init",
        "type": "bind",
        "source": "/usr/bin/tini-static",
        "options": ["bind", "ro"],
    }


def test_process_details(rootfs: Path) -> None:
    spec = build(
        rootfs,
        hostname="c1",
        terminal=True,
        cwd="/srv",
        oom_score_adj=500,
        annotations={"org.lamina.id": "abc"},
        rlimits=(Rlimit("nofile", 1024, 4096),),
    )
    process = spec["process"]
    assert spec["hostname"] == "c1" and spec["annotations"] == {"org.lamina.id": "abc"}
    assert process["terminal"] is True and process["cwd"] == "/srv"
    assert process["oomScoreAdj"] == 500
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096}]
    assert "TERM=xterm" in process["env"] and "HOSTNAME=c1" in process["env"]


def test_build_process_for_exec(rootfs: Path) -> None:
    inp = SpecInput(args=["ls"], env=["A=1"], rootfs=rootfs, user="app", cwd="/tmp")
    process = build_process(inp, host=HOST)
    assert process["args"] == ["ls"] and process["cwd"] == "/tmp"
    assert process["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 10]}
    assert process["capabilities"] == {"bounding": DOCKER_DEFAULT_CAPS}
    assert process["env"] == [f"PATH={DEFAULT_PATH}", "A=1"]


def test_process_env_overrides_and_unsets() -> None:
    env = process_env(["PATH=/bin", "A=1", "HOSTNAME", "B=x=y"], hostname="h", terminal=False)
    assert env == ["PATH=/bin", "A=1", "B=x=y"]


def test_process_errors(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument, match="no command specified"):
        build_spec(SpecInput(args=[], env=[], rootfs=rootfs, seccomp="unconfined"), host=HOST)
    with pytest.raises(InvalidArgument, match="absolute path"):
        build(rootfs, cwd="srv")
    with pytest.raises(InvalidArgument, match="soft limit"):
        build(rootfs, rlimits=(Rlimit("nofile", 10, 5),))


# --- seccomp --------------------------------------------------------------------------


def test_default_seccomp(rootfs: Path) -> None:
    # The profile's own expectations are tests/unit/test_seccomp_default.py; here, that
    # build_spec applies it by default and for the container's capabilities.
    seccomp = build(rootfs, seccomp="builtin")["linux"]["seccomp"]
    assert seccomp == default_seccomp(DOCKER_DEFAULT_CAPS)
    assert build(rootfs, seccomp="unconfined")["linux"].get("seccomp") is None
    default = build_spec(SpecInput(args=["/bin/sh"], env=[], rootfs=rootfs), host=HOST)
    assert default["linux"]["seccomp"] == seccomp
    if platform.machine() == "x86_64":
        assert seccomp["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        assert actions(seccomp, "arch_prctl") == {"SCMP_ACT_ALLOW"}
    assert all("includes" not in r and "comment" not in r for r in seccomp["syscalls"])


def test_seccomp_follows_capabilities(rootfs: Path) -> None:
    default = build(rootfs, seccomp="builtin")["linux"]["seccomp"]
    traced = build(rootfs, seccomp="builtin", cap_add=("SYS_PTRACE",))["linux"]["seccomp"]
    for syscall in ("kcmp", "process_madvise"):
        assert actions(default, syscall) == set()  # the default action: EPERM
        assert actions(traced, syscall) == {"SCMP_ACT_ALLOW"}
    admin = build(rootfs, seccomp="builtin", cap_add=("SYS_ADMIN",))["linux"]["seccomp"]
    assert actions(admin, "mount") == {"SCMP_ACT_ALLOW"}
    assert actions(default, "mount") == set()
    dropped = build(rootfs, seccomp="builtin", cap_drop=("SYS_CHROOT",))["linux"]["seccomp"]
    assert actions(default, "chroot") == {"SCMP_ACT_ALLOW"}
    assert actions(dropped, "chroot") == set()


PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    ],
    "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}],
        },
        {"name": "arch_prctl", "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
        {
            "names": ["clone3"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 38,
            "excludes": {"caps": ["CAP_SYS_ADMIN"], "minKernel": "5.3"},
        },
        {"names": ["newfeature"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "9.1"}},
    ],
}


def test_profile_conversion_for_arch_kernel_and_caps() -> None:
    def convert(machine: str, kernel: tuple[int, int], caps: list[str]) -> dict[str, Any]:
        out = seccomp_from_profile(PROFILE, caps, machine=machine, kernel=kernel)
        assert out is not None
        return out

    amd64 = convert("x86_64", (5, 2), [])
    assert amd64["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
    assert amd64["defaultErrnoRet"] == 1
    assert [r["names"] for r in amd64["syscalls"]] == [
        ["read", "write"],
        ["personality"],
        ["arch_prctl"],
        ["clone3"],
    ]
    assert amd64["syscalls"][1]["args"] == [
        {"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
    ]
    assert amd64["syscalls"][3] == {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
    arm64 = convert("aarch64", (9, 1), ["CAP_SYS_ADMIN"])
    assert arm64["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert [r["names"] for r in arm64["syscalls"]] == [
        ["read", "write"],
        ["personality"],
        ["newfeature"],
    ]
    assert [r["names"] for r in convert("x86_64", (5, 3), [])["syscalls"]][-1] == ["arch_prctl"]


def test_kernel_versions_read_as_moby_reads_them() -> None:
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.3-rc1"}},
        {"names": ["b"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.4.1"}},
    ]}  # fmt: skip
    out = seccomp_from_profile(profile, [], machine="x86_64", kernel=(5, 3))
    assert out is not None and [r["names"] for r in out["syscalls"]] == [["a"]]
    bad = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "five"}},
    ]}  # fmt: skip
    with pytest.raises(InvalidArgument, match="invalid kernel version"):
        seccomp_from_profile(bad, [], machine="x86_64", kernel=(5, 3))


def test_profile_from_file_and_inline_json(rootfs: Path, tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(PROFILE))
    from_file = build(rootfs, seccomp=str(path))["linux"]["seccomp"]
    inline = build(rootfs, seccomp=profile_from_json(json.dumps(PROFILE)))["linux"]["seccomp"]
    assert from_file == inline and from_file["defaultAction"] == "SCMP_ACT_ERRNO"
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    assert "seccomp" not in build(rootfs, seccomp=str(empty))["linux"]  # as Docker: no filter


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "decoding seccomp profile .*failed"),
        ("[1, 2]", "not a JSON object"),
        (
            '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}',
            "needs 'names'",
        ),
        (
            '{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],'
            ' "archMap": [{"architecture": "SCMP_ARCH_X86"}]}',
            "both specified",
        ),
        (
            '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],'
            ' "action": "SCMP_ACT_ALLOW", "args": [{"index": 0}]}]}',
            r"syscalls\[0\]\.args\[0\]\.op: must be one of",
        ),
        # Right in structure, wrong in value: each would fail only when runc loads it.
        ('{"defaultAction": 5}', "defaultAction: must be one of SCMP_ACT_ALLOW, .*not 5"),
        ('{"defaultAction": "SCMP_ACT_MAYBE"}', "defaultAction: must be one of"),
        ('{"defaultAction": []}', "defaultAction: must be one of"),
        (
            '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": "read",'
            ' "action": "SCMP_ACT_ALLOW"}]}',
            r"syscalls\[0\]\.names: must be an array, not \"read\"",
        ),
        (
            '{"syscalls": [{"names": ["read", 1], "action": "SCMP_ACT_ALLOW"}]}',
            r"syscalls\[0\]\.names\[1\]: must be a string",
        ),
        (
            '{"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": -1}]}',
            r"errnoRet: must be an integer from 0 to 4294967295",
        ),
        (
            '{"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",'
            ' "args": [{"index": 6, "op": "SCMP_CMP_EQ"}]}]}',
            r"args\[0\]\.index: must be an integer from 0 to 5",
        ),
        (
            '{"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",'
            ' "excludes": {"caps": "CAP_SYS_ADMIN"}}]}',
            r"excludes\.caps: must be an array",
        ),
        ('{"syscalls": [{"names": ["read"]}]}', r"syscalls\[0\]\.action: must be one of"),
        ('{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["X"]}', r"flags\[0\]: must be one of"),
        ('{"archMap": [{"architecture": 1}]}', r"archMap\[0\]\.architecture: must be a string"),
    ],
)
def test_bad_seccomp_profile(rootfs: Path, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InvalidArgument, match=message):
        build(rootfs, seccomp=str(path))


def test_dockers_default_profile_passes_the_checks_users_get() -> None:
    check_profile(json.loads(PROFILE_FILE.read_text()))
    check_profile(PROFILE)


def test_missing_seccomp_file(rootfs: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="opening seccomp profile"):
        build(rootfs, seccomp=str(tmp_path / "missing.json"))


def test_invalid_spec_is_caught_by_the_schema(rootfs: Path) -> None:
    spec = build(rootfs)
    spec["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_MAYBE"}
    with pytest.raises(Exception, match="SCMP_ACT_MAYBE"):
        validate_runtime_config(spec)
