"""One conformance suite for the layer store, run against every storage driver.

Each test mounts what the store describes with lamina.store.mount and checks the
merged view; the `mounter` fixture unmounts everything in teardown, pass or fail.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lamina.errors import AlreadyExists, Conflict, FailedPrecondition, InvalidArgument, NotFound
from lamina.oci.digest import Digest, chain_ids, of_bytes
from lamina.store.archive import write_tar
from lamina.store.layers import CopyDriver, Driver, LayerStore, OverlayDriver
from lamina.store.layers.overlay import supported
from lamina.store.mount import Mount, is_mounted, mount, unmount
from lamina.store.usage import tree_size

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts, chown, whiteout devices)"),
]

Member = tuple[tarfile.TarInfo, bytes]


def member(
    name: str, data: bytes = b"", *, kind: bytes = tarfile.REGTYPE, **attrs: object
) -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 1_600_000_000
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def directory(name: str, **attrs: Any) -> Member:
    return member(name, kind=tarfile.DIRTYPE, **attrs)


def layer_tar(*members: Member) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if info.size else None)
    return out.getvalue()


BASE = layer_tar(
    directory("etc/"),
    member("etc/hostname", b"base\n"),
    member("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
    directory("bin/"),
    member("bin/tool", b"v1", mode=0o755),
    member("bin/suid", b"s", mode=0o4755, uid=0, gid=0),
    directory("data/", mode=0o750, uid=1000, gid=1000),
    member("data/old1", b"o1"),
    directory("data/sub/"),
    member("data/sub/old2", b"o2"),
    member("gone.txt", b"bye"),
    directory("gonedir/"),
    member("gonedir/f", b"f"),
)
SECOND = layer_tar(
    directory("etc/"),
    member("etc/hostname", b"layer2\n"),
    member(".wh.gone.txt"),
    member(".wh.gonedir"),
    directory("data/", mode=0o750, uid=1000, gid=1000),
    member("data/.wh..wh..opq"),
    member("data/new", b"n2", uid=1000, gid=1000),
    directory("bin/"),
    member("bin/tool2", b"v2", mode=0o755, uid=1234, gid=5678),
    member("bin/tool2-hl", kind=tarfile.LNKTYPE, linkname="bin/tool2"),
    member("bin/latest", kind=tarfile.SYMTYPE, linkname="tool2"),
)
THIRD = layer_tar(
    directory("etc/"),
    member("etc/motd", b"hi\n"),
    directory("data/", mode=0o750, uid=1000, gid=1000),
    member("data/new", b"n3", uid=1000, gid=1000),
    directory("opt/"),
    directory("opt/app/"),
    member("opt/app/run.sh", b"#!/bin/sh\n", mode=0o700),
)


@pytest.fixture(params=["overlay", "copy"])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Driver:
    root = tmp_path / "layers"
    if request.param == "overlay" and not supported(root):
        pytest.skip("overlayfs is not usable here")
    return make_driver(request.param, root)


@pytest.fixture
def store(driver: Driver, tmp_path: Path) -> LayerStore:
    return LayerStore(tmp_path / "layers", driver)


Mounter = Callable[[list[Mount], Path], None]


@pytest.fixture
def mounter() -> Iterator[Mounter]:
    """Mounts description lists; unmounts all of them in teardown, even on failure."""
    done: list[Path] = []

    def do(mounts: list[Mount], where: Path) -> None:
        where.mkdir(parents=True, exist_ok=True)
        for m in mounts:
            mount(m, where)
            done.append(where / m.target if m.target else where)

    yield do
    for where in reversed(done):
        if is_mounted(where):
            unmount(where)
    assert not any(is_mounted(where) for where in done)


def register_chain(store: LayerStore) -> list[Digest]:
    ids: list[Digest] = []
    for tar in (BASE, SECOND, THIRD):
        ids.append(store.register(ids[-1] if ids else None, io.BytesIO(tar)).chain_id)
    return ids


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            body = path.read_bytes() if stat.S_ISREG(st.st_mode) else None
            out[str(path.relative_to(root))] = (
                st.st_mode,
                st.st_uid,
                st.st_gid,
                st.st_mtime_ns,
                body,
            )
    return out


def test_chain_ids_follow_the_oci_spec(store: LayerStore) -> None:
    ids = register_chain(store)
    diff_ids = [of_bytes(tar) for tar in (BASE, SECOND, THIRD)]
    assert ids == chain_ids(diff_ids)
    top = store.get(ids[2])
    assert (top.diff_id, top.parent, top.size) == (diff_ids[2], ids[1], len(THIRD))
    assert [layer.chain_id for layer in store.list()] == sorted(ids)
    assert store.chain_dirs(ids[2]) == [
        store.root / i.split(":")[1] / "diff" for i in reversed(ids)
    ]


def test_merged_view(store: LayerStore, mounter: Mounter, tmp_path: Path) -> None:
    top = register_chain(store)[-1]
    mounter(store.prepare("c", top), tmp_path / "c/rootfs")
    rootfs = tmp_path / "c/rootfs"
    assert (rootfs / "etc/hostname").read_text() == "layer2\n"
    assert (rootfs / "etc/motd").read_text() == "hi\n"
    assert (rootfs / "etc/passwd").read_text().startswith("root:")
    assert not (rootfs / "gone.txt").exists() and not (rootfs / "gonedir").exists()
    assert sorted(os.listdir(rootfs / "data")) == ["new"]  # opaque: old1, sub hidden
    assert (rootfs / "data/new").read_bytes() == b"n3"
    data = os.stat(rootfs / "data")
    assert (stat.S_IMODE(data.st_mode), data.st_uid, data.st_gid) == (0o750, 1000, 1000)
    assert stat.S_IMODE(os.stat(rootfs / "bin/suid").st_mode) == 0o4755
    tool2 = os.stat(rootfs / "bin/tool2")
    assert (tool2.st_uid, tool2.st_gid, tool2.st_nlink) == (1234, 5678, 2)
    assert os.stat(rootfs / "bin/tool2-hl").st_ino == tool2.st_ino
    assert os.readlink(rootfs / "bin/latest") == "tool2"
    assert (rootfs / "bin/tool").read_bytes() == b"v1"
    assert stat.S_IMODE(os.stat(rootfs / "opt/app/run.sh").st_mode) == 0o700


def test_writes_go_to_upper_and_leave_layers_alone(
    store: LayerStore, mounter: Mounter, tmp_path: Path
) -> None:
    top = register_chain(store)[-1]
    before = {d: tree(d) for d in store.chain_dirs(top)}
    rootfs, upper = tmp_path / "c/rootfs", store.upper("c")
    mounter(store.prepare("c", top), rootfs)
    (rootfs / "new-file").write_text("fresh")
    (rootfs / "etc/hostname").write_text("changed\n")
    (rootfs / "etc/passwd").unlink()
    os.chmod(rootfs / "bin/tool", 0o700)
    (rootfs / "data/new").unlink()
    assert (upper / "new-file").read_text() == "fresh"
    assert (upper / "etc/hostname").read_text() == "changed\n"
    assert not (rootfs / "etc/passwd").exists()
    assert {d: tree(d) for d in store.chain_dirs(top)} == before


def test_readonly_view_refuses_writes(store: LayerStore, mounter: Mounter, tmp_path: Path) -> None:
    ids = register_chain(store)
    for chain_id in (ids[0], ids[2], None):  # one layer (a bind), a stack, no layers
        key = f"ro-{chain_id[7:19] if chain_id else 'scratch'}"
        rootfs = tmp_path / key
        mounter(store.view(key, chain_id), rootfs)
        assert (rootfs / "etc/hostname").exists() == (chain_id is not None)
        with pytest.raises(OSError) as err:
            (rootfs / "x").write_text("no")
        assert err.value.errno == errno.EROFS
    assert store.active() == sorted(["ro-scratch", *(f"ro-{i[7:19]}" for i in (ids[0], ids[2]))])


def test_identical_layer_is_stored_once(store: LayerStore) -> None:
    first = store.register(None, io.BytesIO(BASE))
    second = store.register(None, io.BytesIO(BASE))
    assert first == second
    assert [p.name for p in store.root.iterdir() if len(p.name) == 64] == [first.chain_id[7:]]
    assert len(list((store.root / "l").iterdir())) == 1
    assert list((store.root / "tmp").iterdir()) == []


def test_gzip_layers_register_with_the_uncompressed_diff_id(store: LayerStore) -> None:
    import gzip

    layer = store.register(None, io.BytesIO(gzip.compress(BASE)))
    assert layer.diff_id == of_bytes(BASE) and layer.size == len(BASE)


def test_crash_leftovers_are_cleaned_on_construction(store: LayerStore, driver: Driver) -> None:
    kept = store.register(None, io.BytesIO(BASE))
    leftover = store.root / "tmp" / "crashed" / "diff"
    leftover.mkdir(parents=True)
    (leftover / "half-written").write_text("x")
    [short] = (store.root / "l").iterdir()
    short.unlink()  # as if the daemon crashed between the rename and the short link
    os.symlink("../" + "0" * 64 + "/diff", store.root / "l" / "DANGLING")
    again = LayerStore(store.root, driver)
    assert list((store.root / "tmp").iterdir()) == []
    assert not os.path.lexists(store.root / "l" / "DANGLING")
    assert again.get(kept.chain_id) == kept
    assert [p.resolve() for p in (store.root / "l").iterdir()] == again.chain_dirs(kept.chain_id)


def test_remove_refuses_a_parent_and_removes_leaves(store: LayerStore) -> None:
    ids = register_chain(store)
    with pytest.raises(Conflict, match="parent"):
        store.remove(ids[0])
    for chain_id in reversed(ids):
        store.remove(chain_id)
    assert store.list() == []
    assert list((store.root / "l").iterdir()) == []
    with pytest.raises(NotFound, match=f"layer {ids[0]} not found"):
        store.get(ids[0])


def test_register_on_unknown_parent_is_not_found(store: LayerStore) -> None:
    with pytest.raises(NotFound):
        store.register(of_bytes(b"nope"), io.BytesIO(SECOND))
    assert list((store.root / "tmp").iterdir()) == []


def test_bad_layer_leaves_nothing_behind(store: LayerStore) -> None:
    from lamina.errors import InvalidArgument

    with pytest.raises(InvalidArgument):
        store.register(None, io.BytesIO(layer_tar(member("../escape", b"x"))))
    assert store.list() == [] and list((store.root / "tmp").iterdir()) == []


def test_usage_counts_the_tree(store: LayerStore) -> None:
    ids = register_chain(store)
    assert store.usage(ids[0]) == tree_size(store.chain_dirs(ids[0])[0]) > 0


def test_collector_view_lists_walks_and_discards(store: LayerStore) -> None:
    ids = register_chain(store)
    assert store.committed() == sorted(ids)
    assert store.with_parents([ids[-1]]) == set(ids)
    assert store.with_parents([ids[0], of_bytes(b"gone")]) == {ids[0]}
    trash = store.discard(ids[-1])
    assert not store.exists(ids[-1]) and trash.parent == store.root / "tmp"
    store.purge(trash)
    assert store.committed() == sorted(ids[:2]) and list((store.root / "tmp").iterdir()) == []
    assert len(list((store.root / "l").iterdir())) == 2  # its short link went with it


def test_many_layers_fit_one_mount(store: LayerStore, mounter: Mounter, tmp_path: Path) -> None:
    """Past a page of absolute lowerdir paths, mount() falls back to relative ones."""
    parent: Digest | None = None
    for i in range(80):
        tar = layer_tar(directory("n/"), member(f"n/{i:02d}", str(i).encode()))
        parent = store.register(parent, io.BytesIO(tar)).chain_id
    assert parent is not None
    rootfs = tmp_path / "rootfs"
    mounts = store.prepare("c", parent)
    if mounts[0].type == "overlay":
        assert len(",".join(mounts[0].options)) > os.sysconf("SC_PAGE_SIZE")
    mounter(mounts, rootfs)
    assert sorted(os.listdir(rootfs / "n")) == [f"{i:02d}" for i in range(80)]


def test_mount_description_is_plain_data(store: LayerStore) -> None:
    ids = register_chain(store)
    [view] = store.prepare("c", ids[2])
    folder = store.root / "active" / "c"
    upper, work = folder / "upper", folder / "work"
    lowers = [
        next(p for p in (store.root / "l").iterdir() if p.resolve() == d)
        for d in store.chain_dirs(ids[2])
    ]
    if store.driver.name == "overlay":
        lowerdir = "lowerdir=" + ":".join(str(p) for p in lowers)  # top layer first
        assert view == Mount(
            "overlay", "overlay", options=(lowerdir, f"upperdir={upper}", f"workdir={work}")
        )
    else:
        assert view == Mount("bind", str(upper), options=("rbind", "rw"))
    assert store.upper("c") == upper
    before = sorted(store.root.rglob("*"))
    assert store.mounts("c") == [view]  # describing again creates nothing
    assert sorted(store.root.rglob("*")) == before


# --- active snapshots: prepare, view, mounts, diff, commit, remove, sweep -------------


def make_driver(name: str, root: Path) -> Driver:
    return OverlayDriver(root) if name == "overlay" else CopyDriver(root)


def content(root: Path) -> dict[str, tuple[object, ...]]:
    """`tree` without times (a tar keeps whole seconds) and with whiteouts as such
    (overlayfs makes them mode 0, a tar's are 0600)."""
    out: dict[str, tuple[object, ...]] = {}
    for name, (mode, uid, gid, _mtime, body) in tree(root).items():
        st = os.lstat(root / name)
        whiteout = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
        out[name] = ("whiteout",) if whiteout else (mode, uid, gid, body)
    return out


def change_files(rootfs: Path) -> None:
    (rootfs / "new-file").write_text("fresh")
    (rootfs / "etc/hostname").write_text("changed\n")
    (rootfs / "etc/passwd").unlink()
    shutil.rmtree(rootfs / "opt")
    os.chmod(rootfs / "bin/tool", 0o700)
    (rootfs / "data/new").unlink()


CHANGED = {
    ".wh.opt", "bin", "bin/tool", "data", "data/.wh.new", "etc", "etc/.wh.passwd",
    "etc/hostname", "new-file",
}  # fmt: skip


def diff_of(store: LayerStore, key: str, epoch: int | None = None) -> bytes:
    out = io.BytesIO()
    store.diff(key, out, source_date_epoch=epoch)
    return out.getvalue()


def test_commit_makes_the_snapshots_changes_a_layer(
    store: LayerStore, driver: Driver, mounter: Mounter, tmp_path: Path
) -> None:
    ids = register_chain(store)
    rootfs = tmp_path / "rootfs"
    mounter(store.prepare("step", ids[-1]), rootfs)
    assert not store.changed("step")
    change_files(rootfs)
    seen = content(rootfs)
    unmount(rootfs)
    assert store.changed("step")
    tar = diff_of(store, "step")
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        assert set(tf.getnames()) == CHANGED
    layer = store.commit("step", diff_id=of_bytes(tar), size=len(tar))
    assert (layer.parent, layer.diff_id, layer.size) == (ids[-1], of_bytes(tar), len(tar))
    assert (
        layer.chain_id
        == chain_ids([*(of_bytes(t) for t in (BASE, SECOND, THIRD)), of_bytes(tar)])[-1]
    )
    assert store.active() == [] and list((store.root / "tmp").iterdir()) == []
    with pytest.raises(NotFound, match="snapshot step not found"):
        store.mounts("step")
    # The same tar extracted by another store makes the same layer...
    again = LayerStore(tmp_path / "again", make_driver(driver.name, tmp_path / "again"))
    register_chain(again)
    extracted = again.register(ids[-1], io.BytesIO(tar))
    assert extracted == layer
    assert content(again.chain_dirs(layer.chain_id)[0]) == content(
        store.chain_dirs(layer.chain_id)[0]
    )
    # ...and the layer shows what the snapshot showed.
    mounter(store.view("check", layer.chain_id), tmp_path / "check")
    assert content(tmp_path / "check") == seen


def test_a_snapshot_of_no_layers_starts_empty(
    store: LayerStore, mounter: Mounter, tmp_path: Path
) -> None:
    mounts = store.prepare("scratch", None)
    assert mounts == [Mount("bind", str(store.upper("scratch")), options=("rbind", "rw"))]
    rootfs = tmp_path / "rootfs"
    mounter(mounts, rootfs)
    assert os.listdir(rootfs) == [] and not store.changed("scratch")
    (rootfs / "hello").write_text("hi")
    unmount(rootfs)
    tar = diff_of(store, "scratch")
    layer = store.commit("scratch", diff_id=of_bytes(tar), size=len(tar))
    assert (layer.chain_id, layer.parent) == (of_bytes(tar), None)
    [tree_dir] = store.chain_dirs(layer.chain_id)
    assert (tree_dir / "hello").read_text() == "hi"
    written = io.BytesIO()
    write_tar(tree_dir, written)
    assert written.getvalue() == tar  # a base layer's diff is its whole tree


def test_both_drivers_write_the_same_diff(tmp_path: Path, mounter: Mounter) -> None:
    """The same changes give the same layer, whichever driver the daemon runs."""
    if not supported(tmp_path / "overlay"):
        pytest.skip("overlayfs is not usable here")
    digests = []
    for name in ("overlay", "copy"):
        store = LayerStore(tmp_path / name, make_driver(name, tmp_path / name))
        ids = register_chain(store)
        mounter(store.prepare("step", ids[-1]), tmp_path / f"{name}-rootfs")
        change_files(tmp_path / f"{name}-rootfs")
        unmount(tmp_path / f"{name}-rootfs")
        digests.append(of_bytes(diff_of(store, "step", epoch=1_600_000_000)))
    assert digests[0] == digests[1]


def test_an_identical_layer_is_not_committed_twice(
    store: LayerStore, mounter: Mounter, tmp_path: Path
) -> None:
    top = register_chain(store)[-1]
    layers = []
    for key in ("one", "two"):
        mounter(store.prepare(key, top), tmp_path / key)
        (tmp_path / key / "same").write_text("same")
        os.utime(tmp_path / key / "same", (1_600_000_000, 1_600_000_000))
        unmount(tmp_path / key)
        tar = diff_of(store, key, epoch=1_600_000_000)
        layers.append(store.commit(key, diff_id=of_bytes(tar), size=len(tar)))
    assert layers[0] == layers[1] and store.active() == []
    assert list((store.root / "tmp").iterdir()) == []


def test_prepare_refuses_a_key_in_use_and_a_bad_key(store: LayerStore) -> None:
    top = register_chain(store)[-1]
    store.prepare("c", top)
    (store.upper("c") / "scribble").write_text("x")
    with pytest.raises(AlreadyExists, match="snapshot c already exists"):
        store.prepare("c", None)
    with pytest.raises(AlreadyExists):
        store.view("c", top)
    assert (store.upper("c") / "scribble").read_text() == "x"
    for bad in ("", "../c", "a/b", top, ".hidden"):
        with pytest.raises(InvalidArgument, match="invalid snapshot key"):
            store.prepare(bad, top)
    assert store.active() == ["c"] and list((store.root / "tmp").iterdir()) == []


def test_prepare_on_an_unknown_parent_is_not_found(store: LayerStore) -> None:
    with pytest.raises(NotFound):
        store.prepare("c", of_bytes(b"nope"))
    assert store.active() == [] and list((store.root / "tmp").iterdir()) == []


def test_a_view_does_not_commit(store: LayerStore) -> None:
    top = register_chain(store)[-1]
    store.view("v", top)
    with pytest.raises(FailedPrecondition, match="view"):
        store.commit("v", diff_id=of_bytes(b""), size=0)
    assert store.active() == ["v"]


def test_remove_ends_a_snapshot_and_keeps_the_layers(store: LayerStore) -> None:
    ids = register_chain(store)
    store.prepare("c", ids[-1])
    store.view("v", ids[0])
    store.remove("c")
    store.remove("v")
    assert store.active() == [] and list((store.root / "tmp").iterdir()) == []
    assert store.committed() == sorted(ids)
    with pytest.raises(NotFound, match="snapshot c not found"):
        store.remove("c")


def test_snapshots_outlive_the_store_and_sweep_keeps_what_is_held(
    store: LayerStore, driver: Driver
) -> None:
    top = register_chain(store)[-1]
    for key in ("container-a", "container-b", "build-1"):
        store.prepare(key, top)
    store.view("build-2", None)
    half = store.root / "active" / "build-3" / "upper"  # a crash cut its adopt short
    half.mkdir(parents=True)
    again = LayerStore(store.root, driver)
    assert again.active() == ["build-1", "build-2", "build-3", "container-a", "container-b"]
    assert again.sweep(held={"container-a", "container-c"}) == [
        "build-1", "build-2", "build-3", "container-b",
    ]  # fmt: skip
    assert again.active() == ["container-a"] and again.mounts("container-a")
    assert list((store.root / "tmp").iterdir()) == []


def test_adopt_moves_an_older_laminas_upper_dir_in(
    store: LayerStore, mounter: Mounter, tmp_path: Path
) -> None:
    top = register_chain(store)[-1]
    old = tmp_path / "containers" / "c"
    store.prepare("made", top)  # an upper dir as the driver makes one, then moved out
    old.mkdir(parents=True)
    os.rename(store.upper("made"), old / "upper")
    os.rename(store.root / "active" / "made" / "work", old / "work")
    store.remove("made")
    (old / "upper" / "kept").write_text("mine")
    store.adopt("container-c", top, upper=old / "upper", work=old / "work")
    assert sorted(os.listdir(old)) == [] and store.active() == ["container-c"]
    mounter(store.mounts("container-c"), tmp_path / "rootfs")
    assert (tmp_path / "rootfs" / "kept").read_text() == "mine"
    assert (tmp_path / "rootfs" / "etc/motd").read_text() == "hi\n"
    store.adopt("container-c", top, upper=old / "upper", work=old / "work")  # again: a no-op
    assert (store.upper("container-c") / "kept").read_text() == "mine"
