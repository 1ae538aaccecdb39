"""Every create field is accounted for (spec ↔ code table ↔ docs), and how the refused,
checked and applied ones come out, without root."""

from __future__ import annotations

import json
import re
import time
from functools import cache
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
import yaml

from lamina.api.body_shapes import SHAPES
from lamina.api.shapes import check_body
from lamina.containers import bundle, devices, hostopts, options
from lamina.containers.create import check_platform, merge_config, parse_platform
from lamina.containers.etcfiles import Resolv, resolv_text
from lamina.containers.model import Container
from lamina.containers.spec import ContainerSpec
from lamina.errors import InvalidArgument
from lamina.networks.legacy_links import link_env
from lamina.networks.model import Driver, EndpointConfig, Member, Network
from lamina.networks.names import NameTable
from lamina.runtime import resources, securityopts
from lamina.runtime.resources import Resources
from lamina.runtime.spec import DEFAULT_SYSCTLS, HostFacts, Rlimit, SpecInput, build_spec
from tests.conftest import REPO, SHARED
from tests.support.runtime_schema import validate_runtime_config

SPEC = SHARED / "specs" / "docker-engine-api-v1.45.yaml"
DOCS = REPO / "docs" / "container-options.md"
TABLES = {
    "ContainerConfig": options.CONTAINER_CONFIG,
    "HostConfig": options.HOST_CONFIG,
    "EndpointSettings": options.ENDPOINT_SETTINGS,
}
HOST = HostFacts(capabilities=(), cgroup_unified=False, sysctls=frozenset(DEFAULT_SYSCTLS), cpus=2)
# What the docker CLI 28 sends for `docker create busybox true` (all defaults).
DOCKER_CLI_DEFAULTS: dict[str, Any] = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "Env": None,
    "Cmd": ["true"], "Image": "busybox", "Volumes": {}, "Entrypoint": None, "OnBuild": None,
    "Labels": {},
    "HostConfig": {
        "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}},
        "NetworkMode": "default", "PortBindings": {}, "VolumeDriver": "", "VolumesFrom": None,
        "ConsoleSize": [0, 0], "CgroupnsMode": "", "Dns": [], "IpcMode": "", "Cgroup": "",
        "OomScoreAdj": 0, "PidMode": "", "UTSMode": "", "UsernsMode": "", "ShmSize": 0,
        "Isolation": "", "CpuShares": 0, "CgroupParent": "", "BlkioWeight": 0,
        "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "CpuRealtimePeriod": 0,
        "DeviceRequests": None, "MemorySwappiness": -1, "OomKillDisable": False,
        "PidsLimit": 0, "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0, "KernelMemoryTCP": 0, "MaskedPaths": None,
    },
    "NetworkingConfig": {
        "EndpointsConfig": {
            "default": {"IPAMConfig": None, "MacAddress": "", "DriverOpts": None, "GwPriority": 0}
        }
    },
}  # fmt: skip


def refuse_unhonoured(body: dict[str, Any]) -> None:
    """options.refuse_unhonoured of the spec the API would decode `body` into."""
    options.refuse_unhonoured(ContainerSpec.from_body(body))


@cache
def _definitions() -> dict[str, Any]:
    return dict(yaml.safe_load(SPEC.read_text())["definitions"])


def spec_fields(name: str) -> set[str]:
    """A definition's properties, with those of the definitions it includes (allOf)."""
    definition = _definitions()[name]
    fields = set(definition.get("properties") or {})
    for part in definition.get("allOf") or []:
        if "$ref" in part:
            fields |= spec_fields(part["$ref"].rsplit("/", 1)[-1])
        fields |= set(part.get("properties") or {})
    return fields


def docs_rows() -> dict[str, dict[str, str]]:
    """{section: {field: how}} from the tables of docs/container-options.md."""
    rows: dict[str, dict[str, str]] = {}
    section = ""
    for line in DOCS.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        match = re.match(r"^\| `(\w+)` \| (\w+) \|", line)
        if match and section in TABLES:
            rows.setdefault(section, {})[match[1]] = match[2]
    return rows


@pytest.mark.parametrize("definition", sorted(TABLES))
def test_every_spec_field_is_in_the_code_table_and_the_docs(definition: str) -> None:
    fields = spec_fields(definition)
    assert "Ulimits" in fields or definition != "HostConfig"  # Resources' fields count too
    table = TABLES[definition]
    assert sorted(fields - set(table)) == [], "fields the code table does not handle"
    assert sorted(set(table) - fields) == [], "code table entries the spec does not define"
    documented = docs_rows().get(definition, {})
    assert sorted(fields - set(documented)) == [], "fields docs/container-options.md misses"
    assert {f: str(table[f].how) for f in fields} == {f: documented[f] for f in fields}


def test_docker_cli_defaults_are_accepted_and_refusals_name_the_field() -> None:
    refuse_unhonoured(DOCKER_CLI_DEFAULTS)
    gpus = {"HostConfig": {"DeviceRequests": [{"Count": -1, "Capabilities": [["gpu"]]}]}}
    with pytest.raises(InvalidArgument, match=r"^HostConfig\.DeviceRequests is not supported"):
        refuse_unhonoured(gpus)
    with pytest.raises(InvalidArgument, match="MemorySwappiness"):
        refuse_unhonoured({"HostConfig": {"MemorySwappiness": 10}})
    with pytest.raises(InvalidArgument, match=r"EndpointsConfig\.n\.DriverOpts"):
        refuse_unhonoured(
            {"NetworkingConfig": {"EndpointsConfig": {"n": {"DriverOpts": {"a": "b"}}}}}
        )
    refuse_unhonoured({"Healthcheck": {"Test": ["NONE"]}, "HostConfig": {}})
    with pytest.raises(InvalidArgument, match=r"^Healthcheck"):
        refuse_unhonoured({"Healthcheck": {"Test": ["CMD", "true"]}})


def test_host_option_checks_use_dockers_messages() -> None:
    cases = {
        'sysctl "vm.swappiness" is not in a separate kernel namespace': {
            "Sysctls": {"vm.swappiness": "1"}
        },
        'sysctl "net.ipv4.ip_forward" not allowed in host network namespace': {
            "NetworkMode": "host",
            "Sysctls": {"net.ipv4.ip_forward": "1"},
        },
        "ulimit soft limit must be less than hard limit: 5 > 1": {
            "Ulimits": [{"Name": "nofile", "Soft": 5, "Hard": 1}]
        },
        "invalid PID mode: bogus": {"PidMode": "bogus"},
        "IpcMode container:<name> is not supported": {"IpcMode": "container:x"},
        'invalid IP address in add-host: "nope"': {"ExtraHosts": ["h:nope"]},
        "conflicting options: host type networking can't be used with links": {
            "NetworkMode": "host",
            "Links": ["a:b"],
        },
        "invalid device cgroup rule format: 'c 1:x rwm'": {"DeviceCgroupRules": ["c 1:x rwm"]},
        "Conflicting options: Nano CPUs and CPU Quota cannot both be set": {
            "NanoCpus": 10**9,
            "CpuQuota": 5000,
        },
        "Invalid value 0-x for cpuset cpus": {"CpusetCpus": "0-x"},
        "Minimum memory reservation allowed is 6MB": {"MemoryReservation": 1024},
        "unknown or invalid runtime name: kata": {"Runtime": "kata"},
        "invalid --security-opt 2": {"SecurityOpt": ["bogus=1"]},
        'invalid CapAdd: unknown capability: "CAP_"': {"CapAdd": [""]},
        'invalid CapDrop: unknown capability: "CAP_FOO"': {"CapDrop": ["chown", "foo"]},
        "the empty string is not permitted as an annotation key": {"Annotations": {"": "x"}},
        "conflicting options: dns and the network mode": {
            "NetworkMode": "container:x",
            "Dns": ["192.0.2.1"],
        },
    }
    for message, hc in cases.items():
        with pytest.raises(InvalidArgument) as err:
            hostopts.check({}, hc, runtime="runc")
        assert message in str(err.value)
    hostopts.check(
        {}, {"Sysctls": {"kernel.shmmax": "1", "net.core.somaxconn": "8"}}, runtime="runc"
    )
    assert hostopts.links({"Links": ["/web:/app/db", "cache"]}) == [
        ("web", "db"),
        ("cache", "cache"),
    ]
    unlimited = {"Ulimits": [{"Name": "core", "Soft": -1, "Hard": -1}]}
    assert hostopts.ulimits(unlimited) == (Rlimit("core", 2**64 - 1, 2**64 - 1),)
    assert hostopts.volumes_from({"VolumesFrom": ["a:ro", "b"]}) == [("a", "ro"), ("b", "rw")]


def test_types_are_the_api_edges_and_values_the_domains() -> None:
    """One type authority: the spec's shapes, checked at the edge before create reads a
    field, cover every field the domain reads; hostopts checks only values."""
    shapes = {"ContainerConfig": "ContainerCreate", "HostConfig": "HostConfig"}
    for definition, shape in shapes.items():
        assert set(TABLES[definition]) <= set(SHAPES[shape]), definition
    assert set(options.ENDPOINT_SETTINGS) == set(SHAPES["EndpointSettings"])
    refused = {
        "HostConfig.Memory: must be an integer": {"Memory": "lots"},
        "HostConfig.Sysctls: must be an object": {"Sysctls": ["a=b"]},
        "HostConfig.Ulimits[0].Soft: must be an integer": {"Ulimits": [{"Soft": "x"}]},
        "HostConfig.Devices[0].PathOnHost: must be a string": {"Devices": [{"PathOnHost": 1}]},
        "HostConfig.CapAdd: must be an array": {"CapAdd": "ALL"},
    }
    for message, hc in refused.items():
        with pytest.raises(InvalidArgument, match=re.escape(message)):
            check_body({"Image": "busybox", "HostConfig": hc}, "ContainerCreate")
    with pytest.raises(InvalidArgument, match=r"^Cmd: must be a string or an array of strings"):
        check_body({"Image": "busybox", "Cmd": [1]}, "ContainerCreate")


def test_cpusets_are_compared_as_ranges_never_expanded() -> None:
    def refusal(cpus: str = "", mems: str = "") -> str:
        try:
            resources.check(
                Resources(cpuset_cpus=cpus, cpuset_mems=mems),
                cpus=4,
                cpu_list="0-1,3",
                mem_list="0",
            )
        except InvalidArgument as err:
            return str(err)
        return ""

    started = time.monotonic()
    # Four billion CPUs would be a set of four billion ints (a MemoryError, a 500): the
    # number is refused before anything is expanded, with dockerd's message.
    assert refusal("0-4000000000") == (
        "Invalid value 0-4000000000 for cpuset cpus: value of out range, maximum is 8192"
    )
    assert refusal(mems="1,0-4000000000").startswith("Invalid value 1,0-4000000000 for cpuset mems")
    assert time.monotonic() - started < 0.1
    assert [refusal(c) for c in ("0-1", "3,0-1,1", "1-1")] == ["", "", ""]
    assert refusal("0-3") == "Requested CPUs are not available - requested 0-3, available: 0-1,3"
    assert refusal("0-8192").startswith("Requested CPUs are not available")
    assert refusal(mems="1") == (
        "Requested memory nodes are not available - requested 1, available: 0"
    )
    for bad in ("2-1", "1-", "-1", "a", "0,,1", "1" * 20):
        assert refusal(bad) == f"Invalid value {bad} for cpuset cpus: invalid format: {bad}"
    assert resources.parse_ranges("0-2,5") == [(0, 2), (5, 5)]


def test_devices_and_cgroup_rules(tmp_path: Path) -> None:
    nodes, rules = devices.from_path(devices.DeviceMapping("/dev/null", "/dev/mynull", "rw"))
    assert nodes[0]["path"] == "/dev/mynull" and (nodes[0]["major"], nodes[0]["minor"]) == (1, 3)
    assert rules == [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
    with pytest.raises(InvalidArgument, match="not a device node"):
        devices.from_path(devices.DeviceMapping(str(tmp_path), "/dev/x"))
    assert devices.cgroup_rule("a *:* m")["major"] == -1


def test_legacy_link_environment_is_dockers() -> None:
    env = link_env(
        "/app/db", "172.17.0.2", ["PATH=/bin", "PASSWORD=x"], ["6379/tcp", "6380/tcp", "53/udp"]
    )
    assert env == [
        "DB_PORT=tcp://172.17.0.2:6379",
        "DB_PORT_6379_TCP=tcp://172.17.0.2:6379",
        "DB_PORT_6379_TCP_ADDR=172.17.0.2",
        "DB_PORT_6379_TCP_PORT=6379",
        "DB_PORT_6379_TCP_PROTO=tcp",
        "DB_PORT_6380_TCP=tcp://172.17.0.2:6380",
        "DB_PORT_6380_TCP_ADDR=172.17.0.2",
        "DB_PORT_6380_TCP_PORT=6380",
        "DB_PORT_6380_TCP_PROTO=tcp",
        "DB_PORT_53_UDP=udp://172.17.0.2:53",
        "DB_PORT_53_UDP_ADDR=172.17.0.2",
        "DB_PORT_53_UDP_PORT=53",
        "DB_PORT_53_UDP_PROTO=udp",
        "DB_PORT_6379_TCP_START=tcp://172.17.0.2:6379",
        "DB_PORT_6379_TCP_PORT_START=6379",
        "DB_PORT_6379_TCP_END=tcp://172.17.0.2:6380",
        "DB_PORT_6379_TCP_PORT_END=6380",
        "DB_NAME=/app/db",
        "DB_ENV_PASSWORD=x",
    ]


def test_resolv_conf_is_the_hosts_with_overrides(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp\noptions edns0\n")
    assert resolv_text(Resolv(), host) == "nameserver 10.0.0.2\nsearch corp\noptions edns0\n"
    asked = Resolv(search=("a.test",), options=("ndots:2",))
    assert resolv_text(asked, host) == "nameserver 10.0.0.2\nsearch a.test\noptions ndots:2\n"
    internal = Resolv(nameservers=("127.0.0.11",), search=(".",), internal=True)
    assert resolv_text(internal, host) == "nameserver 127.0.0.11\noptions edns0 ndots:0\n"


def test_an_images_healthcheck_is_not_claimed_by_the_container() -> None:
    image = {"Healthcheck": {"Test": ["CMD", "true"]}, "Cmd": ["sh"]}
    assert merge_config({}, image).get("Healthcheck") is None  # not run (issue #12): not shown
    disabled = {"Test": ["NONE"]}
    assert merge_config({"Healthcheck": disabled}, image)["Healthcheck"] == disabled


def test_platform_of_the_image_must_match() -> None:
    assert parse_platform("linux/arm64/v8") == ("linux", "arm64", "v8")
    assert parse_platform("x86_64") == ("linux", "amd64", "")
    check_platform("linux/amd64", "busybox", {"os": "linux", "architecture": "amd64"})
    with pytest.raises(InvalidArgument, match=r"its platform \(linux/amd64\) does not match"):
        check_platform("linux/arm64", "busybox", {"os": "linux", "architecture": "amd64"})
    with pytest.raises(InvalidArgument, match="unknown operating system or architecture"):
        parse_platform("plan9/pdp11")


def test_links_on_user_networks_are_aliases_for_the_linking_container_only() -> None:
    net = Network("n1", "app", Driver.BRIDGE, "")
    db = Member("n1", "c-db", EndpointConfig(), address=IPv4Address("10.9.0.2"), dns_names=("db",))
    linker = Member(
        "n1", "c-web", EndpointConfig(links=(("db", "store"),)),
        address=IPv4Address("10.9.0.3"), dns_names=("web",),
    )  # fmt: skip
    other = Member("n1", "c-x", EndpointConfig(), address=IPv4Address("10.9.0.4"))
    names = NameTable()
    names.rebuild([net], [db, linker, other])
    assert names.lookup("c-web", "store") == [IPv4Address("10.9.0.2")]
    assert names.lookup("c-x", "store") == []


def test_spec_carries_the_applied_options(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\nwheel:x:10:\n")
    node, rule = devices.from_path(devices.DeviceMapping("/dev/null", "/dev/n", "r"))
    inp = SpecInput(
        args=["sh"], env=[], rootfs=rootfs, seccomp="unconfined", init="/tini",
        pid_ns="host", ipc_ns="none", cgroup_ns="private", domainname="example.test",
        group_add=("wheel", "77"), devices=tuple(node), device_rules=tuple(rule),
        masked_paths=(), rlimits=(Rlimit("nofile", 10, 20),),
        resources=Resources(cpuset_cpus="0", cpu_period=50_000, cpu_quota=25_000,
                            memory=64 << 20, memory_reservation=32 << 20),
    )  # fmt: skip
    spec = build_spec(inp, host=HOST)
    validate_runtime_config(spec)
    linux = spec["linux"]
    assert [n["type"] for n in linux["namespaces"]] == ["mount", "network", "uts", "ipc", "cgroup"]
    assert spec["process"]["args"] == ["sh"]  # no --init in the host's PID namespace
    assert spec["process"]["user"]["additionalGids"] == [0, 10, 77]
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}]
    assert linux["sysctl"]["kernel.domainname"] == "example.test"
    assert "/dev/shm" not in [m["destination"] for m in spec["mounts"]]
    assert linux["maskedPaths"] == [] and linux["devices"][0]["path"] == "/dev/n"
    assert linux["resources"]["devices"][-1]["access"] == "r"
    assert linux["resources"]["cpu"] == {"period": 50_000, "quota": 25_000, "cpus": "0"}
    assert linux["resources"]["memory"]["reservation"] == 32 << 20


def test_a_start_reads_security_options_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsing --security-opt reads the host's LSM switches and decodes an inline profile:
    once per start, its result handed to all that needs it."""
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}  # fmt: skip
    hc = {"SecurityOpt": [f"seccomp={json.dumps(profile)}", "systempaths=unconfined",
                          "no-new-privileges", "label=level:s0"]}  # fmt: skip
    c = Container("c" * 64, "opts", "busybox", "sha256:" + "0" * 64, "", {}, hc, path="sh")
    decoded, lsm_reads = [], []
    real_decode = securityopts.profile_from_json
    monkeypatch.setattr(
        securityopts, "profile_from_json", lambda t: decoded.append(t) or real_decode(t)
    )
    # A host without SELinux, where dockerd (so lamina) ignores a label: one read of it.
    monkeypatch.setattr(securityopts, "_enabled", lambda p: bool(lsm_reads.append(p)))
    spec = build_spec(bundle.spec_input(c, rootfs, ["sh"]), host=HOST)
    assert (len(decoded), lsm_reads) == (1, [securityopts.SELINUX])
    assert spec["linux"]["seccomp"]["syscalls"] == [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]
    assert spec["linux"]["maskedPaths"] == [] and spec["linux"]["readonlyPaths"] == []
    assert spec["process"]["noNewPrivileges"] is True


def test_lamina_cli_flags_make_the_docker_cli_body() -> None:
    from lamina.cli.containers_args import create_body
    from lamina.cli.main import build_parser

    argv = [
        "run", "--ulimit", "nofile=1024:2048", "--ulimit", "core=-1", "--device", "/dev/fuse",
        "--device", "/dev/a:/dev/b", "--device", "/dev/c:r", "--device", "/dev/d:/dev/e:rw",
        "--sysctl", "net.core.somaxconn=9", "--group-add", "audio", "--pid", "host",
        "--cpuset-cpus", "0-1", "--volumes-from", "data:ro", "--link", "web:w",
        "--mac-address", MAC_CLI, "--dns-option", "ndots:2", "--dns-search", "x.test",
        "--add-host", "h:host-gateway", "--gpus", "all", "busybox", "true",
    ]  # fmt: skip
    body = create_body(build_parser("run").parse_args(argv), attach=False)
    hc = body["HostConfig"]
    assert hc["Ulimits"] == [
        {"Name": "nofile", "Soft": 1024, "Hard": 2048},
        {"Name": "core", "Soft": -1, "Hard": -1},
    ]
    assert [tuple(d.values()) for d in hc["Devices"]] == [
        ("/dev/fuse", "/dev/fuse", "rwm"),
        ("/dev/a", "/dev/b", "rwm"),
        ("/dev/c", "/dev/c", "r"),
        ("/dev/d", "/dev/e", "rw"),
    ]
    assert hc["Sysctls"] == {"net.core.somaxconn": "9"} and hc["GroupAdd"] == ["audio"]
    assert (hc["PidMode"], hc["CpusetCpus"], hc["VolumesFrom"]) == ("host", "0-1", ["data:ro"])
    assert (hc["Links"], hc["DnsOptions"], hc["DnsSearch"]) == (["web:w"], ["ndots:2"], ["x.test"])
    assert hc["ExtraHosts"] == ["h:host-gateway"]
    assert hc["DeviceRequests"] == [{"Driver": "", "Count": -1, "Capabilities": [["gpu"]]}]
    assert body["NetworkingConfig"]["EndpointsConfig"]["default"]["MacAddress"] == MAC_CLI
    refuse_unhonoured({**body, "HostConfig": {**hc, "DeviceRequests": None}})


MAC_CLI = "02:42:ac:11:00:42"
