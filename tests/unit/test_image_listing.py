"""`GET /images/json`'s filters and `all`, applied by lamina.images.listing without a
daemon: the image service lists what `listed` keeps."""

from __future__ import annotations

import pytest

from lamina.errors import NotFound
from lamina.images.listing import Filters, listed
from lamina.images.records import ImageRow
from lamina.images.service import Image
from lamina.oci.digest import Digest
from lamina.oci.reference import parse_normalized


def an_image(n: int, *, created: float, tags: tuple[str, ...] = (), parent: int = 0) -> Image:
    row = ImageRow(
        id=_id(n), manifest=None, created=created, size=1, added=created,
        parent=_id(parent) if parent else None,
    )  # fmt: skip
    config = {"config": {"Labels": {"n": str(n)}}}
    return Image(row, config, [parse_normalized(t).with_default_tag() for t in tags], [])


def _id(n: int) -> Digest:
    return Digest(f"sha256:{n:064x}")


BASE = an_image(1, created=100, tags=("busybox:latest",))
MIDDLE = an_image(2, created=200, parent=1)  # a build's intermediate image
APP = an_image(3, created=300, tags=("example.com/app:v1",), parent=2)
DANGLING = an_image(4, created=400)
IMAGES = [BASE, MIDDLE, APP, DANGLING]


def row_of(name: str) -> ImageRow:
    for image in IMAGES:
        if any(ref.familiar() == name for ref in image.tags):
            return image.row
    raise NotFound(f"No such image: {name}")


def ids(filters: Filters, *, all_: bool = False) -> list[int]:
    return [
        int(i.id.removeprefix("sha256:"), 16)
        for i in listed(IMAGES, filters, all_=all_, row_of=row_of)
    ]


def test_without_all_untagged_parents_are_hidden() -> None:
    assert ids({}) == [1, 3, 4]
    assert ids({}, all_=True) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"dangling": ["true"]}, [2, 4]),
        ({"dangling": ["false"]}, [1, 3]),
        ({"label": ["n=3"]}, [3]),
        ({"reference": ["busybox"]}, [1]),
        ({"reference": ["example.com/app:*"]}, [3]),
        ({"before": ["example.com/app:v1"]}, [1, 2]),
        ({"since": ["busybox:latest"]}, [2, 3, 4]),
        ({"until": ["250"]}, [1, 2]),
    ],
)
def test_each_filter_selects_what_docker_selects(filters: Filters, expected: list[int]) -> None:
    assert ids(filters, all_=True) == expected


def test_a_parent_is_hidden_only_by_a_child_the_filters_kept() -> None:
    """Without `all`, an untagged image is hidden as an intermediate one only when its
    child is listed too."""
    assert ids({"until": ["250"]}) == [1, 2]
    assert ids({"until": ["350"]}) == [1, 3]


def test_before_an_unknown_image_is_its_not_found() -> None:
    with pytest.raises(NotFound, match="No such image: nothing"):
        ids({"before": ["nothing"]})
