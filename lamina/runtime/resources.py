"""A container's cgroup limits: read from HostConfig, checked with Docker's rules and
messages (moby daemon/daemon_unix.go `verifyPlatformContainerResources`), written as
the OCI spec's `linux.resources` (less the devices rules, which the spec adds).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lamina.errors import InvalidArgument

CPU_PERIOD = 100_000  # µs; --cpus becomes a CFS quota over this period, as Docker
MIN_MEMORY = 6 * 1024 * 1024
PID_MAX_LIMIT = 4 * 1024 * 1024  # the kernel's most processes (64-bit), the most pids.max takes


@dataclass(frozen=True)
class Resources:
    memory: int | None = None  # bytes (--memory)
    memory_swap: int | None = None  # bytes of memory+swap; -1 = unlimited
    memory_reservation: int | None = None  # bytes (--memory-reservation)
    nano_cpus: int | None = None  # --cpus 1.5 → 1_500_000_000
    cpu_shares: int | None = None
    cpu_period: int | None = None  # µs (--cpu-period)
    cpu_quota: int | None = None  # µs (--cpu-quota)
    cpuset_cpus: str = ""  # "0-1,3" (--cpuset-cpus)
    cpuset_mems: str = ""
    pids_limit: int | None = None  # <= 0 = unlimited

    @classmethod
    def from_host_config(cls, hc: Mapping[str, Any]) -> Resources:
        memory = int(hc.get("Memory") or 0) or None
        swap = int(hc.get("MemorySwap") or 0)
        if memory and swap == 0:
            swap = 2 * memory  # Docker's default: as much swap as memory
        return cls(
            memory=memory,
            memory_swap=swap or None,
            memory_reservation=int(hc.get("MemoryReservation") or 0) or None,
            nano_cpus=int(hc.get("NanoCpus") or 0) or None,
            cpu_shares=int(hc.get("CpuShares") or 0) or None,
            cpu_period=int(hc.get("CpuPeriod") or 0) or None,
            cpu_quota=int(hc.get("CpuQuota") or 0) or None,
            cpuset_cpus=str(hc.get("CpusetCpus") or ""),
            cpuset_mems=str(hc.get("CpusetMems") or ""),
            pids_limit=int(hc.get("PidsLimit") or 0) or None,
        )


def check(r: Resources, *, cpus: int, cpu_list: str = "", mem_list: str = "") -> None:
    """Docker's checks, with Docker's messages. `cpus` counts the host's CPUs;
    `cpu_list` and `mem_list` are the CPUs and memory nodes a cpuset may name ("" skips
    that check)."""
    _check_memory(r)
    _check_cpu(r, cpus)
    if r.pids_limit is not None and r.pids_limit > PID_MAX_LIMIT:
        # The kernel's pids.max takes no more; runc would fail the start with EINVAL.
        raise InvalidArgument(
            f"invalid PidsLimit {r.pids_limit}: the kernel allows at most {PID_MAX_LIMIT} "
            "processes (use 0 or -1 for no limit)"
        )
    _check_cpuset(r.cpuset_cpus, cpu_list, "cpus", "CPUs")
    _check_cpuset(r.cpuset_mems, mem_list, "mems", "memory nodes")


def _check_memory(r: Resources) -> None:
    if r.memory and r.memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if r.memory_swap and r.memory_swap > 0:
        if not r.memory:
            raise InvalidArgument(
                "You should always set the Memory limit when using Memoryswap limit, see usage"
            )
        if r.memory_swap < r.memory:
            raise InvalidArgument(
                "Minimum memoryswap limit should be larger than memory limit, see usage"
            )
    if r.memory_reservation and r.memory_reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if r.memory and r.memory_reservation and r.memory < r.memory_reservation:
        raise InvalidArgument(
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        )


def _check_cpu(r: Resources, cpus: int) -> None:
    if r.nano_cpus and r.cpu_period:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if r.nano_cpus and r.cpu_quota:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if r.nano_cpus and not 10_000_000 <= r.nano_cpus <= cpus * 1_000_000_000:
        raise InvalidArgument(
            f"Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )
    if r.cpu_shares is not None and r.cpu_shares < 0:
        raise InvalidArgument(
            f"invalid CPU shares ({r.cpu_shares}): value must be a positive integer"
        )
    if r.cpu_period and not 1000 <= r.cpu_period <= 1_000_000:
        raise InvalidArgument(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        )
    if r.cpu_quota and 0 < r.cpu_quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")


# Linux's usual most CPUs: a cpuset may name up to this many (or as many as the host
# has) before the number itself is refused, as dockerd (CVE-2018-20699).
MAX_CPUSET = 8192

_CPUSET_PART = re.compile(r"(\d{1,19})(?:-(\d{1,19}))?", re.ASCII)

Ranges = list[tuple[int, int]]


def parse_ranges(text: str) -> Ranges:
    """A cpuset list ("0-2,5") as (low, high) pairs, never expanded: "0-4000000000" is
    two numbers, not four billion. ValueError when malformed."""
    ranges = []
    for part in text.split(","):
        match = _CPUSET_PART.fullmatch(part)
        if not match:
            raise ValueError(f"invalid format: {text}")
        low, high = int(match[1]), int(match[2] or match[1])
        if high < low:
            raise ValueError(f"invalid format: {text}")
        ranges.append((low, high))
    return ranges


def _covered(asked: Ranges, available: Ranges) -> bool:
    """Whether every number of `asked` is in `available`."""
    merged: Ranges = []
    for low, high in sorted(available):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return all(any(lo <= low and high <= hi for lo, hi in merged) for low, high in asked)


def _check_cpuset(text: str, available: str, key: str, what: str) -> None:
    if not text:
        return
    try:
        asked = parse_ranges(text)
        have = parse_ranges(available) if available else []
        most = max([MAX_CPUSET, *(high for _, high in have)])
        if any(high > most for _, high in asked):
            raise ValueError(f"value of out range, maximum is {most}")  # sic, dockerd's
    except ValueError as err:
        raise InvalidArgument(f"Invalid value {text} for cpuset {key}: {err}") from None
    if available and not _covered(asked, have):
        raise InvalidArgument(
            f"Requested {what} are not available - requested {text}, available: {available}"
        )


def available_cpus() -> str:
    return _ranges(sorted(os.sched_getaffinity(0)))


def available_mems() -> str:
    try:
        with open("/sys/devices/system/node/online", encoding="ascii") as f:
            return f.read().strip() or "0"
    except OSError:
        return "0"  # a kernel without NUMA support has one node


def _ranges(numbers: list[int]) -> str:
    parts: list[str] = []
    for n in numbers:
        if parts and parts[-1].split("-")[-1] == str(n - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{n}"
        else:
            parts.append(str(n))
    return ",".join(parts)


def to_spec(r: Resources) -> dict[str, Any]:
    """`linux.resources` without `devices`."""
    out: dict[str, Any] = {}
    memory = {"limit": r.memory} if r.memory else {}
    if r.memory_swap:
        memory["swap"] = r.memory_swap
    if r.memory_reservation:
        memory["reservation"] = r.memory_reservation
    cpu: dict[str, Any] = {"shares": r.cpu_shares} if r.cpu_shares else {}
    if r.nano_cpus:
        cpu |= {"quota": r.nano_cpus * CPU_PERIOD // 1_000_000_000, "period": CPU_PERIOD}
    if r.cpu_period:
        cpu["period"] = r.cpu_period
    if r.cpu_quota:
        cpu["quota"] = r.cpu_quota
    if r.cpuset_cpus:
        cpu["cpus"] = r.cpuset_cpus
    if r.cpuset_mems:
        cpu["mems"] = r.cpuset_mems
    if memory:
        out["memory"] = memory
    if cpu:
        out["cpu"] = cpu
    if r.pids_limit is not None:
        # 0 and negatives mean "no limit" in Docker's API; runc wants -1 for that.
        out["pids"] = {"limit": r.pids_limit if r.pids_limit > 0 else -1}
    return out
