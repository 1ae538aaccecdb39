"""Build context walking, symlink resolution, selection checksums and the stat cache."""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from lamina.build.context.folder import BuildContext, EntryType, clean_relpath
from lamina.build.context.ignore import IgnoreMatcher
from lamina.build.context.statcache import StatCache
from lamina.errors import InvalidArgument


def make_tree(root: Path, files: dict[str, str | bytes | None]) -> Path:
    """Create files (str/bytes content), directories (None) and symlinks ("-> target")."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir(exist_ok=True)
        elif isinstance(content, str) and content.startswith("-> "):
            path.symlink_to(content[3:])
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


TREE: dict[str, str | bytes | None] = {
    "Dockerfile": "FROM scratch\n",
    "src/index.ts": "console.log(1)\n",
    "src/util/a.ts": "export {}\n",
    "package.json": "{}\n",
    "docs/README.md": "# readme\n",
    "docs/other.md": "other\n",
    "empty": None,
    "link": "-> src/index.ts",
}


class CountingOpener:
    """Counts how many times each file is opened for hashing."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def __call__(self, path: str) -> BinaryIO:
        self.reads.append(path)
        return open(path, "rb")  # StatCache closes it


def walked(ctx: BuildContext, relpath: str = "") -> list[str]:
    return [entry.relpath for entry in ctx.walk(relpath)]


# --- walking ---------------------------------------------------------------------------


def test_walk_is_sorted_depth_first_and_does_not_follow_symlinks(tmp_path: Path) -> None:
    ctx = BuildContext(make_tree(tmp_path / "ctx", TREE))
    assert walked(ctx) == [
        "", "Dockerfile", "docs", "docs/README.md", "docs/other.md", "empty", "link",
        "package.json", "src", "src/index.ts", "src/util", "src/util/a.ts",
    ]  # fmt: skip
    entries = {entry.relpath: entry for entry in ctx.walk()}
    assert entries["link"].type is EntryType.SYMLINK
    assert entries["link"].link_target == "src/index.ts"
    assert entries["src"].type is EntryType.DIR
    assert entries["package.json"].size == 3


def test_walk_of_a_subdirectory_starts_with_itself(tmp_path: Path) -> None:
    ctx = BuildContext(make_tree(tmp_path / "ctx", TREE))
    assert walked(ctx, "src") == ["src", "src/index.ts", "src/util", "src/util/a.ts"]
    assert walked(ctx, "/src/util/") == ["src/util", "src/util/a.ts"]
    assert walked(ctx, "missing") == []


def test_walk_skips_ignored_paths(tmp_path: Path) -> None:
    ignore = IgnoreMatcher.from_lines(["**/*.md", "src/util", "Dockerfile"])
    ctx = BuildContext(make_tree(tmp_path / "ctx", TREE), ignore)
    assert walked(ctx) == ["", "docs", "empty", "link", "package.json", "src", "src/index.ts"]


def test_excluded_directory_is_searched_for_exceptions(tmp_path: Path) -> None:
    ignore = IgnoreMatcher.from_lines(["docs", "!docs/README.md", "src"])
    ctx = BuildContext(make_tree(tmp_path / "ctx", TREE), ignore)
    # docs is sent only as the parent of what the exception re-includes.
    assert [p for p in walked(ctx) if p.startswith(("docs", "src"))] == ["docs", "docs/README.md"]
    assert ctx.lstat("docs") is not None
    assert ctx.lstat("docs/other.md") is None
    assert ctx.lstat("src") is None
    assert walked(ctx, "docs") == ["docs", "docs/README.md"]


def test_excluded_directory_without_survivors_is_not_sent(tmp_path: Path) -> None:
    ignore = IgnoreMatcher.from_lines(["docs", "!docs/missing.md"])
    ctx = BuildContext(make_tree(tmp_path / "ctx", TREE), ignore)
    assert "docs" not in walked(ctx)
    assert ctx.lstat("docs") is None


def test_clean_relpath() -> None:
    assert clean_relpath("./a//b/../c/") == "a/c"
    assert clean_relpath("/abs/x") == "abs/x"
    assert clean_relpath(".") == clean_relpath("/") == ""
    assert clean_relpath("/../x") == "x"  # `..` stops at the root once rooted
    for escaping in ("..", "../x", "a/../../x"):
        with pytest.raises(InvalidArgument, match="outside the build context"):
            clean_relpath(escaping)


def test_resolve_stays_inside_the_root(tmp_path: Path) -> None:
    files: dict[str, str | bytes | None] = {
        "real/file": "x",
        "rel": "-> real",
        "abs": "-> /real",
        "up": "-> ../../../real",
        "chain": "-> rel/file",
        "outside": "-> /etc/passwd",
        "loop1": "-> loop2",
        "loop2": "-> loop1",
    }
    ctx = BuildContext(make_tree(tmp_path / "ctx", files))
    assert ctx.resolve("rel/file") == "real/file"
    assert ctx.resolve("abs/file") == "real/file"
    assert ctx.resolve("up/file") == "real/file"
    assert ctx.resolve("chain") == "real/file"
    assert ctx.resolve("outside") == "etc/passwd"  # the root acts as /
    assert ctx.resolve("real/missing/deeper") == "real/missing/deeper"
    with pytest.raises(InvalidArgument, match="too many levels of symbolic links"):
        ctx.resolve("loop1")


# --- selection checksums ---------------------------------------------------------------


def test_same_tree_in_two_folders_has_the_same_checksum(tmp_path: Path) -> None:
    one = BuildContext(make_tree(tmp_path / "one", TREE))
    two = BuildContext(make_tree(tmp_path / "elsewhere" / "two", TREE))
    assert one.checksum().checksum == two.checksum().checksum
    assert one.checksum("src").checksum == two.checksum("src").checksum
    assert one.checksum("src").checksum != one.checksum().checksum


def test_the_context_roots_own_mode_does_not_count(tmp_path: Path) -> None:
    one = make_tree(tmp_path / "one", TREE)
    two = make_tree(tmp_path / "two", TREE)
    two.chmod(0o700)
    assert BuildContext(one).checksum().checksum == BuildContext(two).checksum().checksum
    assert BuildContext(two).checksum().files[""] == "dir 0755 0:0 "


def test_touch_does_not_change_the_checksum(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", TREE)
    before = BuildContext(root).checksum().checksum
    os.utime(root / "src/index.ts", ns=(1, 1))
    os.utime(root / "src", ns=(2, 2))
    assert BuildContext(root).checksum().checksum == before


def _retarget(root: Path) -> None:
    (root / "link").unlink()
    (root / "link").symlink_to("package.json")


def _hardlink(root: Path) -> None:
    (root / "docs/other.md").unlink()
    os.link(root / "docs/README.md", root / "docs/other.md")


MUTATIONS: dict[str, Callable[[Path], object]] = {
    "content": lambda r: (r / "src/index.ts").write_text("console.log(2)\n"),
    "chmod": lambda r: (r / "package.json").chmod(0o755),
    "setuid": lambda r: (r / "package.json").chmod(0o4644),
    "dir mode": lambda r: (r / "src/util").chmod(0o700),
    "rename": lambda r: (r / "package.json").rename(r / "package2.json"),
    "add": lambda r: (r / "src/new.ts").write_text(""),
    "remove": lambda r: (r / "docs/other.md").unlink(),
    "retarget": _retarget,
    "empty dir": lambda r: (r / "empty/sub").mkdir(),
    "hardlink": _hardlink,
}


@pytest.mark.parametrize("change", sorted(MUTATIONS))
def test_changes_that_matter_change_the_checksum(tmp_path: Path, change: str) -> None:
    root = make_tree(tmp_path / "ctx", TREE)
    before = BuildContext(root).checksum().checksum
    MUTATIONS[change](root)
    assert BuildContext(root).checksum().checksum != before


def test_dockerignore_changes_the_selection(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", TREE)
    full = BuildContext(root).checksum()
    ignored = BuildContext(root, IgnoreMatcher.from_lines(["docs"])).checksum()
    assert ignored.checksum != full.checksum
    assert "docs/README.md" in full.files and "docs/README.md" not in ignored.files
    # Changing an ignored file changes nothing.
    (root / "docs/other.md").write_text("changed")
    assert BuildContext(root, IgnoreMatcher.from_lines(["docs"])).checksum() == ignored


def test_selection_files_describe_each_entry(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", TREE)
    (root / "package.json").chmod(0o640)
    files = BuildContext(root).checksum().files
    uid, gid = os.getuid(), os.getgid()
    assert files["package.json"].startswith(f"file 0640 {uid}:{gid} ")
    assert len(files["package.json"].split()[3]) == 16  # a digest prefix, for diffing
    assert files["link"] == f"symlink 0777 {uid}:{gid} src/index.ts"
    assert files["src"].startswith("dir ")


def test_hardlinks_are_recorded_once(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", {"a": "same", "b": "same"})
    separate = BuildContext(root).checksum()
    (root / "b").unlink()
    os.link(root / "a", root / "b")
    linked = BuildContext(root).checksum()
    assert linked.checksum != separate.checksum
    assert linked.files["b"].startswith("hardlink ") and linked.files["b"].endswith(" a")


# --- the stat cache --------------------------------------------------------------------


def test_stat_cache_avoids_rereading_unchanged_files(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", TREE)
    db = tmp_path / "cache" / "statcache.db"
    first = CountingOpener()
    selection = BuildContext(root, stat_cache=StatCache(db, opener=first, racy_window_ns=0))
    expected = selection.checksum()
    assert len(first.reads) == 6  # every regular file once
    again = CountingOpener()
    ctx = BuildContext(root, stat_cache=StatCache(db, opener=again, racy_window_ns=0))
    assert ctx.checksum() == expected
    assert again.reads == []  # verified by stat alone, from the database


def test_stat_cache_rereads_a_changed_file_only(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", TREE)
    db = tmp_path / "statcache.db"
    BuildContext(root, stat_cache=StatCache(db, racy_window_ns=0)).checksum()
    target = root / "src/index.ts"
    st = target.stat()
    target.write_text("console.log(9)\n")  # same size
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime turned back; ctime moves
    opener = CountingOpener()
    files = BuildContext(root, stat_cache=StatCache(db, opener=opener, racy_window_ns=0))
    fresh = BuildContext(root).checksum()
    assert files.checksum() == fresh
    assert opener.reads == [str(target.resolve())]


def test_stat_cache_notices_a_reused_path(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", TREE)
    db = tmp_path / "statcache.db"
    BuildContext(root, stat_cache=StatCache(db, racy_window_ns=0)).checksum()
    target = root / "package.json"
    st = target.stat()
    replacement = root / "replacement"
    replacement.write_text("[]\n")  # same size, new inode
    os.utime(replacement, ns=(st.st_atime_ns, st.st_mtime_ns))
    replacement.rename(target)
    opener = CountingOpener()
    ctx = BuildContext(root, stat_cache=StatCache(db, opener=opener, racy_window_ns=0))
    assert ctx.checksum() == BuildContext(root).checksum()
    assert str(target.resolve()) in opener.reads


def test_recently_changed_files_are_not_trusted_next_time(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", TREE)
    db = tmp_path / "statcache.db"
    BuildContext(root, stat_cache=StatCache(db)).checksum()  # default 2 s window
    opener = CountingOpener()
    BuildContext(root, stat_cache=StatCache(db, opener=opener)).checksum()
    assert len(opener.reads) == 6  # just written: racy, so hashed again


def test_in_memory_stat_cache_and_prune(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", TREE)
    opener = CountingOpener()
    cache = StatCache(None, opener=opener, racy_window_ns=0)
    BuildContext(root, stat_cache=cache).checksum()
    BuildContext(root, stat_cache=cache).checksum()
    assert len(opener.reads) == 6
    db_cache = StatCache(tmp_path / "statcache.db", racy_window_ns=0)
    BuildContext(root, stat_cache=db_cache).checksum()
    (root / "docs/other.md").unlink()
    (root / "package.json").write_text("changed")
    assert db_cache.prune() == 2
    assert db_cache.prune() == 0


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", {"a": "x"})

    def failing(path: str) -> BinaryIO:
        raise PermissionError(13, "Permission denied", path)

    ctx = BuildContext(root, stat_cache=StatCache(None, opener=failing))
    with pytest.raises(InvalidArgument, match=r"cannot read .*/a: Permission denied"):
        ctx.checksum()


def test_injected_opener_content_is_what_gets_hashed(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", {"a": "x"})
    fake = BuildContext(root, stat_cache=StatCache(None, opener=lambda _: io.BytesIO(b"y")))
    other = make_tree(tmp_path / "other", {"a": "y"})
    assert fake.checksum().files["a"] == BuildContext(other).checksum().files["a"]


# --- performance -----------------------------------------------------------------------


@pytest.mark.slow
def test_warm_checksum_of_a_large_context_rereads_nothing(tmp_path: Path) -> None:
    root = tmp_path / "ctx"
    blob = os.urandom(1 << 16)
    for d in range(200):
        folder = root / f"pkg{d:03d}"
        folder.mkdir(parents=True)
        for f in range(100):
            (folder / f"f{f:03d}.txt").write_bytes(blob[: 1000 + (d * 100 + f) % 9000])
    db = tmp_path / "statcache.db"
    cold = time.perf_counter()
    expected = BuildContext(root, stat_cache=StatCache(db, racy_window_ns=0)).checksum()
    cold = time.perf_counter() - cold
    opener = CountingOpener()
    warm = time.perf_counter()
    ctx = BuildContext(root, stat_cache=StatCache(db, opener=opener, racy_window_ns=0))
    assert ctx.checksum() == expected
    warm = time.perf_counter() - warm
    assert opener.reads == []
    assert warm < cold
    shutil.rmtree(root)
