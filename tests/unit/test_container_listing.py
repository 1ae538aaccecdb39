"""`GET /containers/json`'s filters, applied by lamina.containers.listing without a
daemon: the container service lists what `matches` keeps."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lamina.containers.listing import Filters, between, check, matches
from lamina.containers.model import Container, MountPoint, State, Status
from lamina.errors import InvalidArgument, NotFound

RUNNING = State(status=Status.RUNNING, pid=7)
EXITED = State(status=Status.EXITED, exit_code=3)


def a_container(state: State = RUNNING, **fields: object) -> Container:
    values: dict[str, object] = {
        "id": "ab" * 32, "name": "web-1", "image": "busybox", "image_id": "sha256:" + "1" * 64,
        "created": "2024-01-01T00:00:00Z", "config": {"Labels": {"tier": "front"}},
        "host_config": {}, "state": state,
        "mounts": (MountPoint("volume", "/data", name="cache"),),
    }  # fmt: skip
    values.update(fields)
    return Container(**values)  # type: ignore[arg-type]


def resolve(name: str) -> str:
    if name == "busybox:latest":
        return "sha256:" + "1" * 64
    raise NotFound(f"No such image: {name}")


def listed(c: Container, filters: Filters, *, all_: bool = False) -> bool:
    return matches(c, filters, all_=all_, resolve_image=resolve, joined=lambda _c: {"front"})


def test_without_all_only_running_ones_are_listed() -> None:
    assert listed(a_container(), {})
    assert not listed(a_container(EXITED), {})
    assert listed(a_container(EXITED), {}, all_=True)


def test_a_status_filter_lists_stopped_ones_without_all() -> None:
    assert listed(a_container(EXITED), {"status": ["exited"]})
    assert not listed(a_container(), {"status": ["exited"]})


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"name": ["web"]}, True),
        ({"name": ["db"]}, False),
        ({"id": ["abab"]}, True),
        ({"id": ["ff"]}, False),
        ({"label": ["tier=front"]}, True),
        ({"label": ["tier=back"]}, False),
        ({"volume": ["cache"]}, True),
        ({"volume": ["/data"]}, True),
        ({"volume": ["other"]}, False),
        ({"network": ["front"]}, True),
        ({"network": ["back"]}, False),
        ({"ancestor": ["busybox:latest"]}, True),  # resolved to the container's image ID
        ({"ancestor": ["busybox"]}, True),  # not an image here: compared as asked
        ({"ancestor": ["alpine"]}, False),
    ],
)
def test_each_filter_selects_what_docker_selects(filters: Filters, expected: bool) -> None:
    assert listed(a_container(), filters) is expected


def test_exited_matches_the_exit_code_of_exited_containers_only() -> None:
    assert listed(a_container(EXITED), {"exited": ["3"]}, all_=True)
    assert not listed(a_container(EXITED), {"exited": ["0"]}, all_=True)
    assert not listed(a_container(), {"exited": ["0"]})


def _three() -> list[Container]:
    """new, mid, old: newest first, as the service lists them."""
    return [
        a_container(id=n * 64, name=name) for n, name in (("c", "new"), ("b", "mid"), ("a", "old"))
    ]


def _find(containers: list[Container]) -> Callable[[str], Container]:
    def find(ref: str) -> Container:
        for c in containers:
            if ref in (c.name, c.id):
                return c
        raise NotFound(f"No such container: {ref}")

    return find


def _names(containers: list[Container]) -> list[str]:
    return [c.name for c in containers]


def test_before_and_since_list_by_position_as_dockerd_walks_its_list() -> None:
    three = _three()
    find = _find(three)
    assert _names(between(three, {"before": ["new"]}, find)) == ["mid", "old"]
    assert _names(between(three, {"since": ["old"]}, find)) == ["new", "mid"]
    assert _names(between(three, {"since": ["old"], "before": ["new"]}, find)) == ["mid"]
    assert _names(between(three, {"before": ["old"]}, find)) == []
    assert _names(between(three, {}, find)) == ["new", "mid", "old"]


def test_before_a_container_that_does_not_exist_is_a_404() -> None:
    three = _three()
    with pytest.raises(NotFound, match="nosuch"):
        between(three, {"since": ["nosuch"]}, _find(three))


def test_health_none_matches_every_container_as_none_runs_a_healthcheck_yet() -> None:
    assert listed(a_container(), {"health": ["none"]})
    assert not listed(a_container(), {"health": ["healthy"]})
    assert listed(a_container(), {"health": ["starting", "none"]})


def test_a_health_value_docker_does_not_know_is_refused() -> None:
    check({"health": ["none", "healthy"]})
    with pytest.raises(InvalidArgument, match="Unrecognised filter value for health: green"):
        check({"health": ["green"]})
