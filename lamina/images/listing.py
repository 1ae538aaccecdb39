"""`GET /images/json`'s filters and `all`: which images a list shows.

The keys are Docker's (dangling, label, reference, before, since, until); the API
decodes and checks them, this applies them.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from lamina.filters import bool_filter, labels_match, timestamp
from lamina.images.records import ImageRow

if TYPE_CHECKING:
    from lamina.images.service import Image

Filters = Mapping[str, list[str]]
RowOf = Callable[[str], ImageRow]  # an image's row by name (NotFound: a 404)


def listed(images: list[Image], filters: Filters, *, all_: bool, row_of: RowOf) -> list[Image]:
    """The images `filters` select; without `all_`, not the untagged parents of others
    (the intermediate images of a build), as `docker images` hides them."""
    # `before` and `since` name the same images for every image listed: load each once.
    once = functools.cache(row_of)
    found = [image for image in images if matches(image, filters, row_of=once)]
    if all_:
        return found
    return [i for i in found if i.tags or i.digests or not _has_children(found, i)]


def matches(image: Image, filters: Filters, *, row_of: RowOf) -> bool:
    """Whether `image` passes `filters`; `row_of` finds the images `before`/`since` name."""
    dangling = bool_filter(filters, "dangling")
    if dangling is not None and dangling != (not image.tags and not image.digests):
        return False
    labels = (image.config.get("config") or {}).get("Labels") or {}
    if not labels_match(labels, filters.get("label", [])):
        return False
    refs = filters.get("reference")
    if refs and not any(_ref_matches(image, pattern) for pattern in refs):
        return False
    created = image.row.created
    if any(created >= row_of(name).created for name in filters.get("before", [])):
        return False
    if any(created <= row_of(name).created for name in filters.get("since", [])):
        return False
    return all(created < timestamp(u) for u in filters.get("until", []))


def _ref_matches(image: Image, pattern: str) -> bool:
    return any(
        fnmatch.fnmatchcase(ref.familiar(), pattern)
        or fnmatch.fnmatchcase(ref.familiar_name(), pattern)
        for ref in image.tags
    )


def _has_children(images: list[Image], image: Image) -> bool:
    return any(other.row.parent == image.id for other in images)
