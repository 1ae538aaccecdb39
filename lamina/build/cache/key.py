"""Build-cache keys made of named inputs, so a miss can say which input changed.

A `CacheKey` is a sorted tuple of (name, value) inputs; its digest is sha256 over a
canonical encoding of them and is the key the cache index stores results under. The
index is global to the daemon: another Dockerfile in another folder that computes the
same key gets the same layer. Input names:

    kind              the instruction keyword (RUN, COPY, ...)
    parent            chain ID and config digest of the image before the step
    platform          target platform
    instruction       the instruction after variable expansion (heredoc bodies included)
    env:<NAME>        RUN: every ENV the command sees
    arg:<NAME>        RUN: every build arg in scope that has a value
    shell network security mounts                  RUN options
    files from chown chmod link dest               COPY/ADD; `files` is the selection checksum

Which args count: BuildKit puts every build arg in scope into the RUN's environment, so
all of them (with a value) key a RUN, used or not. Other instructions see args only
through variable expansion, which the expanded `instruction` already covers.

`detail` holds what explains but must not count twice: `file:<name>` per selected entry
(its checksum is already `files`), `site` (Dockerfile, stage and line, to find the
previous build of this step) and `parent_step`. It is not part of the digest.

Every key starts from an `Origin`: the step's parent and platform (inputs) and its site
and parent step (detail). Why a key missed is `lamina.build.cache.explain`'s; where
results are kept is `lamina.build.cache.index`'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from lamina.oci import digest as digests
from lamina.oci.digest import Digest

_VERSION = "lamina-cachekey-v1\n"


@dataclass(frozen=True)
class CacheKey:
    inputs: tuple[tuple[str, str], ...]
    detail: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        names = [name for name, _ in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate cache key inputs: {sorted(names)}")
        object.__setattr__(self, "inputs", tuple(sorted(self.inputs)))

    @cached_property
    def digest(self) -> Digest:
        encoded = json.dumps(self.inputs, ensure_ascii=False, separators=(",", ":"))
        return digests.of_bytes((_VERSION + encoded).encode("utf-8", "surrogatepass"))

    def get(self, name: str) -> str | None:
        return dict(self.inputs).get(name)

    @property
    def kind(self) -> str:
        return self.get("kind") or ""

    @property
    def parent(self) -> str:
        return self.get("parent") or ""

    @property
    def site(self) -> str:
        return self.detail.get("site", "")


@dataclass(frozen=True)
class Origin:
    """Where a step starts, as every key of it has it: the image before it (`parent`:
    its chain ID and config digest) and the `platform` are inputs; its `site`
    (Dockerfile, stage, line) and `parent_step` (the step that made the parent) only
    explain a miss."""

    parent: str
    platform: str = ""
    site: str = ""
    parent_step: int | None = None


def _key(
    kind: str,
    origin: Origin,
    instruction: str,
    extra: Sequence[tuple[str, str]],
    *,
    with_parent: bool = True,
    detail: Mapping[str, str] | None = None,
) -> CacheKey:
    inputs = [("kind", kind), ("instruction", instruction), ("platform", origin.platform)]
    inputs += extra
    if with_parent:
        inputs.append(("parent", origin.parent))
    info = dict(detail or {})
    if origin.site:
        info["site"] = origin.site
    if origin.parent_step is not None:
        info["parent_step"] = str(origin.parent_step)
    return CacheKey(tuple(inputs), info)


def run_key(
    origin: Origin,
    instruction: str,
    *,
    env: Mapping[str, str],
    args: Mapping[str, str],
    shell: Sequence[str] = (),
    network: str = "default",
    security: str = "sandbox",
    mounts: Sequence[str] = (),
) -> CacheKey:
    """Key of a RUN. `mounts` are canonical descriptions, each including the checksum
    of what a bind mount exposes; cache-mount contents are deliberately not keyed."""
    extra = [(f"env:{name}", value) for name, value in env.items()]
    extra += [(f"arg:{name}", value) for name, value in args.items()]
    extra += [("shell", json.dumps(list(shell))), ("network", network)]
    extra += [("security", security), ("mounts", "\n".join(mounts))]
    return _key("RUN", origin, instruction, extra)


def copy_key(
    origin: Origin,
    instruction: str,
    files: str,
    *,
    file_detail: Mapping[str, str] | None = None,
    from_: str = "",
    chown: str = "",
    chmod: str = "",
    link: bool = False,
    dest: str = "",
) -> CacheKey:
    """Key of a COPY/ADD; `files` is the selection checksum, `file_detail` its per-entry
    lines (`Selection.files`). With `link` the parent is left out: a `--link` layer is
    built on an empty tree, so it is reusable on any parent (BuildKit's point of it)."""
    kind = instruction.split(None, 1)[0].upper() if instruction.strip() else "COPY"
    extra = [("files", files), ("from", from_), ("chown", chown), ("chmod", chmod)]
    extra += [("link", "true" if link else "false"), ("dest", dest)]
    detail = {f"file:{name}": line for name, line in (file_detail or {}).items()}
    return _key(kind, origin, instruction, extra, with_parent=not link, detail=detail)


def meta_key(origin: Origin, instruction: str) -> CacheKey:
    """Key of a step that depends only on its parent and its text: ENV, LABEL, USER,
    CMD, ... and WORKDIR, which BuildKit also runs as a mkdir (its record has a layer)."""
    kind = instruction.split(None, 1)[0].upper() if instruction.strip() else ""
    return _key(kind, origin, instruction, ())
