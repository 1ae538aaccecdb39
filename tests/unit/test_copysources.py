"""COPY/ADD source selection: globs, directories, destinations, archives, errors."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
from pathlib import Path

import pytest

from lamina.build.context.folder import BuildContext
from lamina.build.context.ignore import IgnoreMatcher
from lamina.build.copy.select import (
    Ownership,
    contains_wildcards,
    is_archive,
    parse_chmod,
    parse_chown,
    resolve_dest,
    select_copies,
)
from lamina.errors import InvalidArgument
from tests.unit.test_build_context import make_tree

TREE: dict[str, str | bytes | None] = {
    "a.txt": "a",
    "b.txt": "b",
    "c.md": "c",
    "src/index.ts": "index",
    "src/sub/y.ts": "y",
    "src/sub/z.js": "z",
    "lib/one/x.ts": "x1",
    "lib/two/x.ts": "x2",
    "docs/README.md": "readme",
    "docs/other.md": "other",
    "weird[1].txt": "w",
    "star*.txt": "s",
    "linkdir": "-> src",
    "linkfile": "-> /a.txt",
    "dangling": "-> nowhere",
}


@pytest.fixture
def ctx(tmp_path: Path) -> BuildContext:
    return BuildContext(make_tree(tmp_path / "ctx", TREE))


def copies(
    ctx: BuildContext, sources: list[str], dest: str, **options: object
) -> list[tuple[str, str]]:
    selected = select_copies(ctx, sources, dest, **options)  # type: ignore[arg-type]
    return [(item.entry.relpath, item.dest) for item in selected.items]


# (sources, dest, workdir, expected (context path, image path) pairs)
CASES = [
    (["a.txt"], "/d/", "/", [("a.txt", "/d/a.txt")]),
    (["a.txt"], "/d", "/", [("a.txt", "/d")]),  # no slash: the file is named /d
    (["a.txt"], "x", "/work", [("a.txt", "/work/x")]),
    (["a.txt"], ".", "/work", [("a.txt", "/work/a.txt")]),
    (["a.txt"], "", "/work", [("a.txt", "/work/a.txt")]),
    (["/a.txt"], "/", "/", [("a.txt", "/a.txt")]),  # a leading / is the context root
    (["./src/../a.txt"], "/d/", "/", [("a.txt", "/d/a.txt")]),
    (["a.txt", "b.txt"], "/d/", "/", [("a.txt", "/d/a.txt"), ("b.txt", "/d/b.txt")]),
    (["a.txt", "b.txt"], ".", "/w", [("a.txt", "/w/a.txt"), ("b.txt", "/w/b.txt")]),
    (["*.txt"], "/d/", "/", [("a.txt", "/d/a.txt"), ("b.txt", "/d/b.txt"),
                             ("star*.txt", "/d/star*.txt"), ("weird[1].txt", "/d/weird[1].txt")]),
    (["?.txt"], "/d/", "/", [("a.txt", "/d/a.txt"), ("b.txt", "/d/b.txt")]),
    (["[ab].txt"], "/d/", "/", [("a.txt", "/d/a.txt"), ("b.txt", "/d/b.txt")]),
    (["[^a].txt"], "/d/", "/", [("b.txt", "/d/b.txt")]),
    # Docker's documented way to name a file with pattern characters: a class.
    (["weird[[]1].txt"], "/d/", "/", [("weird[1].txt", "/d/weird[1].txt")]),
    (["star[*].txt"], "/d/", "/", [("star*.txt", "/d/star*.txt")]),
    (["src/*/y.ts"], "/d/", "/", [("src/sub/y.ts", "/d/y.ts")]),
    (["*/*/x.ts"], "/d/", "/", [("lib/one/x.ts", "/d/x.ts"), ("lib/two/x.ts", "/d/x.ts")]),
    (["src/*.ts"], "/d/", "/", [("src/index.ts", "/d/index.ts")]),  # * does not cross /
    (["*.none"], "/d/", "/", []),  # an empty wildcard selects nothing (BuildKit)
    # A directory copies its contents; the directory itself becomes the destination.
    (["src"], "/app", "/", [("src", "/app"), ("src/index.ts", "/app/index.ts"),
                            ("src/sub", "/app/sub"), ("src/sub/y.ts", "/app/sub/y.ts"),
                            ("src/sub/z.js", "/app/sub/z.js")]),
    (["src/sub/"], "/app/", "/", [("src/sub", "/app"), ("src/sub/y.ts", "/app/y.ts"),
                                  ("src/sub/z.js", "/app/z.js")]),
    (["lib/*"], "/l/", "/", [("lib/one", "/l"), ("lib/one/x.ts", "/l/x.ts"),
                             ("lib/two", "/l"), ("lib/two/x.ts", "/l/x.ts")]),
    # Symlinked sources are followed (inside the root); the name stays the requested one.
    (["linkdir/sub"], "/d", "/", [("src/sub", "/d"), ("src/sub/y.ts", "/d/y.ts"),
                                  ("src/sub/z.js", "/d/z.js")]),
    (["linkfile"], "/d/", "/", [("a.txt", "/d/linkfile")]),
    (["link*"], "/d/", "/", [("src", "/d"), ("src/index.ts", "/d/index.ts"),
                             ("src/sub", "/d/sub"), ("src/sub/y.ts", "/d/sub/y.ts"),
                             ("src/sub/z.js", "/d/sub/z.js"), ("a.txt", "/d/linkfile")]),
]  # fmt: skip


@pytest.mark.parametrize(("sources", "dest", "workdir", "expected"), CASES)
def test_copy_selections(
    ctx: BuildContext, sources: list[str], dest: str, workdir: str, expected: list[tuple[str, str]]
) -> None:
    assert copies(ctx, sources, dest, workdir=workdir) == expected


def test_existing_directory_destination_means_into(ctx: BuildContext) -> None:
    assert copies(ctx, ["a.txt"], "/etc", dest_is_dir=lambda p: p == "/etc") == [
        ("a.txt", "/etc/a.txt")
    ]
    selected = select_copies(ctx, ["a.txt", "b.txt"], "/etc", dest_is_dir=lambda p: p == "/etc")
    assert selected.dest_is_dir and selected.dest == "/etc"


@pytest.mark.parametrize(
    ("sources", "dest"), [(["a.txt", "b.txt"], "/d"), (["*.txt"], "/d"), (["src", "lib"], "x")]
)
def test_more_than_one_source_needs_a_directory(
    ctx: BuildContext, sources: list[str], dest: str
) -> None:
    message = (
        "When using COPY with more than one source file, "
        "the destination must be a directory and end with a /"
    )
    with pytest.raises(InvalidArgument, match=message):
        select_copies(ctx, sources, dest)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("missing.txt", 'COPY failed: "missing.txt": not found in the build context'),
        ("src/missing/*.ts", '"src/missing/\\*.ts": not found'),  # its directory must exist
        ("src/*.none", None),  # but a wildcard may match nothing
        ("dangling", 'COPY failed: "dangling": not found'),
        ("../x", "COPY failed: forbidden path outside the build context: ../x"),
        ("src/../../x", "forbidden path outside the build context: src/../../x"),
        ("https://example.com/a", "source can't be a URL for COPY"),
    ],
)
def test_source_errors(ctx: BuildContext, source: str, message: str | None) -> None:
    if message is None:
        assert copies(ctx, [source], "/d/") == []
        return
    with pytest.raises(InvalidArgument, match=message):
        select_copies(ctx, [source], "/d/")


def test_excluded_sources_are_not_found(tmp_path: Path) -> None:
    ignore = IgnoreMatcher.from_lines(["docs", "!docs/README.md", "*.md"])
    ctx = BuildContext(make_tree(tmp_path / "ctx", TREE), ignore)
    with pytest.raises(
        InvalidArgument, match=r'"c\.md": not found .* or excluded by \.dockerignore'
    ):
        select_copies(ctx, ["c.md"], "/d/")
    with pytest.raises(InvalidArgument, match=r"excluded by \.dockerignore"):
        select_copies(ctx, ["docs/other.md"], "/d/")
    assert copies(ctx, ["docs"], "/d/") == [("docs", "/d"), ("docs/README.md", "/d/README.md")]
    assert copies(ctx, ["*.md"], "/d/") == []  # excluded matches are not matches
    assert copies(ctx, ["docs/*.md"], "/d/") == [("docs/README.md", "/d/README.md")]


def test_from_stage_rootfs_uses_the_same_rules(tmp_path: Path) -> None:
    rootfs = BuildContext(make_tree(tmp_path / "rootfs", {"usr/bin/app": "bin", "etc/x": "x"}))
    assert copies(rootfs, ["/usr/bin/app"], "/bin/") == [("usr/bin/app", "/bin/app")]
    with pytest.raises(InvalidArgument, match=r'"/nope": not found in the stage "build"$'):
        select_copies(rootfs, ["/nope"], "/", tree_name='stage "build"')


def test_selection_checksum_covers_names_and_content(ctx: BuildContext, tmp_path: Path) -> None:
    copies = select_copies(ctx, ["src"], "/app")
    assert set(copies.selection.files) == {"src", "src/index.ts", "src/sub", "src/sub/y.ts",
                                         "src/sub/z.js"}  # fmt: skip
    assert copies.selection.checksum == select_copies(ctx, ["src"], "/elsewhere").selection.checksum
    (tmp_path / "ctx/src/index.ts").write_text("changed")
    assert select_copies(ctx, ["src"], "/app").selection.checksum != copies.selection.checksum
    empty = select_copies(ctx, ["*.none"], "/d/").selection
    assert empty.files == {}


def test_add_marks_local_archives_for_extraction(tmp_path: Path) -> None:
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    raw = payload.getvalue()
    files: dict[str, str | bytes | None] = {
        "plain.tar": raw,
        "a.tgz": gzip.compress(raw),
        "a.tar.bz2": bz2.compress(raw),
        "a.tar.xz": lzma.compress(raw),
        "fake.tar.gz": "not an archive",
        "zeros.tar": bytes(1024),
        "dir.tar/inner": "x",
    }
    ctx = BuildContext(make_tree(tmp_path / "ctx", files))
    for name in ("plain.tar", "a.tgz", "a.tar.bz2", "a.tar.xz"):
        assert is_archive(str(tmp_path / "ctx" / name)), name
        (item,) = select_copies(ctx, [name], "/opt/x", add=True).items
        assert item.extract and item.dest == "/opt/x"
    for name in ("fake.tar.gz", "zeros.tar"):
        (item,) = select_copies(ctx, [name], "/opt/", add=True).items
        assert not item.extract and item.dest == f"/opt/{name}"
    assert not any(i.extract for i in select_copies(ctx, ["a.tgz"], "/opt/").items)  # COPY
    assert not any(i.extract for i in select_copies(ctx, ["dir.tar"], "/o/", add=True).items)


def test_add_from_a_url_is_not_supported_yet(ctx: BuildContext) -> None:
    with pytest.raises(InvalidArgument, match="ADD from a URL is not supported yet"):
        select_copies(ctx, ["https://example.com/x.tgz"], "/", add=True)


def test_chown_and_chmod(ctx: BuildContext) -> None:
    copies = select_copies(ctx, ["a.txt"], "/d/", chown="app:staff", chmod="0755")
    assert copies.chown == Ownership("app", "staff") and copies.chmod == 0o755
    assert parse_chown("1000") == Ownership("1000", None)
    assert parse_chown("1000:1001") == Ownership("1000", "1001")
    assert parse_chmod("4755") == 0o4755 and parse_chmod("0") == 0
    for bad in ("", ":g", "u:", "a:b:c"):
        with pytest.raises(InvalidArgument, match="invalid --chown value"):
            parse_chown(bad)
    for bad in ("", "8", "0o755", "-1", "17777", "u+x", " 755"):
        with pytest.raises(
            InvalidArgument, match="it should be octal string and between 0 and 07777"
        ):
            parse_chmod(bad)


def test_helpers() -> None:
    assert contains_wildcards("a/*.txt") and contains_wildcards("[ab]")
    assert not contains_wildcards("a\\*b") and not contains_wildcards("plain/path")
    assert resolve_dest("x/", "/work") == "/work/x"
    assert resolve_dest("/abs/../y", "/work") == "/y"
    assert resolve_dest("..", "/") == "/"
    assert resolve_dest("rel", "") == "/rel"
