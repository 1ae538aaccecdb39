"""Active snapshots of the layer store on the copy driver, without root: the same
lifecycle tests/integration/test_layer_drivers.py mounts for both drivers, here read
and written through the paths the copy driver's bind mounts would show."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from lamina.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from lamina.oci.digest import Digest, chain_ids, of_bytes
from lamina.store.layers import CopyDriver, LayerStore
from lamina.store.mount import Mount
from lamina.store.treediff import changes
from tests.support.tars import build_tar, entry, file

EPOCH = 1_600_000_000


def layer_tar(files: dict[str, bytes], *, gone: tuple[str, ...] = ()) -> bytes:
    dirs = sorted({os.path.dirname(n) for n in files} - {""})
    whiteouts = [n.rpartition("/") for n in gone]
    return build_tar(
        *(entry(name, tarfile.DIRTYPE) for name in dirs),
        *(file(name, data) for name, data in sorted(files.items())),
        *(entry(f"{head}/.wh.{tail}" if head else f".wh.{tail}") for head, _, tail in whiteouts),
    )


BASE = layer_tar({"etc/hostname": b"base\n", "etc/passwd": b"root\n", "opt/app/run": b"x"})
TOP = layer_tar({"etc/motd": b"hi\n"}, gone=("etc/passwd",))


@pytest.fixture
def store(tmp_path: Path) -> LayerStore:
    return LayerStore(tmp_path / "layers", CopyDriver(tmp_path / "layers"))


def chain(store: LayerStore) -> list[Digest]:
    base = store.register(None, io.BytesIO(BASE)).chain_id
    return [base, store.register(base, io.BytesIO(TOP)).chain_id]


def files(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
        for p in sorted(root.rglob("*"))
    }


def diff_of(store: LayerStore, key: str) -> bytes:
    out = io.BytesIO()
    store.diff(key, out, source_date_epoch=EPOCH)
    return out.getvalue()


def test_prepare_copies_the_parent_and_describes_a_bind(store: LayerStore) -> None:
    ids = chain(store)
    mounts = store.prepare("container-c", ids[-1])
    upper = store.root / "active" / "container-c" / "upper"
    assert mounts == [Mount("bind", str(upper), options=("rbind", "rw"))]
    assert store.upper("container-c") == upper and store.mounts("container-c") == mounts
    assert files(upper) == files(store.chain_dirs(ids[-1])[0])
    assert "etc/passwd" not in files(upper) and files(upper)["etc/motd"] == b"hi\n"
    assert not store.changed("container-c")


def test_views_are_read_only_binds_and_scratch_is_empty(store: LayerStore) -> None:
    ids = chain(store)
    [view] = store.view("v", ids[-1])
    assert (view.type, view.options) == ("bind", ("rbind", "ro"))
    assert Path(view.source).resolve() == store.chain_dirs(ids[-1])[0]  # by its short link
    [empty] = store.view("e", None)
    assert empty == Mount("bind", str(store.upper("e")), options=("rbind", "ro"))
    [scratch] = store.prepare("s", None)
    assert scratch == Mount("bind", str(store.upper("s")), options=("rbind", "rw"))
    assert os.listdir(store.upper("e")) == os.listdir(store.upper("s")) == []


def test_commit_stores_the_diff_the_tar_says(store: LayerStore, tmp_path: Path) -> None:
    ids = chain(store)
    store.prepare("step", ids[-1])
    upper = store.upper("step")
    (upper / "etc/hostname").write_text("changed\n")
    (upper / "etc/motd").unlink()
    (upper / "opt/app/run").unlink()
    (upper / "opt/app").rmdir()
    (upper / "new").write_text("fresh")
    expected = files(upper)
    assert store.changed("step")
    tar = diff_of(store, "step")
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        names = tf.getnames()
    # In the order of the names they hide, as an overlay upper dir is written.
    assert names == ["etc", "etc/hostname", "etc/.wh.motd", "new", "opt", "opt/.wh.app"]
    layer = store.commit("step", diff_id=of_bytes(tar), size=len(tar))
    assert layer.chain_id == chain_ids([of_bytes(BASE), of_bytes(TOP), of_bytes(tar)])[-1]
    assert files(store.chain_dirs(layer.chain_id)[0]) == expected
    assert store.active() == [] and list((store.root / "tmp").iterdir()) == []
    other = LayerStore(tmp_path / "other", CopyDriver(tmp_path / "other"))
    chain(other)
    assert other.register(ids[-1], io.BytesIO(tar)) == layer
    assert files(other.chain_dirs(layer.chain_id)[0]) == expected


def test_a_scratch_commit_is_the_whole_tree(store: LayerStore) -> None:
    store.prepare("s", None)
    (store.upper("s") / "d").mkdir()
    (store.upper("s") / "d" / "f").write_text("f")
    tar = diff_of(store, "s")
    layer = store.commit("s", diff_id=of_bytes(tar), size=len(tar))
    assert layer.parent is None and layer.chain_id == of_bytes(tar)
    assert files(store.chain_dirs(layer.chain_id)[0]) == {"d": None, "d/f": b"f"}


def test_an_unchanged_snapshot_says_so_and_an_existing_layer_is_reused(
    store: LayerStore,
) -> None:
    ids = chain(store)
    made = []
    for key in ("a", "b"):
        store.prepare(key, ids[0])
        assert not store.changed(key)
        (store.upper(key) / "same").write_text("same")
        os.utime(store.upper(key) / "same", (EPOCH, EPOCH))
        tar = diff_of(store, key)
        made.append(store.commit(key, diff_id=of_bytes(tar), size=len(tar)))
    assert made[0] == made[1] and store.active() == []


def test_keys_are_folder_names_and_used_once(store: LayerStore) -> None:
    store.prepare("container-1", None)
    with pytest.raises(AlreadyExists):
        store.prepare("container-1", None)
    for bad in ("", "..", "a/b", "sha256:" + "0" * 64, "-x"):
        with pytest.raises(InvalidArgument):
            store.prepare(bad, None)
    with pytest.raises(NotFound):
        store.mounts("missing")
    with pytest.raises(NotFound):
        store.remove("missing")
    store.view("v", None)
    with pytest.raises(FailedPrecondition):
        store.commit("v", diff_id=of_bytes(b""), size=0)


def test_remove_a_chain_id_still_removes_that_layer(store: LayerStore) -> None:
    ids = chain(store)
    store.remove(ids[-1])
    assert store.committed() == [ids[0]]


def test_sweep_keeps_what_is_held_across_a_restart(store: LayerStore) -> None:
    ids = chain(store)
    store.prepare("container-a", ids[-1])
    (store.upper("container-a") / "mine").write_text("x")
    store.prepare("build-1", ids[0])
    (store.root / "active" / "build-2").mkdir()  # made but never recorded: a crash
    again = LayerStore(store.root, store.driver)
    assert again.sweep({"container-a"}) == ["build-1", "build-2"]
    assert again.active() == ["container-a"]
    assert (again.upper("container-a") / "mine").read_text() == "x"


def test_adopt_takes_an_older_laminas_dirs(store: LayerStore, tmp_path: Path) -> None:
    ids = chain(store)
    old = tmp_path / "containers" / "c"
    (old / "upper" / "etc").mkdir(parents=True)
    (old / "upper" / "etc" / "hostname").write_text("old\n")
    store.adopt("container-c", ids[-1], upper=old / "upper", work=old / "work")
    assert os.listdir(old) == []
    assert (store.upper("container-c") / "etc" / "hostname").read_text() == "old\n"
    assert store.mounts("container-c") == [
        Mount("bind", str(store.upper("container-c")), options=("rbind", "rw"))
    ]


def test_changes_compare_content_when_times_are_whole_seconds(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    for root, body in ((lower, b"aaaa"), (upper, b"bbbb")):
        root.mkdir()
        (root / "same-second").write_bytes(body)
        os.utime(root / "same-second", (EPOCH, EPOCH))
        (root / "kept").write_bytes(b"k")
        os.utime(root / "kept", ns=(EPOCH * 10**9 + 5, EPOCH * 10**9 + 5))
    assert [c.rel for c in changes(str(lower), str(upper))] == ["same-second"]


def test_adopt_finishes_a_move_a_crash_cut_short(store: LayerStore, tmp_path: Path) -> None:
    ids = chain(store)
    old = tmp_path / "containers" / "c"
    (old / "upper").mkdir(parents=True)
    (old / "work").mkdir()
    (old / "upper" / "mine").write_text("x")
    half = store.root / "active" / "container-c"
    half.mkdir()
    os.rename(old / "upper", half / "upper")  # moved; then the daemon died
    assert not store.has("container-c") and "container-c" in store.active()
    store.adopt("container-c", ids[0], upper=old / "upper", work=old / "work")
    assert store.has("container-c") and os.listdir(old) == []
    assert (store.upper("container-c") / "mine").read_text() == "x"
