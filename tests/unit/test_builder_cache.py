"""The builder on a FakeRuntime: cache hits, misses and their explanations, RUN's end.

A RUN step is the fake runtime's `on_run`, acting on the folder its writes land in (the
step's upper dir, which the fake mounter reports for the bind a step on scratch gets).
The layer store is the overlay driver's files without its mounts: a step's layer is its
upper dir, moved in (`commit`), which needs no privilege; only steps on scratch are
built here, because only overlayfs could show them a parent's files.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lamina.build.builder import Builder
from lamina.build.plan import BuildRequest
from lamina.build.progress.events import Event
from lamina.build.steps.run import StepFailed
from lamina.dockerfile.location import DockerfileError
from lamina.errors import Cancelled, NotFound
from lamina.images.records import ImageRecords
from lamina.images.service import ImageService
from lamina.oci.digest import Digest
from lamina.store.content import ContentStore
from lamina.store.gc import Collector
from lamina.store.layers import LayerStore
from lamina.store.layers.overlay import OverlayDriver
from lamina.store.metadata import Metadata
from tests.support.fakeruntime import FakeRuntime, RunStep

DOCKERFILE = """\
FROM scratch
ENV GREETING=hello
RUN make greeting
LABEL made=here
"""


@dataclass
class Lab:
    builder: Builder
    images: ImageService
    runtime: FakeRuntime
    context: Path
    events: list[Event]

    def build(self, dockerfile: str = DOCKERFILE, **request: Any) -> Digest:
        (self.context / "Dockerfile").write_text(dockerfile)
        self.events.clear()
        plan = self.builder.prepare(
            BuildRequest(context=self.context, dockerfile=self.context / "Dockerfile", **request)
        )
        return self.builder.build(plan, self.events.append, cancel=threading.Event())

    def runs(self) -> int:
        return [op for op, _ in self.runtime.calls].count("run")

    def statuses(self) -> list[str]:
        return [e["step"]["status"] for e in self.events if "step" in e]

    def notes(self) -> list[str]:
        return [e["note"]["text"] for e in self.events if "note" in e]


def write_greeting(step: RunStep) -> int:
    env = dict(e.split("=", 1) for e in step.env)
    (step.rootfs / "greeting").write_text(env["GREETING"])
    step.output(f"ran {' '.join(step.args)}\n".encode())
    return 0


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    content = ContentStore(tmp_path / "content")
    metadata = Metadata(tmp_path / "lamina.db")
    layers = LayerStore(tmp_path / "layers", OverlayDriver(tmp_path / "layers"))
    records = ImageRecords(metadata)
    images = ImageService(content, layers, records, Collector(content, layers, records, log=print))
    runtime = FakeRuntime(tmp_path / "runc")
    runtime.on_run = write_greeting
    builder = Builder(root=tmp_path / "build", images=images, runtime=runtime)
    context = tmp_path / "context"
    context.mkdir()
    yield Lab(builder, images, runtime, context, [])
    builder.close()
    metadata.close()


def test_a_first_build_runs_every_step_and_commits_the_run_s_files(lab: Lab) -> None:
    image_id = lab.build(tags=("greeter",))
    assert lab.runs() == 1
    assert "cached" not in lab.statuses()
    assert lab.images.resolve("greeter") == image_id
    layer = lab.images.top_chain(image_id)
    assert layer is not None
    tree = lab.images.layers.chain_dirs(layer)[0]
    assert (tree / "greeting").read_text() == "hello"
    logs = [e["log"]["text"] for e in lab.events if "log" in e]
    assert logs == ["ran /bin/sh -c make greeting\n"]


def test_the_same_build_again_is_all_cache_hits(lab: Lab) -> None:
    first = lab.build()
    again = lab.build()
    assert again == first
    assert lab.runs() == 1  # the RUN did not run a second time
    assert lab.statuses().count("cached") == 3  # ENV, RUN, LABEL


def test_a_changed_instruction_misses_from_there_on(lab: Lab) -> None:
    lab.build()
    changed = lab.build(DOCKERFILE.replace("LABEL made=here", "LABEL made=there"))
    assert lab.runs() == 1  # ENV and RUN hit; only the LABEL is made again
    assert lab.statuses().count("cached") == 2
    config = lab.images.load(changed).config
    assert config["config"]["Labels"] == {"made": "there"}


def test_a_miss_invalidates_every_later_step(lab: Lab) -> None:
    lab.build()
    lab.build(DOCKERFILE.replace("GREETING=hello", "GREETING=bye"))
    assert lab.runs() == 2
    assert "cached" not in lab.statuses()


def test_explain_says_why_each_step_missed(lab: Lab) -> None:
    lab.build()
    lab.build(DOCKERFILE.replace("GREETING=hello", "GREETING=bye"), explain=True)
    assert lab.notes()[:4] == [
        'cache miss: instruction changed: "ENV GREETING=hello" → "ENV GREETING=bye"',
        "cache miss: parent changed (step 2 was rebuilt)",
        'cache miss: ENV GREETING: "hello" → "bye"',
        "cache miss: parent changed (step 3 was rebuilt)",
    ]


def test_explain_of_a_first_build(lab: Lab) -> None:
    lab.build(explain=True)
    assert lab.notes()[0] == "cache miss: no earlier build of this step"


def test_no_cache_runs_the_steps_again(lab: Lab) -> None:
    lab.build()
    lab.build(no_cache=True)
    assert lab.runs() == 2
    assert "cached" not in lab.statuses()


def test_a_failing_run_fails_the_build_and_records_nothing(lab: Lab) -> None:
    lab.runtime.on_run = lambda step: 2
    with pytest.raises(DockerfileError) as caught:
        lab.build(tags=("greeter",))
    assert str(caught.value) == (
        "Dockerfile:3: The command '/bin/sh -c make greeting' returned a non-zero code: 2"
    )
    cause = caught.value.__cause__
    assert isinstance(cause, StepFailed) and cause.code == 2
    with pytest.raises(NotFound):
        lab.images.resolve("greeter")
    lab.runtime.on_run = write_greeting
    lab.build()
    assert lab.runs() == 2  # the failed RUN left no cache record: it ran again


def test_a_cancelled_run_ends_the_build(lab: Lab) -> None:
    cancel = threading.Event()

    def cancelled(step: RunStep) -> int:
        cancel.set()
        return 137

    lab.runtime.on_run = cancelled
    (lab.context / "Dockerfile").write_text(DOCKERFILE)
    plan = lab.builder.prepare(
        BuildRequest(context=lab.context, dockerfile=lab.context / "Dockerfile")
    )
    with pytest.raises(Cancelled):
        lab.builder.build(plan, lab.events.append, cancel=cancel)
    assert lab.runtime.mounter.mounts == {}  # the step's rootfs is unmounted
