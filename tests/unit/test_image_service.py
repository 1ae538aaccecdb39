"""The image service inside an Engine on a FakeRuntime: names, and removal against the
containers that use an image (Docker's rules: lamina.images.removal)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.containers.spec import ContainerSpec
from lamina.engine import Engine
from lamina.errors import Conflict, NotFound
from lamina.oci.digest import hex_of
from tests.support.fakeruntime import fake_engine, quiesce, scratch_image

APP = ContainerSpec.from_body({"Image": "app", "HostConfig": {"NetworkMode": "none"}})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = fake_engine(tmp_path)
    yield engine
    quiesce(engine)
    engine.close()


def test_an_image_is_found_by_name_id_and_short_id(engine: Engine) -> None:
    image_id = scratch_image(engine, "app:1", ["true"])
    assert engine.images.resolve("app:1") == image_id
    assert engine.images.resolve(image_id) == image_id
    assert engine.images.resolve(hex_of(image_id)[:12]) == image_id
    with pytest.raises(NotFound, match="No such image: app:2"):
        engine.images.resolve("app:2")


def test_tag_adds_a_name(engine: Engine) -> None:
    image_id = scratch_image(engine, "app:1", ["true"])
    engine.images.tag("app:1", "other", "latest")
    assert engine.images.resolve("other") == image_id


def test_an_image_a_container_uses_is_removed_only_by_force(engine: Engine) -> None:
    image_id = scratch_image(engine, "app", ["sleep"])
    c = engine.containers.create(APP)
    with pytest.raises(Conflict, match="must force"):
        engine.images.remove("app")
    assert engine.images.resolve("app") == image_id
    engine.images.remove("app", force=True)
    with pytest.raises(NotFound):
        engine.images.resolve("app")
    assert engine.containers.get(c.id).image_id == image_id


def test_a_running_container_s_image_stays_even_with_force(engine: Engine) -> None:
    image_id = scratch_image(engine, "app", ["sleep"])
    c = engine.containers.create(APP)
    engine.containers.start(c.id)
    engine.images.remove("app", force=True)  # the name goes, the image stays
    assert engine.images.records.get(image_id) is not None
    with pytest.raises(Conflict, match="running container"):
        engine.images.remove(image_id, force=True)


def test_rmi_force_deletes_a_stopped_container_s_image(engine: Engine) -> None:
    image_id = scratch_image(engine, "app", ["sleep"])
    c = engine.containers.create(APP)
    engine.images.remove("app", force=True)
    assert engine.images.records.get(image_id) is None
    engine.containers.start(c.id)  # its layers are the container's to keep
    assert engine.containers.get(c.id).state.running


def test_the_engine_hands_its_one_runtime_to_containers_and_builds(engine: Engine) -> None:
    runtime = engine.containers.runner.runtime
    assert engine.containers.runtime is runtime
    assert engine.builder.runner.runtime is runtime
