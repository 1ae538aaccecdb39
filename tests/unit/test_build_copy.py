"""COPY's pieces without a daemon: remembered copies, writing into an upper dir over an
image's view, hard links to layer files, and unpacking a tar context."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from lamina.build.context.folder import BuildContext
from lamina.build.context.ignore import IgnoreMatcher
from lamina.build.context.statcache import StatCache
from lamina.build.context.tar import extract_context
from lamina.build.copy.apply import apply_copies
from lamina.build.copy.memo import CopiesMemo
from lamina.build.copy.select import select_copies
from lamina.errors import InvalidArgument
from tests.support.builds import aged_tree


def never(_: str) -> bool:
    return False


def memo_select(memo: CopiesMemo, context: BuildContext, sources: list[str]) -> object:
    return memo.select(context, sources, ".", workdir="/app", add=False, chown=None, chmod=None,
                     dest_is_dir=never, tree_name="build context")  # fmt: skip


def test_copies_are_remembered_until_something_they_saw_changes(tmp_path: Path) -> None:
    root = aged_tree(tmp_path / "ctx", {"a.txt": "a", "src/b.js": "b", "package.json": "{}"})
    memo = CopiesMemo(racy_window_ns=0)  # utime cannot make ctimes old

    def context() -> BuildContext:
        return BuildContext(root, IgnoreMatcher(), stat_cache=StatCache(None))

    first = memo_select(memo, context(), ["."])
    assert memo_select(memo, context(), ["."]) is first
    (root / "src" / "b.js").write_text("B")  # content change: new mtime and ctime
    second = memo_select(memo, context(), ["."])
    assert second is not first
    assert memo_select(memo, context(), ["."]) is second
    glob = memo_select(memo, context(), ["package*"])
    assert memo_select(memo, context(), ["package*"]) is glob
    (root / "package-lock.json").write_text("{}")  # a new match: the folder changed
    assert memo_select(memo, context(), ["package*"]) is not glob


def test_not_remembered_young_files_or_exceptions(tmp_path: Path) -> None:
    root = aged_tree(tmp_path / "ctx", {"a.txt": "a", "skip/keep.txt": "k"})
    young = BuildContext(root, IgnoreMatcher(), stat_cache=StatCache(None))
    memo = CopiesMemo()  # files changed in the last 2 s may change again unseen
    assert memo_select(memo, young, ["."]) is not memo_select(memo, young, ["."])
    memo = CopiesMemo(racy_window_ns=0)
    context = BuildContext(root, IgnoreMatcher(["skip", "!skip/keep.txt"]))
    first = memo_select(memo, context, ["."])
    assert memo_select(memo, context, ["."]) is not first


def test_copy_into_an_upper_dir_over_a_view(tmp_path: Path) -> None:
    view = aged_tree(tmp_path / "view", {"etc/passwd": "root", "app/old.txt": "old", "bin/x": "x"})
    os.symlink("app", view / "link")
    context = BuildContext(aged_tree(tmp_path / "ctx", {"new.txt": "n", "sub/deep.txt": "d"}),
                           reset_ownership=True, stat_cache=StatCache(None))  # fmt: skip
    upper = tmp_path / "upper"
    upper.mkdir()
    copies = select_copies(context, ["."], "/link/", dest_is_dir=never)
    apply_copies(copies, upper, view=view, owner=None)
    assert sorted(str(p.relative_to(upper)) for p in upper.rglob("*")) == [
        "app", "app/new.txt", "app/sub", "app/sub/deep.txt",
    ]  # fmt: skip
    assert (upper / "app").stat().st_mode == (view / "app").stat().st_mode
    blocked = select_copies(context, ["new.txt"], "/bin", dest_is_dir=never)
    with pytest.raises(InvalidArgument, match="cannot replace directory /bin with a file"):
        apply_copies(blocked, upper, view=view, owner=None)


def test_tar_context_keeps_whiteout_names_and_refuses_escapes(tmp_path: Path) -> None:
    def tar_of(names: list[str]) -> io.BytesIO:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name in names:
                info = tarfile.TarInfo(name)
                info.size = 1
                tar.addfile(info, io.BytesIO(b"x"))
        buf.seek(0)
        return buf

    folder = extract_context(tar_of(["Dockerfile", ".wh.file", "d/.wh..wh..opq"]), tmp_path)
    assert sorted(p.name for p in folder.rglob("*")) == [
        ".wh..wh..opq",
        ".wh.file",
        "Dockerfile",
        "d",
    ]
    with pytest.raises(InvalidArgument, match=r"build context tar: member .* escapes"):
        extract_context(tar_of(["../../evil"]), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]
