"""resolve_user: Docker's --user rules, read from the image's own passwd and group files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lamina.errors import InvalidArgument
from lamina.runtime.users import resolve_in_root, resolve_user

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment, then a malformed line that must not become uid 0
broken:x:notanumber:0::/:/bin/sh
app:x:1000:1000:App:/home/app:/bin/sh
app:x:1001:1001:second entry, ignored:/:/bin/sh
"""
GROUP = """\
root:x:0:
wheel:x:10:root,app
audio:x:29:app
app:x:1000:
staff:x:50:
"""


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    return root


def test_empty_user_is_root_with_roots_groups(rootfs: Path) -> None:
    assert resolve_user(rootfs, "") == (0, 0, [10])


def test_name_gets_primary_gid_and_supplementary_groups(rootfs: Path) -> None:
    assert resolve_user(rootfs, "app") == (1000, 1000, [10, 29])


def test_first_matching_entry_wins(rootfs: Path) -> None:
    assert resolve_user(rootfs, "app")[0] == 1000


def test_numeric_uid_with_entry_uses_its_gid(rootfs: Path) -> None:
    assert resolve_user(rootfs, "1") == (1, 1, [])


def test_numeric_uid_without_entry_gets_gid_0(rootfs: Path) -> None:
    assert resolve_user(rootfs, "4242") == (4242, 0, [])


def test_uid_and_gid_numbers(rootfs: Path) -> None:
    assert resolve_user(rootfs, "4242:4343") == (4242, 4343, [])


def test_name_and_group_name_drop_supplementary_groups(rootfs: Path) -> None:
    assert resolve_user(rootfs, "app:staff") == (1000, 50, [])


def test_name_and_numeric_group(rootfs: Path) -> None:
    assert resolve_user(rootfs, "app:7") == (1000, 7, [])


def test_uid_and_group_name(rootfs: Path) -> None:
    assert resolve_user(rootfs, "4242:audio") == (4242, 29, [])


def test_unknown_name_uses_dockers_wording(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument) as err:
        resolve_user(rootfs, "nobody")
    assert str(err.value) == "unable to find user nobody: no matching entries in passwd file"


def test_unknown_group_name(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument) as err:
        resolve_user(rootfs, "app:nogroup")
    assert str(err.value) == "unable to find group nogroup: no matching entries in group file"


def test_malformed_line_is_skipped_not_root(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument):
        resolve_user(rootfs, "broken")


def test_out_of_range_uid(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument, match="range"):
        resolve_user(rootfs, "-1")


def test_missing_files(tmp_path: Path) -> None:
    assert resolve_user(tmp_path, "") == (0, 0, [])
    assert resolve_user(tmp_path, "12:34") == (12, 34, [])
    with pytest.raises(InvalidArgument, match="unable to find user app"):
        resolve_user(tmp_path, "app")


def test_symlinked_passwd_cannot_escape_the_rootfs(tmp_path: Path) -> None:
    # A host file the image must never see, reachable from the rootfs by `..`.
    secret = tmp_path / "secret" / "passwd"
    secret.parent.mkdir()
    secret.write_text("hostonly:x:0:0::/:/bin/sh\n")
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    for target in ("/../../secret/passwd", "../../secret/passwd", str(secret)):
        (root / "etc" / "passwd").unlink(missing_ok=True)
        os.symlink(target, root / "etc" / "passwd")
        assert resolve_in_root(root, "/etc/passwd").is_relative_to(root)
        with pytest.raises(InvalidArgument, match="unable to find user hostonly"):
            resolve_user(root, "hostonly")
    # The same links work when the rootfs does have the file at that place.
    (root / "secret").mkdir()
    (root / "secret" / "passwd").write_text("inside:x:5:6::/:/bin/sh\n")
    os.unlink(root / "etc" / "passwd")
    os.symlink("../../secret/passwd", root / "etc" / "passwd")
    assert resolve_user(root, "inside") == (5, 6, [])


def test_link_back_to_itself_is_a_loop_not_the_host_file(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    # In a chroot, /etc/passwd -> /../../etc/passwd names itself.
    os.symlink("/../../etc/passwd", tmp_path / "etc" / "passwd")
    with pytest.raises(InvalidArgument, match="symbolic links"):
        resolve_user(tmp_path, "root")


def test_symlinked_etc_directory_is_resolved_inside(tmp_path: Path) -> None:
    (tmp_path / "hostetc").mkdir()
    (tmp_path / "hostetc" / "passwd").write_text("hostonly:x:0:0::/:/bin/sh\n")
    root = tmp_path / "rootfs"
    (root / "usr" / "etc").mkdir(parents=True)
    (root / "usr" / "etc" / "passwd").write_text("inside:x:7:8::/:/bin/sh\n")
    os.symlink("/usr/etc", root / "etc")  # absolute: means <rootfs>/usr/etc
    assert resolve_user(root, "inside") == (7, 8, [])
    os.symlink(str(tmp_path / "hostetc"), root / "etc2")
    assert resolve_in_root(root, "/etc2/passwd") == root.joinpath(
        *str(tmp_path / "hostetc").strip("/").split("/"), "passwd"
    )


def test_symlink_loop_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    os.symlink("passwd", tmp_path / "etc" / "passwd")
    with pytest.raises(InvalidArgument, match="symbolic links"):
        resolve_user(tmp_path, "app")
