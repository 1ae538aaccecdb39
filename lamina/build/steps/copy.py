"""COPY and ADD steps: sources from the context, a stage, an image, or heredocs.

The copies (`select_copies`) are selected before the cache lookup, because their
checksum is the key's `files`: for the build context that costs a walk and a stat per
file (contents come from the stat cache), for `--from` a read-only view of that image.
Whether the destination is an existing directory can only be answered inside the
image, so the selection first assumes not, and on a miss is made again if the image
says otherwise (the checksum does not depend on it; the parent, which decides it, is
in the key anyway).
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lamina.build.cache.key import CacheKey, Origin, copy_key
from lamina.build.commit import Committer
from lamina.build.context.folder import BuildContext, Selection
from lamina.build.context.statcache import StatCache
from lamina.build.copy.apply import Owner, apply_copies
from lamina.build.copy.links import LinkIndex
from lamina.build.copy.select import Copies, Ownership, select_copies
from lamina.build.imagestate import ImageState
from lamina.build.progress.events import Progress
from lamina.build.sandbox.scratch import Scratch
from lamina.build.scope import Scope
from lamina.build.sources import Sources, Tree
from lamina.build.steps.step import Result, Step
from lamina.dockerfile.config import env_of
from lamina.dockerfile.instructions import AddInstr, CopyInstr
from lamina.dockerfile.location import DockerfileError, Location
from lamina.dockerfile.words import Lexer
from lamina.errors import InvalidArgument
from lamina.oci.digest import Digest
from lamina.runtime.users import resolve_user
from lamina.store.rootpath import resolve_in_root


@dataclass(frozen=True, kw_only=True)
class CopyTools:
    """What COPY and ADD steps use: the sources they read, scratch space, the layer
    files they may hard-link, the committer, and where progress goes."""

    sources: Sources
    scratch: Scratch
    links: LinkIndex
    committer: Committer
    progress: Progress


@dataclass
class _DirProbe:
    """Answers `dest_is_dir` with "no" and remembers the question."""

    asked: list[str] = field(default_factory=list)

    def __call__(self, path: str) -> bool:
        self.asked.append(path)
        return False


@dataclass(frozen=True)
class _Words:
    keyword: str
    sources: list[str]
    dest: str
    from_: str
    chown: str
    chmod: str
    link: bool

    @property
    def text(self) -> str:
        flags = [f"--from={self.from_}"] if self.from_ else []
        flags += [f"--chown={self.chown}"] if self.chown else []
        flags += [f"--chmod={self.chmod}"] if self.chmod else []
        flags += ["--link"] if self.link else []
        return " ".join([self.keyword, *flags, *self.sources, self.dest])


def copy_step(
    instr: CopyInstr | AddInstr,
    state: ImageState,
    scope: Scope,
    origin: Origin,
    *,
    tools: CopyTools,
    stack: contextlib.ExitStack,
) -> Step:
    words = _expand(instr, state, scope)
    where = instr.location
    probe = _DirProbe()
    try:
        tree = tools.sources.tree(words.from_, stack)
        docs = _heredoc_tree(tools.scratch, instr, state, scope, stack) if instr.heredocs else None

        def select(dest_is_dir: Callable[[str], bool], *, remember: bool = True) -> Copies:
            source = tree if remember else replace(tree, memo=None)
            return _select(source, docs, instr, words, state, dest_is_dir)

        copies = select(probe)
    except InvalidArgument as err:
        raise DockerfileError.at(where, str(err)) from err

    def key(detail: bool) -> CacheKey:
        return copy_key(
            origin, words.text, copies.selection.checksum,
            file_detail=copies.selection.files if detail else None,
            from_=words.from_, chown=words.chown, chmod=words.chmod, link=words.link,
            dest=copies.dest,
        )  # fmt: skip

    def execute(n: int) -> Result:
        def final(rootfs: Path) -> Copies:
            if probe.asked and not words.link and _is_dir(rootfs, probe.asked[0]):
                # Not remembered: it would replace the copies every build's first pass
                # (whose probe answers False) finds valid, and a no-op rebuild after
                # this one would select the whole context again.
                return select(lambda _path: True, remember=False)
            return copies

        return _execute(tools, state, final, words, where)

    return Step(key(False), execute, detailed=lambda: key(True), link=words.link)


def _expand(instr: CopyInstr | AddInstr, state: ImageState, scope: Scope) -> _Words:
    env = env_of(state.env_list)
    keyword = "ADD" if isinstance(instr, AddInstr) else "COPY"
    from_ = instr.from_ if isinstance(instr, CopyInstr) and instr.from_ else ""
    sources = [scope.word(s, env) for s in instr.sources]
    sources += [f"<<{h.name}" for h in instr.heredocs]
    return _Words(
        keyword, sources, scope.word(instr.dest, env), scope.word(from_, env) if from_ else "",
        scope.word(instr.chown, env) if instr.chown else "",
        scope.word(instr.chmod, env) if instr.chmod else "", instr.link,
    )  # fmt: skip


def _select(
    tree: Tree,
    docs: Tree | None,
    instr: CopyInstr | AddInstr,
    words: _Words,
    state: ImageState,
    dest_is_dir: Callable[[str], bool],
) -> Copies:
    paths = [s for s in words.sources if not s.startswith("<<")]
    copies = _select_sources(tree, instr, words, state, paths, dest_is_dir) if paths else None
    if docs is not None:
        names = [posixpath.basename(h.name) for h in instr.heredocs]
        extra = _select_sources(docs, instr, words, state, names, dest_is_dir)
        copies = extra if copies is None else _merge(copies, extra)
    if copies is None:
        raise InvalidArgument(f"{words.keyword} needs a source")
    return copies


def _select_sources(
    tree: Tree,
    instr: CopyInstr | AddInstr,
    words: _Words,
    state: ImageState,
    sources: list[str],
    dest_is_dir: Callable[[str], bool],
) -> Copies:
    select = tree.memo.select if tree.memo is not None else select_copies
    return select(
        tree.context, sources, words.dest, workdir=state.workdir,
        add=isinstance(instr, AddInstr), chown=words.chown or None, chmod=words.chmod or None,
        dest_is_dir=dest_is_dir, tree_name=tree.name,
    )  # fmt: skip


def _heredoc_tree(
    scratch: Scratch,
    instr: CopyInstr | AddInstr,
    state: ImageState,
    scope: Scope,
    stack: contextlib.ExitStack,
) -> Tree:
    """The heredoc bodies as files in a temporary folder, named after their delimiters."""
    # Bodies keep their quotes: only variables are expanded (and not for `<<'EOF'`).
    lexer = Lexer(scope.lexer.escape, skip_process_quotes=True)
    variables = scope.variables(env_of(state.env_list))
    folder = scratch.folder("heredocs", stack)
    folder.chmod(0o755)
    for doc in instr.heredocs:
        body = lexer.process_word(doc.body, variables) if doc.expand else doc.body
        path = folder / posixpath.basename(doc.name)
        path.write_text(body, encoding="utf-8", errors="surrogateescape")
        path.chmod(0o644)
    context = BuildContext(folder, reset_ownership=True, stat_cache=StatCache(None))
    return Tree(context, "heredoc")


def _merge(first: Copies, second: Copies) -> Copies:
    """Context sources and heredocs in one COPY: one selection, one checksum over both."""
    joined = f"{first.selection.checksum}\n{second.selection.checksum}".encode()
    checksum = Digest("sha256:" + hashlib.sha256(joined).hexdigest())
    records = first.selection.records + second.selection.records
    return replace(first, items=first.items + second.items, selection=Selection(checksum, records))


def _execute(
    tools: CopyTools,
    state: ImageState,
    final: Callable[[Path], Copies],
    words: _Words,
    where: Location,
) -> Result:
    space = tools.scratch.workspace(state.chain_id)
    try:
        with tools.sources.view(state) as view:
            copies = final(view)
            owner = _owner(copies.chown, view, where)  # names are the image's, --link or not
            try:
                # A --link layer starts from nothing: it fits on any parent.
                written = apply_copies(
                    copies, space.upper, view=None if words.link else view, owner=owner,
                    cancelled=tools.progress.cancel.is_set, index=tools.links,
                )  # fmt: skip
            except InvalidArgument as err:
                raise DockerfileError.at(where, f"{words.keyword} failed: {err}") from err
        new, diff_id = tools.committer.commit(state, created_by=words.text, snapshot=space.id)
        if diff_id is not None and new.chain_id is not None and written:
            tools.links.add(tools.scratch.layer_dirs(new.chain_id)[0], written)
        return new, diff_id
    finally:
        space.remove()


def _owner(ownership: Ownership | None, rootfs: Path, where: Location) -> Owner | None:
    """--chown resolved in the image: a numeric user is its own group (BuildKit's rule),
    a named one takes its primary group; a group given wins."""
    if ownership is None:
        return None
    try:
        if ownership.user.isdigit():
            uid = gid = int(ownership.user)
        else:
            uid, gid, _ = resolve_user(rootfs, ownership.user)
        if ownership.group:
            _, gid, _ = resolve_user(rootfs, f"{uid}:{ownership.group}")
    except InvalidArgument as err:
        raise DockerfileError.at(where, f"--chown: {err}") from err
    return uid, gid


def _is_dir(rootfs: Path, path: str) -> bool:
    return resolve_in_root(rootfs, path).is_dir()
