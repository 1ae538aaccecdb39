"""`run`/`create` flags, as docker names them, and the API body they become."""

from __future__ import annotations

import argparse
import re

from lamina.cli.main import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every command ~2.5 ms to import
    from typing import Any

_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def add_create_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("image")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.add_argument("--name")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("--rm", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("--env-file", action="append", default=[])
    p.add_argument("-v", "--volume", action="append", default=[])
    p.add_argument("--mount", action="append", default=[])
    p.add_argument("--tmpfs", action="append", default=[])
    p.add_argument("-w", "--workdir")
    p.add_argument("-u", "--user")
    p.add_argument("--entrypoint")
    p.add_argument("-h", "--hostname")
    p.add_argument("-l", "--label", action="append", default=[])
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--restart", default="no")
    p.add_argument("--init", action="store_true")
    p.add_argument("-m", "--memory")
    p.add_argument("--memory-swap")
    p.add_argument("--cpus", type=float)
    p.add_argument("--pids-limit", type=int)
    p.add_argument("--cap-add", action="append", default=[])
    p.add_argument("--cap-drop", action="append", default=[])
    p.add_argument("--privileged", action="store_true")
    p.add_argument("--security-opt", action="append", default=[])
    p.add_argument("--stop-signal")
    p.add_argument("--stop-timeout", type=int)
    p.add_argument("--network", "--net", dest="network")
    p.add_argument("--network-alias", action="append", default=[])
    p.add_argument("--ip")
    p.add_argument("-p", "--publish", action="append", default=[])
    p.add_argument("-P", "--publish-all", action="store_true")
    p.add_argument("--expose", action="append", default=[])
    p.add_argument("--add-host", action="append", default=[])
    p.add_argument("--dns", action="append", default=[])
    p.add_argument("--runtime")
    p.add_argument("--shm-size")
    for flag in (
        "--ulimit",
        "--device",
        "--device-cgroup-rule",
        "--sysctl",
        "--group-add",
        "--volumes-from",
        "--link",
        "--dns-option",
        "--dns-search",
    ):
        p.add_argument(flag, action="append", default=[])
    for flag in (
        "--pid",
        "--ipc",
        "--cgroupns",
        "--cpuset-cpus",
        "--cpuset-mems",
        "--mac-address",
        "--gpus",
    ):
        p.add_argument(flag)
    p.add_argument("--cgroup-parent")
    p.add_argument("--domainname")
    p.add_argument("--oom-score-adj", type=int)
    p.add_argument("--cpu-shares", "-c", type=int)
    p.add_argument("--cpu-period", type=int)
    p.add_argument("--cpu-quota", type=int)
    p.add_argument("--memory-reservation")
    p.add_argument("--log-driver")
    p.add_argument("--log-opt", action="append", default=[])


def create_body(args: argparse.Namespace, *, attach: bool) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Image": args.image,
        "Cmd": args.command or None,
        "Env": _env(args),
        "Labels": dict(_pair(label, "label") for label in args.label),
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
        "ExposedPorts": {_port_key(p): {} for p in args.expose} or None,
    }
    if args.entrypoint is not None:
        config["Entrypoint"] = [args.entrypoint] if args.entrypoint else [""]
    if args.stop_signal:
        config["StopSignal"] = args.stop_signal
    if args.stop_timeout is not None:
        config["StopTimeout"] = args.stop_timeout
    binds, volumes = _volumes(args.volume)
    if volumes:
        config["Volumes"] = volumes
    config["HostConfig"] = _host_config(args, binds)
    if args.network_alias or args.ip or args.mac_address:
        config["NetworkingConfig"] = {
            "EndpointsConfig": {
                args.network or "default": {
                    "Aliases": args.network_alias or None,
                    "IPAMConfig": {"IPv4Address": args.ip} if args.ip else None,
                    "MacAddress": args.mac_address or "",
                }
            }
        }
    return config


def _host_config(args: argparse.Namespace, binds: list[str]) -> dict[str, Any]:
    name, _, retries = args.restart.partition(":")
    from lamina.cli.attach import terminal_size

    return {
        "Binds": binds or None,
        "Mounts": [_mount(m) for m in args.mount] or None,
        "Tmpfs": dict(_tmpfs(t) for t in args.tmpfs) or None,
        "AutoRemove": args.rm,
        "ReadonlyRootfs": args.read_only,
        "Init": args.init or None,
        "RestartPolicy": {"Name": name, "MaximumRetryCount": int(retries or 0)},
        "Memory": _bytes(args.memory) if args.memory else 0,
        "MemorySwap": -1
        if args.memory_swap == "-1"
        else (_bytes(args.memory_swap) if args.memory_swap else 0),
        "NanoCpus": int(args.cpus * 1e9) if args.cpus else 0,
        "PidsLimit": args.pids_limit,
        "CapAdd": args.cap_add or None,
        "CapDrop": args.cap_drop or None,
        "Privileged": args.privileged,
        "SecurityOpt": [_security_opt(o) for o in args.security_opt] or None,
        "NetworkMode": args.network or "default",
        "PortBindings": _port_bindings(args.publish),
        "PublishAllPorts": args.publish_all,
        "ExtraHosts": args.add_host or None,
        "Dns": args.dns or None,
        "Runtime": args.runtime,
        "ShmSize": _bytes(args.shm_size) if args.shm_size else 0,
        "ConsoleSize": terminal_size() if args.tty else None,
        "LogConfig": _log_config(args.log_driver or "", args.log_opt),
        **_more_host_config(args),
    }


def _more_host_config(args: argparse.Namespace) -> dict[str, Any]:
    """The flags docker spells the same way, as the docker CLI sends them."""
    return {
        "Ulimits": [_ulimit(u) for u in args.ulimit] or None,
        "Devices": [_device(d) for d in args.device] or None,
        "DeviceCgroupRules": args.device_cgroup_rule or None,
        "DeviceRequests": _gpus(args.gpus) if args.gpus else None,
        "Sysctls": dict(_pair(s, "sysctl") for s in args.sysctl) or None,
        "GroupAdd": args.group_add or None,
        "PidMode": args.pid or "",
        "IpcMode": args.ipc or "",
        "CgroupnsMode": args.cgroupns or "",
        "CpusetCpus": args.cpuset_cpus or "",
        "CpusetMems": args.cpuset_mems or "",
        "CpuShares": args.cpu_shares or 0,
        "CpuPeriod": args.cpu_period or 0,
        "CpuQuota": args.cpu_quota or 0,
        "MemoryReservation": _bytes(args.memory_reservation) if args.memory_reservation else 0,
        "CgroupParent": args.cgroup_parent or "",
        "OomScoreAdj": args.oom_score_adj or 0,
        "VolumesFrom": args.volumes_from or None,
        "Links": args.link or None,
        "DnsOptions": args.dns_option or None,
        "DnsSearch": args.dns_search or None,
    }


def _ulimit(spec: str) -> dict[str, Any]:
    """nofile=1024:2048 (soft:hard), or nofile=1024 (both)."""
    name, _, limits = spec.partition("=")
    soft, _, hard = limits.partition(":")
    try:
        return {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}
    except ValueError:
        raise UsageError(f"invalid ulimit argument: {spec}") from None


def _device(spec: str) -> dict[str, str]:
    """/dev/x, /dev/x:/dev/y, /dev/x:rwm or /dev/x:/dev/y:rwm, as the docker CLI."""
    parts = spec.split(":")
    if len(parts) > 3 or not parts[0]:
        raise UsageError(f"invalid device specification: {spec}")
    mode = parts[-1] if len(parts) == 3 or (len(parts) == 2 and _device_mode(parts[1])) else ""
    inside = parts[1] if len(parts) == 3 or (len(parts) == 2 and not mode) else parts[0]
    return {"PathOnHost": parts[0], "PathInContainer": inside, "CgroupPermissions": mode or "rwm"}


def _device_mode(text: str) -> bool:
    return bool(text) and len(text) <= 3 and all(c in "rwm" for c in text)


def _gpus(spec: str) -> list[dict[str, Any]]:
    count = -1 if spec == "all" else int(spec) if spec.isdigit() else 0
    return [{"Driver": "", "Count": count, "Capabilities": [["gpu"]]}]


def _log_config(driver: str, opts: list[str]) -> dict[str, Any]:
    """As docker's CLI: `--log-opt k=v` (a bare `k` is k=""), none with options refused."""
    if driver == "none" and opts:
        raise UsageError("invalid logging opts for driver none")
    return {"Type": driver, "Config": dict(_pair(o, "log-opt") for o in opts)}


def _security_opt(option: str) -> str:
    """As the docker CLI: `seccomp=<file>` goes to the daemon as the file's JSON, so the
    profile is the one this user can read, fixed when the container is created."""
    key, sep, path = option.partition("=")
    if not sep:
        key, _, path = option.partition(":")
    if key != "seccomp" or path in ("builtin", "unconfined"):
        return option
    import json

    try:
        with open(path, encoding="utf-8") as f:
            profile = json.load(f)
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"opening seccomp profile ({path}) failed: {err}") from err
    except ValueError as err:
        raise UsageError(f"compacting json for seccomp profile ({path}) failed: {err}") from err
    return "seccomp=" + json.dumps(profile, separators=(",", ":"))


def _env(args: argparse.Namespace) -> list[str]:
    import os

    env = []
    for path in args.env_file:
        try:
            with open(path, encoding="utf-8") as f:
                lines = [line.strip() for line in f]
        except OSError as err:
            raise UsageError(f"open {path}: {err.strerror}") from err
        env += [line for line in lines if line and not line.startswith("#")]
    env += args.env
    # `-e NAME` (no "=") takes the value from this environment, as docker does.
    return [e if "=" in e else f"{e}={os.environ[e]}" for e in env if "=" in e or e in os.environ]


def _volumes(specs: list[str]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    binds: list[str] = []
    anonymous: dict[str, dict[str, Any]] = {}
    for spec in specs:
        if spec.startswith("/") and ":" not in spec:
            anonymous[spec] = {}
        else:
            binds.append(spec)
    return binds, anonymous


def _mount(spec: str) -> dict[str, Any]:
    fields = dict(_pair(part, "mount") for part in spec.split(","))
    kind = fields.get("type", "volume")
    mount: dict[str, Any] = {
        "Type": kind,
        "Source": fields.get("source") or fields.get("src") or "",
        "Target": fields.get("target") or fields.get("destination") or fields.get("dst") or "",
        "ReadOnly": fields.get("readonly", fields.get("ro", "false")) in ("true", "1", ""),
    }
    if "readonly" not in fields and "ro" not in fields:
        mount["ReadOnly"] = False
    if kind == "tmpfs" and "tmpfs-size" in fields:
        mount["TmpfsOptions"] = {"SizeBytes": _bytes(fields["tmpfs-size"])}
    if kind == "volume" and fields.get("volume-nocopy") in ("true", "1", ""):
        mount["VolumeOptions"] = {"NoCopy": True}
    return mount


def _tmpfs(spec: str) -> tuple[str, str]:
    path, _, options = spec.partition(":")
    return path, options


def _pair(text: str, what: str) -> tuple[str, str]:
    key, eq, value = text.partition("=")
    if not key:
        raise UsageError(f"invalid {what}: {text!r}")
    return key, value if eq else ""


def _bytes(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([bkmg])?b?", text.strip().lower())
    if not match:
        raise UsageError(f"invalid size: '{text}'")
    return int(float(match.group(1)) * _UNITS[match.group(2) or "b"])


def _port_key(spec: str) -> str:
    port, _, proto = spec.partition("/")
    return f"{port}/{proto or 'tcp'}"


def _port_bindings(specs: list[str]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        spec, _, proto = spec.partition("/")
        parts = spec.rsplit(":", 2)
        container = parts[-1]
        host = parts[-2] if len(parts) >= 2 else ""
        ip = parts[0] if len(parts) == 3 else ""
        out.setdefault(f"{container}/{proto or 'tcp'}", []).append({"HostIp": ip, "HostPort": host})
    return out
