"""COPY/ADD source selection: which entries go where, and their checksum.

`select_copies` turns an instruction's sources and destination (variables already
expanded) into `Copies` that `apply_copies` writes and the cache key covers. The
rules are BuildKit's Dockerfile frontend and fsutil's copy:

- Sources are relative to the context root (a leading `/` too); `..` may not leave it.
  A source that names a symlink is followed, inside the root.
- Wildcards use Go's `filepath.Match` (`*`, `?`, `[...]`, `\\` escapes). The part before
  the first wildcard component is a directory; below it each path is matched whole
  (so `*` never crosses `/`), and a matched directory is not searched further. A
  wildcard that matches nothing selects nothing (BuildKit's AllowEmptyWildcard); a
  literal source that does not exist is an error.
- A directory source copies its contents, never the directory itself.
- The destination is relative to WORKDIR. It is a directory to copy *into* when it ends
  in `/`, is `.`, or already exists as a directory in the image (`dest_is_dir`);
  more than one source then requires it (Docker's error message).
- ADD of a local file that is a tar (plain, gzip, bzip2, xz), judged by its content as
  Docker does, is marked `extract`. ADD from a URL is not supported yet.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from lamina.build.context.folder import BuildContext, Entry, EntryType, Selection, clean_relpath
from lamina.build.context.ignore import filepath_match
from lamina.errors import InvalidArgument

_URL_PREFIXES = ("http://", "https://", "git://", "git@", "ssh://")
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class Ownership:
    """`--chown` as written; the executor resolves names against the image's
    /etc/passwd and /etc/group. `group=None`: the user's primary group (Docker)."""

    user: str
    group: str | None = None


class CopyItem(NamedTuple):  # a NamedTuple: copies of 20,000 files are made per COPY
    entry: Entry  # as found in the source tree (symlinks below a source are kept)
    source: str  # host path to read
    dest: str  # absolute path in the image
    extract: bool = False  # ADD of a local archive: unpack it into `dest`


@dataclass(frozen=True)
class Copies:
    """What one COPY or ADD does: each entry and its destination, and their checksum."""

    items: tuple[CopyItem, ...]  # in copy order: a later item overwrites an earlier one
    selection: Selection  # checksum for the cache key; names are the sources as requested
    dest: str  # absolute, normalized
    dest_is_dir: bool
    chown: Ownership | None
    chmod: int | None


def _never(_: str) -> bool:
    return False


def select_copies(
    tree: BuildContext,
    sources: Sequence[str],
    dest: str,
    *,
    workdir: str = "/",
    add: bool = False,
    chown: str | None = None,
    chmod: str | None = None,
    dest_is_dir: Callable[[str], bool] = _never,
    tree_name: str = "build context",
) -> Copies:
    """The copies of a COPY (or ADD, `add=True`) of `sources` from `tree` to `dest`.

    `tree` is the build context, or for `--from` a stage's or image's root filesystem
    (a BuildContext without ignore patterns); `tree_name` names it in errors.
    `dest_is_dir(path)` tells whether `path` is an existing directory in the image.
    Errors are InvalidArgument naming the source; the caller prefixes `Dockerfile:N:`.
    """
    command = "ADD" if add else "COPY"
    owner = parse_chown(chown) if chown is not None else None
    mode = parse_chmod(chmod) if chmod is not None else None
    dest_path = resolve_dest(dest, workdir)
    into = dest in ("", ".") or dest.endswith("/") or dest_path == "/" or dest_is_dir(dest_path)
    picked = [pick for source in sources for pick in _pick(tree, source, command, tree_name)]
    if len(picked) > 1 and not into:
        raise InvalidArgument(
            f"When using {command} with more than one source file, "
            "the destination must be a directory and end with a /"
        )
    items: list[CopyItem] = []
    named: list[tuple[str, Entry]] = []
    for name, entry in picked:
        for item_name, item in _expand(tree, name, entry, dest_path, into=into, add=add):
            items.append(item)
            named.append((item_name, item.entry))
    return Copies(tuple(items), tree.select(named), dest_path, into, owner, mode)


def _pick(tree: BuildContext, source: str, command: str, tree_name: str) -> list[tuple[str, Entry]]:
    """The (requested name, followed entry) pairs one source stands for."""
    if source.startswith(_URL_PREFIXES):
        if command == "ADD":
            raise InvalidArgument("ADD from a URL is not supported yet")
        raise InvalidArgument(f"COPY failed: source can't be a URL for COPY: {source}")
    try:
        rel = clean_relpath(source)
    except InvalidArgument as err:
        raise InvalidArgument(f"{command} failed: {err}") from None
    names = _glob(tree, rel) if contains_wildcards(rel) else [rel]
    if names is None:
        raise _not_found(tree, command, source, tree_name)
    picked: list[tuple[str, Entry]] = []
    for name in names:
        entry = tree.lstat(tree.resolve(name))
        if entry is None:
            raise _not_found(tree, command, source, tree_name)
        picked.append((name, entry))
    return picked


def _not_found(tree: BuildContext, command: str, source: str, tree_name: str) -> InvalidArgument:
    excluded = " or excluded by .dockerignore" if tree.ignore else ""
    return InvalidArgument(f'{command} failed: "{source}": not found in the {tree_name}{excluded}')


def _expand(
    tree: BuildContext, name: str, entry: Entry, dest: str, *, into: bool, add: bool
) -> list[tuple[str, CopyItem]]:
    """The items one picked source copies: a file to one place, a directory's tree."""
    source = tree.abspath(entry.relpath)
    if entry.type is not EntryType.DIR:
        if add and entry.type is EntryType.FILE and is_archive(source):
            return [(name, CopyItem(entry, source, dest, extract=True))]
        target = posixpath.join(dest, posixpath.basename(name) or ".") if into else dest
        return [(name, CopyItem(entry, source, posixpath.normpath(target)))]
    cut = len(entry.relpath) + 1 if entry.relpath else 0
    name_prefix = name + "/" if name else ""
    dest_prefix = dest if dest.endswith("/") else dest + "/"
    out: list[tuple[str, CopyItem]] = []
    for sub in tree.walk(entry.relpath):
        suffix = sub.relpath[cut:]  # "" for the directory itself
        item = CopyItem(sub, tree.abspath(sub.relpath), dest_prefix + suffix if suffix else dest)
        out.append((name_prefix + suffix if suffix else name, item))
    return out


def _glob(tree: BuildContext, rel: str) -> list[str] | None:
    """Matches of a wildcard relpath, in walk order (fsutil's ResolveWildcards); None
    if the directory before the first wildcard does not exist (an error there too)."""
    parts = rel.split("/")
    fixed = next(i for i, part in enumerate(parts) if contains_wildcards(part))
    base = tree.resolve("/".join(parts[:fixed]))
    if tree.lstat(base) is None:
        return None
    pattern = "/".join(parts[fixed:])
    depth = len(parts) - fixed
    level = [""]
    found: list[str] = []
    for step in range(depth):
        next_level: list[str] = []
        for sub in level:
            for name, is_dir in _children(tree, posixpath.join(base, sub) if sub else base):
                path = posixpath.join(sub, name) if sub else name
                if step == depth - 1 or not is_dir:
                    if filepath_match(pattern, path):
                        found.append(path)
                elif filepath_match("/".join(pattern.split("/")[: step + 1]), path):
                    next_level.append(path)
        level = next_level
    # Walk order is depth-first by name; paths differ only in their last part per level.
    found.sort(key=lambda p: p.split("/"))
    prefix = "/".join(parts[:fixed])
    present = [p for p in found if tree.lstat(posixpath.join(base, p) if base else p)]
    return [posixpath.join(prefix, p) if prefix else p for p in present]


def _children(tree: BuildContext, reldir: str) -> list[tuple[str, bool]]:
    if tree.ignore.state(reldir)[0] and not tree.ignore.may_include_below(reldir):
        return []
    try:
        with os.scandir(tree.abspath(reldir)) as scan:
            return sorted((child.name, child.is_dir(follow_symlinks=False)) for child in scan)
    except (FileNotFoundError, NotADirectoryError):
        return []


def contains_wildcards(path: str) -> bool:
    """Go's containsWildcards: `*`, `?` or `[` not escaped by `\\`."""
    i = 0
    while i < len(path):
        if path[i] == "\\":
            i += 1
        elif path[i] in "*?[":
            return True
        i += 1
    return False


def resolve_dest(dest: str, workdir: str) -> str:
    """The absolute, normalized destination path (relative ones are under `workdir`)."""
    joined = dest if dest.startswith("/") else posixpath.join("/", workdir or "/", dest)
    return "/" + posixpath.normpath(joined).lstrip("/")


def parse_chmod(value: str) -> int:
    """An octal mode between 0 and 07777 (what BuildKit accepts as numeric)."""
    if not value or any(ch not in "01234567" for ch in value) or int(value, 8) > 0o7777:
        raise InvalidArgument(
            f"invalid chmod parameter: '{value}'. it should be octal string and between 0 and 07777"
        )
    return int(value, 8)


def parse_chown(value: str) -> Ownership:
    """`user`, `user:group`, `uid`, `uid:gid` — names are resolved later, in the image."""
    user, sep, group = value.partition(":")
    if not user or (sep and not group) or ":" in group:
        raise InvalidArgument(f"invalid --chown value {value!r}: expected user[:group]")
    return Ownership(user, group if sep else None)


def is_archive(path: str) -> bool:
    """Is the file a tar, plain or compressed? (BuildKit's isArchivePath: by content.)"""
    try:
        with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb") as stream:
            head = stream.read(4)
            if head == _ZSTD_MAGIC:
                raise InvalidArgument(f"ADD of a zstd archive is not supported yet: {path}")
            stream.seek(0)
            with tarfile.open(fileobj=stream, mode="r|*") as archive:
                return archive.next() is not None
    except (tarfile.TarError, EOFError, OSError, ValueError, io.UnsupportedOperation):
        return False
