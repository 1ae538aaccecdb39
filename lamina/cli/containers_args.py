"""`run`/`create` flags, as docker names them, and the API body they become.

The body is what the docker CLI 28 sends for the same flags, so the daemon cannot tell
the two CLIs apart; the flags' values are parsed in lamina.cli.flag_values.
"""

from __future__ import annotations

import argparse

from lamina.cli import flag_values

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every command ~2.5 ms to import
    from typing import Any

# Each entry: the flag's names, its long name first (argparse names the value after it).
SWITCHES = (
    "--detach -d", "--rm", "--interactive -i", "--tty -t", "--read-only", "--init",
    "--privileged", "--publish-all -P",
)  # fmt: skip
LISTS = (  # given once per item
    "--env -e", "--env-file", "--volume -v", "--mount", "--tmpfs", "--label -l", "--cap-add",
    "--cap-drop", "--security-opt", "--network-alias", "--publish -p", "--expose",
    "--add-host", "--dns", "--dns-option", "--dns-search", "--ulimit", "--device",
    "--device-cgroup-rule", "--sysctl", "--group-add", "--volumes-from", "--link", "--log-opt",
)  # fmt: skip
TEXTS = (
    "--name", "--workdir -w", "--user -u", "--entrypoint", "--hostname -h", "--domainname",
    "--memory -m", "--memory-swap", "--memory-reservation", "--shm-size", "--stop-signal",
    "--network --net", "--ip", "--mac-address", "--runtime", "--pid", "--ipc", "--cgroupns",
    "--cpuset-cpus", "--cpuset-mems", "--cgroup-parent", "--gpus", "--log-driver",
)  # fmt: skip
INTEGERS = (
    "--pids-limit", "--stop-timeout", "--oom-score-adj", "--cpu-shares -c", "--cpu-period",
    "--cpu-quota",
)  # fmt: skip


def add_create_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("image")
    p.add_argument("command", nargs=argparse.REMAINDER)
    for names in SWITCHES:
        p.add_argument(*names.split(), action="store_true")
    for names in LISTS:
        p.add_argument(*names.split(), action="append", default=[])
    for names in TEXTS:
        p.add_argument(*names.split())
    for names in INTEGERS:
        p.add_argument(*names.split(), type=int)
    p.add_argument("--cpus", type=float)
    p.add_argument("--restart", default="no")


def create_body(args: argparse.Namespace, *, attach: bool) -> dict[str, Any]:
    binds, volumes = flag_values.volumes(args.volume)
    body = {**_config(args, attach=attach), "HostConfig": _host_config(args, binds)}
    if volumes:
        body["Volumes"] = volumes
    if args.network_alias or args.ip or args.mac_address:
        body["NetworkingConfig"] = {"EndpointsConfig": {args.network or "default": _endpoint(args)}}
    return body


def _config(args: argparse.Namespace, *, attach: bool) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Image": args.image,
        "Cmd": args.command or None,
        "Env": flag_values.env(args.env_file, args.env),
        "Labels": dict(flag_values.pair(label, "label") for label in args.label),
        "Tty": args.tty,
        "OpenStdin": args.interactive,
        "StdinOnce": args.interactive and attach,
        "AttachStdin": args.interactive and attach,
        "AttachStdout": attach,
        "AttachStderr": attach,
        "WorkingDir": args.workdir or "",
        "User": args.user or "",
        "Hostname": args.hostname or "",
        "Domainname": args.domainname or "",
        "ExposedPorts": {flag_values.port_key(p): {} for p in args.expose} or None,
    }
    if args.entrypoint is not None:
        config["Entrypoint"] = [args.entrypoint] if args.entrypoint else [""]
    if args.stop_signal:
        config["StopSignal"] = args.stop_signal
    if args.stop_timeout is not None:
        config["StopTimeout"] = args.stop_timeout
    return config


def _endpoint(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "Aliases": args.network_alias or None,
        "IPAMConfig": {"IPv4Address": args.ip} if args.ip else None,
        "MacAddress": args.mac_address or "",
    }


def _host_config(args: argparse.Namespace, binds: list[str]) -> dict[str, Any]:
    name, _, retries = args.restart.partition(":")
    from lamina.cli.attach import terminal_size

    return {
        "Binds": binds or None,
        "Mounts": [flag_values.mount(m) for m in args.mount] or None,
        "Tmpfs": dict(flag_values.tmpfs(t) for t in args.tmpfs) or None,
        "VolumesFrom": args.volumes_from or None,
        "AutoRemove": args.rm,
        "ReadonlyRootfs": args.read_only,
        "Init": args.init or None,
        "RestartPolicy": {"Name": name, "MaximumRetryCount": int(retries or 0)},
        "Runtime": args.runtime,
        "ConsoleSize": terminal_size() if args.tty else None,
        "LogConfig": flag_values.log_config(args.log_driver or "", args.log_opt),
        **_resources(args),
        **_confinement(args),
        **_networking(args),
    }


def _resources(args: argparse.Namespace) -> dict[str, Any]:
    """What the container's cgroup limits."""
    swap = -1 if args.memory_swap == "-1" else flag_values.size_or_zero(args.memory_swap)
    return {
        "Memory": flag_values.size_or_zero(args.memory),
        "MemorySwap": swap,
        "MemoryReservation": flag_values.size_or_zero(args.memory_reservation),
        "ShmSize": flag_values.size_or_zero(args.shm_size),
        "NanoCpus": int(args.cpus * 1e9) if args.cpus else 0,
        "CpuShares": args.cpu_shares or 0,
        "CpuPeriod": args.cpu_period or 0,
        "CpuQuota": args.cpu_quota or 0,
        "CpusetCpus": args.cpuset_cpus or "",
        "CpusetMems": args.cpuset_mems or "",
        "PidsLimit": args.pids_limit,
        "Ulimits": [flag_values.ulimit(u) for u in args.ulimit] or None,
        "CgroupParent": args.cgroup_parent or "",
    }


def _confinement(args: argparse.Namespace) -> dict[str, Any]:
    """What the container may do and see: privileges, devices, namespaces, sysctls."""
    return {
        "CapAdd": args.cap_add or None,
        "CapDrop": args.cap_drop or None,
        "Privileged": args.privileged,
        "SecurityOpt": [flag_values.security_opt(o) for o in args.security_opt] or None,
        "Devices": [flag_values.device(d) for d in args.device] or None,
        "DeviceCgroupRules": args.device_cgroup_rule or None,
        "DeviceRequests": flag_values.gpus(args.gpus) if args.gpus else None,
        "GroupAdd": args.group_add or None,
        "OomScoreAdj": args.oom_score_adj or 0,
        "Sysctls": dict(flag_values.pair(s, "sysctl") for s in args.sysctl) or None,
        "PidMode": args.pid or "",
        "IpcMode": args.ipc or "",
        "CgroupnsMode": args.cgroupns or "",
    }


def _networking(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "NetworkMode": args.network or "default",
        "PortBindings": flag_values.port_bindings(args.publish),
        "PublishAllPorts": args.publish_all,
        "Links": args.link or None,
        "ExtraHosts": args.add_host or None,
        "Dns": args.dns or None,
        "DnsOptions": args.dns_option or None,
        "DnsSearch": args.dns_search or None,
    }
