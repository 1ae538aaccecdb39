"""lamina.store.archive against hostile tars: each is refused or contained in the target.

Every case runs with a sentinel directory beside the target and checks, byte for byte
and mode for mode, that nothing outside the target changed.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable

import pytest

from lamina.errors import InvalidArgument
from tests.support.jail import (
    HOST_NAME,
    Jail,
    build_tar,
    entry,
    hardlink,
    symlink,
    whiteouts_through_symlinks,
)
from tests.support.privileges import CAP_MKNOD, capable

REFUSED = [
    ("parent-dir", [entry("../escape", data=b"x")], "escapes the target"),
    ("climb-after-descend", [entry("a/../../escape", data=b"x")], "escapes the target"),
    ("deep-climb", [entry("x/y/../../../../escape", data=b"x")], "escapes the target"),
    ("absolute-climb", [entry("/../escape", data=b"x")], "escapes the target"),
    (
        "symlink-loop",
        [symlink("a", "b"), symlink("b", "a"), entry("a/x", data=b"x")],
        "too many symlinks",
    ),
    ("self-loop", [symlink("loop", "loop/x"), entry("loop/f", data=b"x")], "too many symlinks"),
    ("hardlink-climb", [hardlink("h", "../../outside/secret")], "escapes the target"),
    ("hardlink-absolute", [hardlink("h", "/etc/passwd")], "not a file extracted"),
    ("hardlink-missing", [hardlink("h", "nope")], "not a file extracted"),
    ("hardlink-dir", [entry("d/", tarfile.DIRTYPE), hardlink("h", "d")], "not a file extracted"),
    ("name-max", [entry("n" * 300, data=b"x")], "name too long"),
    ("path-max", [entry("/".join(["d" * 200] * 25) + "/f", data=b"x")], "name too long"),
    ("whiteout-dotdot", [entry(".wh..")], "names no entry"),
    ("whiteout-dotdot-sub", [entry("sub/.wh..")], "names no entry"),
    ("whiteout-empty", [entry("sub/.wh.")], "names no entry"),
    (
        "device-climb",
        [entry("../dev", tarfile.CHRTYPE, devmajor=1, devminor=3)],
        "escapes the target",
    ),
    ("file-under-file", [entry("f", data=b"x"), entry("f/g", data=b"y")], "layer tar"),
    ("null-byte", [entry("n", data=b"x", pax_headers={"path": "a\0b"})], "null byte"),
]


@pytest.mark.parametrize(
    ("members", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_refused(
    jail: Jail,
    untouched: Callable[[], None],
    members: list[tuple[tarfile.TarInfo, bytes]],
    message: str,
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        jail.apply(build_tar(*members))
    untouched()


def test_refusal_names_the_member(jail: Jail) -> None:
    with pytest.raises(
        InvalidArgument, match=r'layer tar: member "\.\./etc/passwd" escapes the target'
    ):
        jail.apply(build_tar(entry("../etc/passwd", data=b"x")))


def test_absolute_name_is_contained(jail: Jail, untouched: Callable[[], None]) -> None:
    jail.apply(build_tar(entry(f"/etc/{HOST_NAME}", data=b"evil")))
    assert jail.inside(f"etc/{HOST_NAME}").read_bytes() == b"evil"
    untouched()


def test_write_through_absolute_symlink_is_contained(
    jail: Jail, untouched: Callable[[], None]
) -> None:
    jail.apply(
        build_tar(
            symlink("evil", str(jail.outside)),
            entry("evil/x", data=b"x"),
            entry("evil/secret", data=b"!"),
        )
    )
    assert jail.inside(str(jail.outside / "x")).read_bytes() == b"x"
    assert jail.inside(str(jail.outside / "secret")).read_bytes() == b"!"
    untouched()


def test_write_through_climbing_symlink_is_contained(
    jail: Jail, untouched: Callable[[], None]
) -> None:
    tar = build_tar(
        symlink("evil", "../../.."),
        entry("evil/x", data=b"x"),
        entry("evil/sub/", tarfile.DIRTYPE),
        entry("evil/sub/f", data=b"f"),
        symlink("deep/evil2", "../../../../outside"),
        entry("deep/evil2/secret", data=b"!"),
    )
    jail.apply(tar)
    assert jail.inside("x").read_bytes() == b"x"
    assert jail.inside("sub/f").read_bytes() == b"f"
    assert jail.inside("outside/secret").read_bytes() == b"!"
    untouched()


def test_symlink_already_in_target_is_followed_only_inside(
    jail: Jail, untouched: Callable[[], None]
) -> None:
    os.symlink("/", jail.target / "lib")
    os.symlink(str(jail.outside), jail.target / "out")
    jail.apply(build_tar(entry(f"lib/{HOST_NAME}", data=b"1"), entry("out/secret", data=b"2")))
    assert jail.inside(HOST_NAME).read_bytes() == b"1"
    assert jail.inside(str(jail.outside / "secret")).read_bytes() == b"2"
    untouched()


def test_file_replaces_symlink_instead_of_writing_through(
    jail: Jail, untouched: Callable[[], None]
) -> None:
    secret = str(jail.outside / "secret")
    os.symlink(secret, jail.target / "pre")
    tar = build_tar(
        symlink("evil", secret),
        entry("evil", data=b"pwned", mode=0o4777, uid=0),
        entry("pre", data=b"pwned"),
        symlink("dir", str(jail.outside / "dir")),
        entry("dir/", tarfile.DIRTYPE),
        entry("dir/file", data=b"pwned"),
    )
    jail.apply(tar)
    for name in ("evil", "pre"):
        assert not jail.inside(name).is_symlink() and jail.inside(name).read_bytes() == b"pwned"
    assert not jail.inside("dir").is_symlink()
    untouched()


def test_metadata_never_follows_symlinks(jail: Jail, untouched: Callable[[], None]) -> None:
    link = entry(
        "evil",
        tarfile.SYMTYPE,
        linkname=str(jail.outside / "secret"),
        mode=0o4777,
        mtime=5,
        uid=4242,
    )[0]
    link.pax_headers = {"SCHILY.xattr.user.evil": "1", "SCHILY.xattr.trusted.evil": "1"}
    jail.apply(build_tar((link, b"")))
    assert os.readlink(jail.target / "evil") == str(jail.outside / "secret")
    untouched()


def test_hardlink_to_absolute_sentinel_is_refused(
    jail: Jail, untouched: Callable[[], None]
) -> None:
    with pytest.raises(InvalidArgument, match="not a file extracted"):
        jail.apply(build_tar(hardlink("h", str(jail.outside / "secret"))))
    untouched()


def test_hardlink_through_outside_symlink_is_refused(
    jail: Jail, untouched: Callable[[], None]
) -> None:
    with pytest.raises(InvalidArgument, match="not a file extracted"):
        jail.apply(build_tar(symlink("evil", str(jail.outside)), hardlink("h", "evil/secret")))
    untouched()


def test_hardlink_to_symlink_links_the_symlink(jail: Jail, untouched: Callable[[], None]) -> None:
    tar = build_tar(
        symlink("evil", str(jail.outside / "secret")),
        hardlink("h", "evil"),
        entry("h", data=b"pwned"),
    )
    jail.apply(tar)
    assert jail.inside("h").read_bytes() == b"pwned"
    assert os.path.islink(jail.target / "evil")
    untouched()


def test_hardlink_to_absolute_path_stays_inside(jail: Jail, untouched: Callable[[], None]) -> None:
    jail.apply(build_tar(entry("etc/passwd", data=b"root"), hardlink("h", "/etc/passwd")))
    assert os.stat(jail.target / "h").st_ino == os.stat(jail.target / "etc/passwd").st_ino
    assert os.stat(jail.target / "h").st_ino != os.stat("/etc/passwd").st_ino
    untouched()


def test_whiteouts_through_symlinks_stay_inside(jail: Jail, untouched: Callable[[], None]) -> None:
    jail.apply(whiteouts_through_symlinks(jail))
    untouched()


@pytest.mark.skipif(capable(CAP_MKNOD), reason="checks the path without CAP_MKNOD")
def test_device_nodes_are_skipped_without_cap_mknod(jail: Jail) -> None:
    jail.apply(build_tar(entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3)))
    assert not jail.inside("dev/null").exists()


def test_replacing_a_parent_later_in_the_tar_is_still_contained(
    jail: Jail, untouched: Callable[[], None]
) -> None:
    """A dir or symlink swapped for a symlink mid-tar must not keep its old meaning."""
    tar = build_tar(
        entry("d/", tarfile.DIRTYPE),
        entry("d/a", data=b"a"),
        symlink("d", str(jail.outside)),
        entry("d/b", data=b"b"),
        entry("x/", tarfile.DIRTYPE),
        symlink("s", "x"),
        entry("s/f1", data=b"1"),
        symlink("s", "../../../outside/dir"),
        entry("s/file", data=b"2"),
    )
    jail.apply(tar)
    assert jail.inside(str(jail.outside / "b")).read_bytes() == b"b"
    assert jail.inside("x/f1").read_bytes() == b"1"
    assert jail.inside("outside/dir/file").read_bytes() == b"2"
    untouched()
