"""Cache keys from named inputs, their explanations, and the cache index."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lamina.build.cache.explain import explain
from lamina.build.cache.index import CacheIndex, CacheResult
from lamina.build.cache.key import CacheKey, Origin, copy_key, meta_key, run_key
from lamina.build.context.folder import BuildContext
from lamina.build.copy.select import select_copies
from tests.unit.test_build_context import TREE, make_tree

PARENT = "sha256:" + "a" * 64 + " sha256:" + "c" * 64
OTHER_PARENT = "sha256:" + "b" * 64 + " sha256:" + "c" * 64
FILES = "sha256:" + "f" * 64


def a_run(**changes: object) -> CacheKey:
    options: dict[str, object] = {
        "env": {"NODE_ENV": "dev", "PATH": "/usr/bin"},
        "args": {"VERSION": "1.1"},
        "shell": ["/bin/sh", "-c"],
        "site": "/ctx/Dockerfile:0:5",
    }
    options.update(changes)
    origin = Origin(
        str(options.pop("parent", PARENT)),
        platform=str(options.pop("platform", "")),
        site=str(options.pop("site")),
        parent_step=options.pop("parent_step", None),  # type: ignore[arg-type]
    )
    instruction = str(options.pop("instruction", "RUN npm i"))
    return run_key(origin, instruction, **options)  # type: ignore[arg-type]


# --- keys ------------------------------------------------------------------------------


def test_digest_is_canonical_and_ignores_detail() -> None:
    one = CacheKey((("a", "1"), ("b", "2")), {"site": "x"})
    two = CacheKey((("b", "2"), ("a", "1")), {"file:y": "z"})
    assert one == two and one.digest == two.digest
    assert one.digest.startswith("sha256:") and len(one.digest) == 71
    assert CacheKey((("a", "1"), ("b", "3"))).digest != one.digest
    # No ambiguity between names and values.
    assert CacheKey((("a", "1b"),)).digest != CacheKey((("a1", "b"),)).digest


def test_duplicate_input_names_are_a_bug() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        CacheKey((("a", "1"), ("a", "2")))


@pytest.mark.parametrize(
    "change",
    [
        {"parent": OTHER_PARENT},
        {"instruction": "RUN npm ci"},
        {"env": {"NODE_ENV": "prod", "PATH": "/usr/bin"}},
        {"env": {"NODE_ENV": "dev"}},
        {"args": {"VERSION": "1.2"}},
        {"args": {}},
        {"shell": ["/bin/bash", "-c"]},
        {"network": "none"},
        {"security": "insecure"},
        {"mounts": ["type=bind,target=/src,checksum=sha256:1"]},
        {"platform": "linux/arm64"},
    ],
)
def test_every_run_input_counts(change: dict[str, object]) -> None:
    assert a_run(**change).digest != a_run().digest


def test_site_and_parent_step_do_not_count() -> None:
    assert a_run(site="/elsewhere/Dockerfile:1:9", parent_step=3).digest == a_run().digest


def test_copy_key_inputs_and_link() -> None:
    base = copy_key(Origin(PARENT), "COPY . /app", FILES, dest="/app")
    assert base.kind == "COPY" and base.get("files") == FILES
    assert copy_key(Origin(PARENT), "COPY . /app", "sha256:" + "e" * 64, dest="/app") != base
    assert copy_key(Origin(PARENT), "COPY . /app", FILES, dest="/app", chmod="755") != base
    assert copy_key(Origin(PARENT), "COPY . /app", FILES, dest="/app", chown="1:1") != base
    assert copy_key(Origin(OTHER_PARENT), "COPY . /app", FILES, dest="/app") != base
    # --link layers do not depend on what they are put on.
    linked = copy_key(Origin(PARENT), "COPY --link . /app", FILES, link=True, dest="/app")
    assert linked.get("parent") is None
    assert (
        copy_key(Origin(OTHER_PARENT), "COPY --link . /app", FILES, link=True, dest="/app")
        == linked
    )
    assert copy_key(Origin(PARENT), "ADD x.tgz /", FILES).kind == "ADD"
    detailed = copy_key(
        Origin(PARENT), "COPY . /app", FILES, dest="/app", file_detail={"a": "file"}
    )
    assert detailed.digest == base.digest and detailed.detail["file:a"] == "file"


def test_meta_key() -> None:
    key = meta_key(Origin(PARENT), "WORKDIR /app")
    assert key.kind == "WORKDIR" and key.parent == PARENT
    assert meta_key(Origin(PARENT), "ENV A=1").digest != meta_key(Origin(PARENT), "ENV A=2").digest


# --- explanations ----------------------------------------------------------------------


def test_explain_sentences_for_each_input_kind() -> None:
    assert explain(None, a_run()) == ["no earlier build of this step"]
    assert explain(a_run(), a_run()) == []
    assert explain(a_run(), a_run(parent=OTHER_PARENT, parent_step=3)) == [
        "parent changed (step 3 was rebuilt)"
    ]
    assert explain(a_run(), a_run(parent=OTHER_PARENT)) == ["parent changed"]
    assert explain(a_run(), a_run(instruction="RUN npm ci")) == [
        'instruction changed: "RUN npm i" → "RUN npm ci"'
    ]
    assert explain(a_run(), a_run(env={"NODE_ENV": "prod", "PATH": "/usr/bin"})) == [
        'ENV NODE_ENV: "dev" → "prod"'
    ]
    assert explain(a_run(), a_run(env={"PATH": "/usr/bin", "NEW": "1", "NODE_ENV": "dev"})) == [
        'ENV NEW added: "1"'
    ]
    assert explain(a_run(), a_run(args={})) == ['build arg VERSION removed (was "1.1")']
    assert explain(a_run(), a_run(args={"VERSION": "1.2"})) == ['build arg VERSION: "1.1" → "1.2"']
    assert explain(a_run(), a_run(network="none")) == ['network: "default" → "none"']


def test_explain_lists_every_changed_input_in_order() -> None:
    new = a_run(instruction="RUN make", args={"VERSION": "2"}, parent=OTHER_PARENT)
    assert explain(a_run(), new) == [
        "parent changed",
        'instruction changed: "RUN npm i" → "RUN make"',
        'build arg VERSION: "1.1" → "2"',
    ]


def _copy(detail: dict[str, str], files: str = FILES) -> CacheKey:
    return copy_key(Origin(PARENT), "COPY . /app", files, dest="/app", file_detail=detail)


def test_explain_file_changes() -> None:
    old = {
        "src/index.ts": "file 0644 0:0 1111111111111111",
        "package.json": "file 0644 0:0 2222222222222222",
        "old.ts": "file 0644 0:0 3333333333333333",
        "bin/tool": "file 0755 0:0 4444444444444444",
        "link": "symlink 0777 0:0 a",
        "thing": "file 0644 0:0 5555555555555555",
    }
    new = dict(old)
    new["src/index.ts"] = "file 0644 0:0 9999999999999999"
    new["package.json"] = "file 0755 0:0 2222222222222222"
    new["bin/tool"] = "file 0755 1000:1000 4444444444444444"
    new["link"] = "symlink 0777 0:0 b"
    new["thing"] = "dir 0755 0:0 "
    del new["old.ts"]
    new["src/new.ts"] = "file 0644 0:0 6666666666666666"
    sentence = explain(_copy(old), _copy(new, "sha256:" + "1" * 64))
    assert sentence == [
        'files changed: bin/tool (owner 0:0→1000:1000), link (target "a"→"b"), '
        "package.json (mode 644→755), src/index.ts (content), thing (type file→dir), "
        "added: src/new.ts, removed: old.ts"
    ]


def test_explain_file_lists_are_bounded() -> None:
    old = {f"f{i:02d}": "file 0644 0:0 0000000000000000" for i in range(30)}
    new = {name: "file 0644 0:0 1111111111111111" for name in old}
    (sentence,) = explain(_copy(old), _copy(new, "sha256:" + "1" * 64))
    assert sentence.startswith("files changed: f00 (content), f01 (content)")
    assert sentence.endswith("f09 (content) and 20 more")


def test_explain_files_without_detail() -> None:
    assert explain(_copy({}), _copy({}, "sha256:" + "1" * 64)) == ["files changed"]


def test_explain_a_real_chmod_and_edit(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", TREE)

    def key() -> CacheKey:
        copies = select_copies(BuildContext(root), ["."], "/app")
        return copy_key(Origin(PARENT), "COPY . /app", copies.selection.checksum,
                        file_detail=copies.selection.files, dest=copies.dest)  # fmt: skip

    before = key()
    (root / "package.json").chmod(0o755)
    (root / "src/index.ts").write_text("changed")
    (root / "src/new.ts").write_text("")
    (root / "docs/other.md").unlink()
    assert explain(before, key()) == [
        "files changed: package.json (mode 644→755), src/index.ts (content), "
        "added: src/new.ts, removed: docs/other.md"
    ]
    os.utime(root / "package.json", ns=(5, 5))
    assert explain(key(), key()) == []


# --- the index -------------------------------------------------------------------------


def test_record_and_lookup(tmp_path: Path) -> None:
    index = CacheIndex(tmp_path / "build" / "cache.db")
    key = _copy({"a": "file 0644 0:0 1111111111111111"})
    assert index.lookup(key) is None
    result = CacheResult("sha256:" + "d" * 64, "sha256:" + "e" * 64, "sha256:" + "9" * 64)
    index.record(key, result, now=100.0)
    found = index.lookup(key, now=200.0)
    assert found is not None
    assert found.result == result and found.created == 100.0 and found.last_used == 200.0
    assert found.key == key and found.key.detail == key.detail
    index.close()
    reopened = CacheIndex(tmp_path / "build" / "cache.db")
    assert reopened.lookup(key) is not None


def test_the_cache_is_global_to_the_daemon(tmp_path: Path) -> None:
    index = CacheIndex(tmp_path / "cache.db")

    def key_for(folder: Path) -> CacheKey:
        copies = select_copies(BuildContext(make_tree(folder, TREE)), ["src"], "/app")
        origin = Origin(PARENT, site=f"{folder}/Dockerfile:0:3")
        return copy_key(origin, "COPY src /app", copies.selection.checksum,
                        file_detail=copies.selection.files, dest=copies.dest)  # fmt: skip

    index.record(key_for(tmp_path / "one"), CacheResult("sha256:1", "sha256:2"))
    assert index.lookup(key_for(tmp_path / "another" / "project")) is not None


def test_nearest_prefers_the_same_step(tmp_path: Path) -> None:
    index = CacheIndex(tmp_path / "cache.db")
    done = CacheResult("sha256:1", "sha256:2")
    same_site_old_parent = a_run(parent=OTHER_PARENT, instruction="RUN a")
    same_parent_elsewhere = a_run(site="/other/Dockerfile:0:2", instruction="RUN b")
    same_site_same_parent = a_run(instruction="RUN c")
    index.record(same_site_old_parent, done, now=3.0)
    index.record(same_parent_elsewhere, done, now=2.0)
    new = a_run(instruction="RUN d")
    assert index.nearest(new) == same_site_old_parent  # this step's last build
    index.record(same_site_same_parent, done, now=1.0)
    assert index.nearest(new) == same_site_same_parent
    moved = a_run(instruction="RUN d", site="/ctx/Dockerfile:0:9")
    assert index.nearest(moved) == same_parent_elsewhere  # no build here: same parent, latest
    assert index.nearest(a_run(site="", parent="sha256:none")) is None
    assert index.nearest(meta_key(Origin(PARENT, site="/ctx/Dockerfile:0:5"), "ENV A=1")) is None
    assert explain(index.nearest(new), new) == ['instruction changed: "RUN c" → "RUN d"']


def test_prune_returns_what_it_dropped(tmp_path: Path) -> None:
    index = CacheIndex(tmp_path / "cache.db")
    old, fresh = a_run(instruction="RUN old"), a_run(instruction="RUN new")
    index.record(old, CacheResult("sha256:old", "sha256:c"), now=10.0)
    index.record(fresh, CacheResult("sha256:new", "sha256:c"), now=10.0)
    index.lookup(fresh, now=50.0)
    dropped = index.prune(unused_since=20.0)
    assert [record.result.chain_id for record in dropped] == ["sha256:old"]
    assert index.lookup(old) is None and index.lookup(fresh) is not None
