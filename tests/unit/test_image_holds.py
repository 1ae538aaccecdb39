"""What in-flight work uses is never removed under it, and a removal racing a create is
decided by one statement: each interleaving forced, on real stores, no root, no runc.

- a container create racing `rmi -f` (the runner's `prepare` waits while the rmi runs);
- `rmi` without -f racing a create that records its container between rmi's check and
  its delete;
- `image prune`, `rmi` and collections during a build (its sink runs them between
  steps); a build's bases from `prepare` on; a result taken from another build.
"""

from __future__ import annotations

import io
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from lamina.build.builder import Builder
from lamina.build.cache.singleflight import SingleFlight
from lamina.build.plan import BuildPlan, BuildRequest
from lamina.build.progress.events import Event
from lamina.containers.model import Container
from lamina.containers.records import ContainerRecords
from lamina.containers.runner import Runner
from lamina.containers.service import ContainerService
from lamina.containers.spec import ContainerSpec
from lamina.errors import Conflict, NotFound
from lamina.images.records import ImageRecords
from lamina.images.service import CommittedLayer, ImageService
from lamina.oci import mediatypes
from lamina.oci.digest import Digest
from lamina.oci.image import Descriptor, new_config
from lamina.oci.reference import parse_normalized
from lamina.runtime.runc import RuncRuntime, oci_runtime
from lamina.store.content import ContentStore
from lamina.store.gc import Collector
from lamina.store.layers import CopyDriver, LayerStore
from lamina.store.metadata import Metadata
from lamina.volumes import VolumeService


@dataclass
class Lab:
    root: Path
    images: ImageService
    containers: ContainerRecords
    builder: Builder
    collector: Collector

    def image(self, name: str) -> Digest:
        """An image of one layer (one file, its content `name`), tagged `name`."""
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            info = tarfile.TarInfo("name")
            info.size = len(name)
            tar.addfile(info, io.BytesIO(name.encode()))
        blob, size = self.images.content.write(data.getvalue())
        chain_id = self.images.layers.register(None, io.BytesIO(data.getvalue())).chain_id
        layer = CommittedLayer(
            chain_id, blob, size, Descriptor(mediatypes.OCI_LAYER_TAR, blob, size)
        )
        config = new_config(diff_ids=[blob], history=[{"created_by": name}])
        ref = parse_normalized(name).with_default_tag()
        return self.images.commit(config, [layer], tags=[ref])

    def prepare(self, dockerfile: str) -> BuildPlan:
        context = self.root / "context"
        context.mkdir(exist_ok=True)
        (context / "Dockerfile").write_text(dockerfile)
        request = BuildRequest(context=context, dockerfile=context / "Dockerfile", tags=("app",))
        return self.builder.prepare(request)

    def build(self, dockerfile: str, sink: Callable[[Event], None] = lambda _e: None) -> Digest:
        return self.builder.build(self.prepare(dockerfile), sink, cancel=threading.Event())

    def parents(self, image_id: Digest) -> list[Digest]:
        """The image's parents, nearest first; each must exist."""
        chain: list[Digest] = []
        row = self.images.records.get(image_id)
        while row is not None and row.parent:
            chain.append(row.parent)
            row = self.images.records.get(row.parent)
            assert row is not None, f"{chain[-1]}, a parent of {image_id}, is gone"
        return chain

    def held(self) -> frozenset[Digest]:
        with self.collector.held_images() as held:
            return held


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    content = ContentStore(tmp_path / "content")
    metadata = Metadata(tmp_path / "lamina.db")
    layers = LayerStore(tmp_path / "layers", CopyDriver(tmp_path / "layers"))
    records = ImageRecords(metadata)
    collector = Collector(content, layers, records, log=lambda _m: None)
    containers = ContainerRecords(metadata)
    collector.add_roots(containers.mark_roots)
    images = ImageService(
        content, layers, records, collector, containers_using=containers.image_users
    )
    builder = Builder(
        root=tmp_path / "build", images=images, runtime=oci_runtime(root=tmp_path / "runc")
    )
    yield Lab(tmp_path, images, containers, builder, collector)
    builder.close()
    metadata.close()


# -- containers -------------------------------------------------------------------------


@dataclass
class WaitingRunner:
    """What a create asks of the container runner; `prepare` waits until `go`."""

    runtime: RuncRuntime = field(default_factory=lambda: oci_runtime(root=Path("/nonexistent")))
    entered: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)

    def prepare(self, cid: str, layer: Digest | None) -> None:
        self.entered.set()
        assert self.go.wait(10), "the test never let the create go on"

    def destroy(self, cid: str) -> None:
        pass


def test_a_create_racing_rmi_f_succeeds_and_keeps_its_layer(lab: Lab) -> None:
    """The image's record may go (-f), its layer may not: the create's lease holds it from
    the moment the create reads it until the container's own reference does. (Without
    the lease, the collection after the rmi frees the layer and its row, and recording
    the container's reference fails: a 500 for the create.)"""
    image_id = lab.image("busybox")
    chain_id = lab.images.top_chain(image_id)
    runner = WaitingRunner()
    volumes = VolumeService(lab.root / "volumes", lab.containers.db)
    service = ContainerService(lab.containers, lab.images, volumes, cast(Runner, runner))
    made: list[Container] = []
    failed: list[BaseException] = []

    def create() -> None:
        try:
            made.append(
                service.create(
                    ContainerSpec.from_body({"Image": "busybox", "Cmd": ["true"]}, name="racer")
                )
            )
        except BaseException as err:
            failed.append(err)

    thread = threading.Thread(target=create)
    thread.start()
    try:
        while not runner.entered.wait(0.01):
            assert thread.is_alive(), f"the create ended before its prepare: {failed}"
        # The create has read the image and not yet recorded its container.
        removed = lab.images.remove(image_id, force=True)
    finally:
        runner.go.set()
        thread.join(10)
    assert not failed and len(made) == 1, failed
    assert removed == [{"Untagged": "busybox:latest"}, {"Deleted": image_id}]
    assert lab.containers.layer(made[0].id) == chain_id  # the reference is recorded
    assert lab.collector.collect().layers == ()  # and it holds the layer
    assert chain_id is not None and lab.images.layers.exists(chain_id)


def test_rmi_f_cannot_land_between_a_lease_reading_the_image_and_its_layers(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lease reads the image's row, then its layer list. An `rmi -f` between the two
    (it deleted both) left the create a lease on no layer: a container with an empty
    root (`exec: "cat": executable file not found`, once in six runs of the
    integration race test). rmi deletes rows only under the leases' lock, which the
    lease's check holds: the rmi waits, and the lease gets the layer."""
    image_id = lab.image("busybox")
    chain_id = lab.images.top_chain(image_id)
    rmi = threading.Thread(target=lambda: lab.images.remove(image_id, force=True))
    layers_of = lab.images.records.layers

    def layers_while_an_rmi_runs(asked: str) -> Any:
        if not rmi.is_alive() and lab.images.records.get(image_id) is not None:
            rmi.start()
            rmi.join(0.5)  # as long as it takes, unless it must wait for the lease
        return layers_of(asked)

    monkeypatch.setattr(lab.images.records, "layers", layers_while_an_rmi_runs)
    with lab.images.lease_layers(image_id, name="busybox") as layer:
        assert layer == chain_id
        rmi.join(10)
        assert lab.images.records.get(image_id) is None  # the rmi went on after
        assert lab.collector.collect().layers == ()
    assert lab.collector.collect().layers == (chain_id,)


def a_container(image_id: Digest) -> Container:
    return Container(
        id="c" * 64, name="late", image="busybox", image_id=image_id,
        created="2024-01-01T00:00:00Z", config={}, host_config={},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "racing", "message"),
    [
        ("id", "delete", "(must be forced) - image is being used by stopped container cccc"),
        ("busybox", "untag", 'reference "busybox" (must force) - container cccccccccccc is'),
    ],
)
def test_rmi_without_f_that_loses_a_race_with_create_changes_nothing(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, name: str, racing: str, message: str
) -> None:
    """A create records its container after rmi has read who uses the image, before rmi
    deletes the row (or the name): that statement itself sees the container, and rmi
    answers 409 with the image and its tag as they were."""
    image_id = lab.image("busybox")
    act = getattr(lab.images.records, racing)

    def after_a_create(*args: Any, **kwargs: Any) -> Any:
        if not lab.containers.all():
            lab.containers.add(a_container(image_id), layer=lab.images.top_chain(image_id))
        return act(*args, **kwargs)

    monkeypatch.setattr(lab.images.records, racing, after_a_create)
    with pytest.raises(Conflict) as refused:
        lab.images.remove(image_id if name == "id" else name)
    assert message in str(refused.value)
    assert lab.images.resolve("busybox") == image_id


# -- builds -----------------------------------------------------------------------------


def statuses(events: list[Event]) -> list[str]:
    return [e["step"]["status"] for e in events if "step" in e]


def test_prune_during_a_build_leaves_what_the_build_made(lab: Lab) -> None:
    """A build's newest step image is untagged and has no child yet: dangling, to `image
    prune`, until the next step or the tag. It was pruned, and the build's tag then
    failed on a foreign key (an IntegrityError: a 500) and its cache missed after."""
    lab.image("base")
    pruned: list[list[dict[str, str]]] = []

    def prune_after_each_step(event: Event) -> None:
        if event.get("step", {}).get("status") == "done":
            pruned.append(lab.images.prune(dangling_only=True)[0])

    dockerfile = "FROM base\nENV A=1\nENV B=2\n"
    built = lab.build(dockerfile, prune_after_each_step)
    assert len(pruned) == 5 and not any(pruned), pruned
    assert lab.images.resolve("app") == built and len(lab.parents(built)) == 2
    events: list[Event] = []
    assert lab.build(dockerfile, events.append) == built
    assert statuses(events).count("cached") == 2


def test_a_tag_for_an_image_removed_meanwhile_is_not_found(lab: Lab) -> None:
    image_id = lab.image("gone")
    lab.images.remove(image_id)
    with pytest.raises(NotFound, match=f"No such image: {image_id}"):
        lab.images.tag_id(image_id, parse_normalized("app").with_default_tag())


def test_a_build_holds_its_bases_from_prepare_and_never_holds_off_collection(
    lab: Lab,
) -> None:
    base = lab.image("base")
    plan = lab.prepare("FROM base\nENV A=1\n")
    assert lab.held() == {base}
    # Between prepare and build: the name may go, the image it named may not.
    assert lab.images.remove("base", force=True) == [{"Untagged": "base:latest"}]
    with pytest.raises(Conflict, match=r"\(cannot be forced\) - image is being used by a run"):
        lab.images.remove(base, force=True)
    assert lab.images.prune(dangling_only=False)[0] == []
    other = lab.image("other")
    other_layer = lab.images.top_chain(other)
    freed: list[list[dict[str, str]]] = []

    def remove_mid_build(event: Event) -> None:
        if not freed and event.get("step", {}).get("status") == "done":
            freed.append(lab.images.remove("other"))

    built = lab.builder.build(plan, remove_mid_build, cancel=threading.Event())
    assert lab.parents(built) == [base]
    # The unrelated image's layer went at once, mid-build, not when the build ended.
    assert freed == [[{"Untagged": "other:latest"}, {"Deleted": other}, {"Deleted": other_layer}]]
    assert lab.held() == frozenset()


def test_a_plan_never_built_lets_its_bases_go(lab: Lab) -> None:
    base = lab.image("base")
    plan = lab.prepare("FROM base\n")
    assert lab.held() == {base}
    del plan  # a client that left before its build began
    assert lab.held() == frozenset()


class Replaying(SingleFlight[Any]):
    """Records each key's result; once `replay` is set, hands each back once, as a
    waiter gets the result of a leader that ran alongside it and has ended since."""

    def __init__(self) -> None:
        super().__init__()
        self.results: dict[str, Any] = {}
        self.replay = False
        self.replayed = 0

    def run(self, key: str, work: Callable[[], Any], **options: Any) -> tuple[Any, bool]:
        if self.replay and key in self.results:
            self.replayed += 1
            return self.results.pop(key), False
        result, led = super().run(key, work, **options)
        if not self.replay:
            self.results[key] = result
        return result, led


def test_a_result_taken_from_another_build_is_held_or_made_again(lab: Lab) -> None:
    """If the leader's build ended and its result was removed before the waiter held
    it, the waiter makes the step itself: it never builds on an image that is gone."""
    lab.image("base")
    flights = lab.builder.flights = Replaying()
    dockerfile = "FROM base\nENV A=1\nENV B=2\n"
    first = lab.build(dockerfile)
    step = lab.parents(first)[0]
    lab.images.remove("app")
    lab.images.remove(step)  # the leader's results are gone
    flights.replay = True
    second = lab.build(dockerfile)
    assert flights.replayed >= 1, "the build never took the leader's result"
    assert len(lab.parents(second)) == 2  # each exists
