"""Base images without a registry: busybox from Debian's busybox-static, Debian via mmdebstrap.

Both make a root filesystem tar and import it. The busybox tar is built here,
deterministically (sorted entries, numeric owners, every mtime set to the busybox
binary's own), so the same package version gives the same image ID on every machine.
A bootstrapped image carries the label `org.lamina.bootstrap` naming what made it; a
second bootstrap with the same recipe finds that image and only tags it.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from lamina.errors import FailedPrecondition, InvalidArgument
from lamina.images.importer import import_rootfs
from lamina.images.service import ImageService
from lamina.oci.digest import Digest
from lamina.oci.reference import Reference, parse_normalized

Progress = Callable[[str], None]
LABEL = "org.lamina.bootstrap"
BUSYBOX = Path("/bin/busybox")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
_GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
tty:x:5:
www-data:x:33:
nogroup:x:65534:
"""
_DIRS = {
    "bin": 0o755,
    "dev": 0o755,
    "etc": 0o755,
    "home": 0o755,
    "proc": 0o555,
    "root": 0o700,
    "sys": 0o555,
    "tmp": 0o1777,
    "usr": 0o755,
    "var": 0o755,
    "var/www": 0o755,
}


def bootstrap(
    images: ImageService,
    name: str,
    *,
    tag: str | None = None,
    include: Sequence[str] = (),
    progress: Progress = lambda _m: None,
) -> Digest:
    """Make (or find) the base image `name` ("busybox" or "debian:bookworm") and tag it."""
    ref = parse_normalized(tag or name).with_default_tag()
    base = parse_normalized(name)
    if base.familiar_name() == "busybox":
        if include:
            raise InvalidArgument("--include applies to debian images only")
        return _busybox(images, ref, progress)
    if base.familiar_name() == "debian":
        return _debian(images, ref, base.tag or "bookworm", sorted(set(include)), progress)
    raise InvalidArgument(f"cannot bootstrap {name!r}: known bases are busybox and debian:<suite>")


def _find(images: ImageService, recipe: str) -> Digest | None:
    for image in images.all():
        labels = (image.config.get("config") or {}).get("Labels") or {}
        # Images built FROM a bootstrapped one inherit its label; only the import
        # itself (one layer, one history entry) is the bootstrapped image.
        single = len(image.config.get("history") or []) == 1
        if labels.get(LABEL) == recipe and single:
            return image.id
    return None


def _busybox(images: ImageService, ref: Reference, progress: Progress) -> Digest:
    if not BUSYBOX.is_file():
        raise FailedPrecondition(f"{BUSYBOX} is missing: install Debian's busybox-static")
    version = _busybox_version()
    recipe = f"busybox {version}"
    found = _find(images, recipe)
    if found is None:
        progress(f"building a busybox root filesystem from {BUSYBOX} ({version})")
        mtime = int(BUSYBOX.stat().st_mtime)
        found = import_rootfs(
            images,
            io.BytesIO(busybox_rootfs_tar(mtime)),
            tags=[],
            changes=['CMD ["sh"]', f"ENV {PATH_ENV}", f'LABEL {LABEL}="{recipe}"'],
            message=f"lamina image bootstrap busybox ({version})",
            created=mtime,
        )
    images.tag_id(found, ref)
    progress(f"tagged {ref.familiar()}")
    return found


def _busybox_version() -> str:
    out = subprocess.run([str(BUSYBOX)], capture_output=True, text=True, check=False).stdout
    first = out.splitlines()[0] if out else "BusyBox"
    return first.split(" multi-call")[0].removeprefix("BusyBox ").strip()


def busybox_rootfs_tar(mtime: int) -> bytes:
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, mode in sorted(_DIRS.items()):
            tar.addfile(_info(path, tarfile.DIRTYPE, mode, mtime))
        data = BUSYBOX.read_bytes()
        binary = _info("bin/busybox", tarfile.REGTYPE, 0o755, mtime)
        binary.size = len(data)
        tar.addfile(binary, io.BytesIO(data))
        # Hard links, as the official image has them: one inode, every applet a name.
        for applet in sorted(set(applets) - {"busybox"}):
            link = _info(f"bin/{applet}", tarfile.LNKTYPE, 0o755, mtime)
            link.linkname = "bin/busybox"
            tar.addfile(link)
        for name, text in (("etc/group", _GROUP), ("etc/passwd", _PASSWD)):
            info = _info(name, tarfile.REGTYPE, 0o644, mtime)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text.encode()))
    return buf.getvalue()


def _info(name: str, kind: bytes, mode: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    return info


def _debian(
    images: ImageService, ref: Reference, suite: str, include: list[str], progress: Progress
) -> Digest:
    if shutil.which("mmdebstrap") is None:
        raise FailedPrecondition("mmdebstrap is missing: install Debian's mmdebstrap package")
    recipe = f"debian {suite} minbase include={','.join(include)}"
    found = _find(images, recipe)
    if found is None:
        found = _mmdebstrap_import(images, suite, include, recipe, progress)
    images.tag_id(found, ref)
    progress(f"tagged {ref.familiar()}")
    return found


def _mmdebstrap_import(
    images: ImageService, suite: str, include: list[str], recipe: str, progress: Progress
) -> Digest:
    # Named like an ingest file (<pid>-…), so a crash leaves nothing a new store trips on.
    scratch = images.content.root / "ingest"
    with tempfile.TemporaryDirectory(prefix=f"{os.getpid()}-", dir=scratch) as tmp:
        out = Path(tmp) / "rootfs.tar"
        cmd = ["mmdebstrap", "--variant=minbase", "--format=tar", "--quiet"]
        if include:
            cmd.append("--include=" + ",".join(include))
        cmd += [suite, str(out)]
        progress("running " + " ".join(cmd))
        env = {**os.environ, "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "0")}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise FailedPrecondition(f"mmdebstrap failed (exit {proc.returncode}):\n{tail}")
        progress(f"importing {out.stat().st_size // 1_000_000} MB root filesystem")
        with out.open("rb") as stream:
            return import_rootfs(
                images,
                stream,
                tags=[],
                changes=['CMD ["bash"]', f"ENV {PATH_ENV}", f'LABEL {LABEL}="{recipe}"'],
                message=f"lamina image bootstrap debian:{suite}",
            )
