"""COPY and ADD steps: sources from the context, a stage, an image, or heredocs.

The plan (`plan_copy`) is made before the cache lookup, because its checksum is the
key's `files`: for the build context that costs a walk and a stat per file (contents
come from the stat cache), for `--from` a read-only view of that image. Whether the
destination is an existing directory can only be answered inside the image, so the
plan first assumes not, and on a miss is made again if the image says otherwise (the
checksum does not depend on it; the parent, which decides it, is in the key anyway).
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lamina.build import cachekey
from lamina.build.context import BuildContext, Selection
from lamina.build.copier import Owner, carry_out
from lamina.build.copysources import CopyPlan, Ownership, plan_copy
from lamina.build.imagestate import ImageState
from lamina.build.plan import PlannedStage
from lamina.build.planmemo import PlanMemo
from lamina.build.scope import Scope
from lamina.build.session import Session
from lamina.build.statcache import StatCache
from lamina.build.step import Result, Step
from lamina.containers.users import resolve_user
from lamina.dockerfile.config import env_of
from lamina.dockerfile.instructions import AddInstr, CopyInstr
from lamina.dockerfile.location import DockerfileError, Location
from lamina.dockerfile.words import Lexer
from lamina.errors import InvalidArgument
from lamina.oci.digest import Digest
from lamina.store.rootpath import resolve_in_root


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
    session: Session,
    stage: PlannedStage,
    state: ImageState,
    scope: Scope,
    instr: CopyInstr | AddInstr,
    *,
    stack: contextlib.ExitStack,
    parent_step: int | None,
) -> Step:
    words = _expand(instr, state, scope)
    where = instr.location
    probe = _DirProbe()
    try:
        tree = _tree(session, words, stack)
        docs = _heredoc_tree(session, instr, state, scope, stack) if instr.heredocs else None

        def make_plan(dest_is_dir: Callable[[str], bool], *, remember: bool = True) -> CopyPlan:
            source = tree if remember else replace(tree, memo=None)
            return _plan(source, docs, instr, words, state, dest_is_dir)

        plan = make_plan(probe)
    except InvalidArgument as err:
        raise DockerfileError.at(where, str(err)) from err

    def key(detail: bool) -> cachekey.CacheKey:
        return cachekey.copy_key(
            state.parent_key, words.text, plan.selection.checksum,
            file_detail=plan.selection.files if detail else None,
            from_=words.from_, chown=words.chown, chmod=words.chmod, link=words.link,
            dest=plan.dest, platform=session.platform, site=session.site(stage, instr.line),
            parent_step=parent_step,
        )  # fmt: skip

    def execute(n: int) -> Result:
        def final_plan(rootfs: Path) -> CopyPlan:
            if probe.asked and not words.link and _is_dir(rootfs, probe.asked[0]):
                # Not remembered: it would replace the plan every build's first pass
                # (whose probe answers False) finds valid, and a no-op rebuild after
                # this one would plan the whole context again.
                return make_plan(lambda _path: True, remember=False)
            return plan

        return _execute(session, state, final_plan, words, where)

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


def _plan(
    tree: _Tree,
    docs: _Tree | None,
    instr: CopyInstr | AddInstr,
    words: _Words,
    state: ImageState,
    dest_is_dir: Callable[[str], bool],
) -> CopyPlan:
    paths = [s for s in words.sources if not s.startswith("<<")]
    plan = _plan_sources(tree, instr, words, state, paths, dest_is_dir) if paths else None
    if docs is not None:
        names = [posixpath.basename(h.name) for h in instr.heredocs]
        extra = _plan_sources(docs, instr, words, state, names, dest_is_dir)
        plan = extra if plan is None else _merge(plan, extra)
    if plan is None:
        raise InvalidArgument(f"{words.keyword} needs a source")
    return plan


@dataclass(frozen=True)
class _Tree:
    context: BuildContext
    name: str
    memo: PlanMemo | None = None  # for the build context, read in place


def _tree(session: Session, words: _Words, stack: contextlib.ExitStack) -> _Tree:
    if not words.from_:
        memo = None if session.plan.request.transient else session.plans
        return _Tree(session.context, "build context", memo)
    source, name = session.source_state(words.from_)
    view = stack.enter_context(session.view(source))
    return _Tree(BuildContext(view, stat_cache=StatCache(None)), name)


def _plan_sources(
    tree: _Tree,
    instr: CopyInstr | AddInstr,
    words: _Words,
    state: ImageState,
    sources: list[str],
    dest_is_dir: Callable[[str], bool],
) -> CopyPlan:
    make = tree.memo.plan if tree.memo is not None else plan_copy
    return make(
        tree.context, sources, words.dest, workdir=state.workdir,
        add=isinstance(instr, AddInstr), chown=words.chown or None, chmod=words.chmod or None,
        dest_is_dir=dest_is_dir, tree_name=tree.name,
    )  # fmt: skip


def _heredoc_tree(
    session: Session,
    instr: CopyInstr | AddInstr,
    state: ImageState,
    scope: Scope,
    stack: contextlib.ExitStack,
) -> _Tree:
    """The heredoc bodies as files in a temporary folder, named after their delimiters."""
    # Bodies keep their quotes: only variables are expanded (and not for `<<'EOF'`).
    lexer = Lexer(scope.lexer.escape, skip_process_quotes=True)
    variables = scope.variables(env_of(state.env_list))
    (session.root / "heredocs").mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=session.root / "heredocs"))
    stack.callback(shutil.rmtree, folder, True)
    folder.chmod(0o755)
    for doc in instr.heredocs:
        body = lexer.process_word(doc.body, variables) if doc.expand else doc.body
        path = folder / posixpath.basename(doc.name)
        path.write_text(body, encoding="utf-8", errors="surrogateescape")
        path.chmod(0o644)
    context = BuildContext(folder, reset_ownership=True, stat_cache=StatCache(None))
    return _Tree(context, "heredoc")


def _merge(first: CopyPlan, second: CopyPlan) -> CopyPlan:
    """Context sources and heredocs in one COPY: one plan, one checksum over both."""
    joined = f"{first.selection.checksum}\n{second.selection.checksum}".encode()
    checksum = Digest("sha256:" + hashlib.sha256(joined).hexdigest())
    records = first.selection.records + second.selection.records
    return replace(first, items=first.items + second.items, selection=Selection(checksum, records))


def _execute(
    session: Session,
    state: ImageState,
    final_plan: Callable[[Path], CopyPlan],
    words: _Words,
    where: Location,
) -> Result:
    space = session.workspace(state.chain_id)
    try:
        with session.view(state) as view:
            plan = final_plan(view)
            owner = _owner(plan.chown, view, where)  # names are the image's, --link or not
            try:
                # A --link layer starts from nothing: it fits on any parent.
                written = carry_out(
                    plan, space.upper, view=None if words.link else view, owner=owner,
                    cancelled=session.cancel.is_set, index=session.links,
                )  # fmt: skip
            except InvalidArgument as err:
                raise DockerfileError.at(where, f"{words.keyword} failed: {err}") from err
        new, diff_id = session.committer.commit(
            state, created=session.created(), created_by=words.text, snapshot=space.id,
            epoch=session.epoch,
        )  # fmt: skip
        if diff_id is not None and new.chain_id is not None and written:
            session.links.add(session.images.layers.chain_dirs(new.chain_id)[0], written)
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
