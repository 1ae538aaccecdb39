"""Mount descriptions, and the one place in lamina that calls mount(2) and umount(2).

Layer drivers, volumes and the runtime spec return `Mount` values (plain data a test can
compare without root); only `mount()` and `unmount()` here touch the kernel.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

from lamina.errors import FailedPrecondition, Internal, LaminaError, NotFound

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MNT_DETACH = 0x2

# Options that are mount flags rather than filesystem data (as containerd's parser).
_FLAGS: dict[str, int] = {
    "ro": MS_RDONLY,
    "rw": 0,
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "bind": MS_BIND,
    "rbind": MS_BIND | MS_REC,
}
_PAGE = os.sysconf("SC_PAGE_SIZE")
_OCTAL = re.compile(r"\\([0-7]{3})")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


@dataclass(frozen=True)
class Mount:
    """One mount to perform: `mount -t <type> -o <options> <source> <target>`.

    `target` is a path relative to where the caller mounts the whole list ("" = that
    place itself), so a list of mounts describes a tree without knowing where it goes.
    """

    type: str
    source: str
    target: str = ""
    options: tuple[str, ...] = ()


def mount(m: Mount, target: Path) -> None:
    """Mount `m` at `target` (joined with `m.target`), which must be an existing dir."""
    where = target / m.target.lstrip("/") if m.target else target
    flags, data = _split_options(m.options)
    fstype = None if flags & MS_BIND else m.type
    if len(data) >= _PAGE:
        _mount_relative(m.source, where, fstype, flags, data)
    else:
        _call_mount(m.source, where, fstype, flags, data)
    if flags & MS_BIND and flags & MS_RDONLY:
        # The kernel ignores MS_RDONLY on the first bind; read-only needs a remount.
        try:
            _call_mount("none", where, None, flags | MS_REMOUNT, "")
        except LaminaError:
            unmount(where)
            raise


def unmount(target: Path) -> None:
    """Unmount `target`; if it is busy, detach it lazily so nothing stays on the host."""
    for flags in (0, MNT_DETACH):
        if _libc.umount2(os.fsencode(target), flags) == 0:
            return
        err = ctypes.get_errno()
        if err != errno.EBUSY:
            break
    raise _error("unmount", target, err)


def unmount_all(target: Path) -> None:
    """Unmount whatever is stacked on `target`; nothing there (or no `target`) is fine.
    umount2 itself says when no mount is left, so mountinfo is never read."""
    while True:
        try:
            unmount(target)
        except NotFound:
            return


def is_mounted(target: Path) -> bool:
    """Whether `target` is a mount point (exact path, as /proc/self/mountinfo lists it)."""
    want = os.path.realpath(target)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            point = line.split(" ", 5)[4]
            if _unescape(point) == want:
                return True
    return False


def _split_options(options: tuple[str, ...]) -> tuple[int, str]:
    flags = 0
    data: list[str] = []
    for opt in options:
        if opt in _FLAGS:
            flags |= _FLAGS[opt]
        else:
            data.append(opt)
    return flags, ",".join(data)


def _call_mount(source: str, where: Path, fstype: str | None, flags: int, data: str) -> None:
    err = _sys_mount(source, where, fstype, flags, data)
    if err:
        raise _error("mount", where, err)


def _sys_mount(source: str, where: Path, fstype: str | None, flags: int, data: str) -> int:
    """mount(2); returns 0 or the errno."""
    rc = _libc.mount(
        os.fsencode(source),
        os.fsencode(where),
        None if fstype is None else fstype.encode(),
        flags,
        os.fsencode(data) if data else None,
    )
    return 0 if rc == 0 else ctypes.get_errno()


def _mount_relative(source: str, where: Path, fstype: str | None, flags: int, data: str) -> None:
    """Mount with lowerdir paths relative to their common parent, as Docker's overlay2.

    Overlay options must fit in one page; relative paths are shorter, but they are
    resolved against the cwd, which is process-wide. So a forked child (which shares
    our mount namespace) changes directory and mounts, and threads here never see it.
    """
    cwd, short = _relative_lowers(data)
    if len(short) >= _PAGE:
        raise FailedPrecondition(
            f"mount {where}: overlay options are {len(short)} bytes even with relative "
            f"paths, over the {_PAGE}-byte limit (too many layers)"
        )
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 255
        try:
            os.chdir(cwd)
            code = _sys_mount(source, where, fstype, flags, short)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise _error("mount", where, code)


def _relative_lowers(data: str) -> tuple[str, str]:
    opts = data.split(",")
    lowers = next((o for o in opts if o.startswith("lowerdir=")), None)
    if lowers is None:
        return "/", data
    paths = lowers.removeprefix("lowerdir=").split(":")
    cwd = os.path.commonpath(paths) if all(p.startswith("/") for p in paths) else "/"
    if len(paths) == 1:
        cwd = os.path.dirname(paths[0])
    rel = ":".join(os.path.relpath(p, cwd) for p in paths)
    return cwd, ",".join(f"lowerdir={rel}" if o == lowers else o for o in opts)


def _error(what: str, where: Path, err: int) -> LaminaError:
    text = f"{what} {where}: {os.strerror(err)}"
    if err == errno.EPERM:
        return FailedPrecondition(f"{text} (mounting needs root)")
    if err == errno.ENOENT or (what == "unmount" and err == errno.EINVAL):
        return NotFound(text if err == errno.ENOENT else f"{text} (not a mount point)")
    if err == errno.ENODEV:
        return FailedPrecondition(f"{text} (filesystem type not supported by the kernel)")
    return Internal(text)


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)
