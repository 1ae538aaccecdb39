"""Removing images: Docker's rules and messages for `rmi` (moby's ImageDelete) and
`image prune`.

`rmi` untags, then deletes the image's row once no name is left and no conflict stops
it. Hard conflicts (a child image, a running container, a running build) stop even
`-f`; soft ones (names in other repositories, a stopped container) only stop a
removal without it. Removing a name removes the image only if nothing objects, and
quietly keeps it otherwise. Nothing here deletes a blob or a layer: the collector
(store/gc.py), run after, frees what no row references any more.

Conflicts are read, then acted on. Two things can change in between, and neither may
be missed: a container created meanwhile is caught by the delete itself, which is
conditional in SQL (`ImageRecords.delete(unless_used=True)`, `untag` likewise), so a
refused removal leaves the image and its names as they were; and a build holding the
image is read under the collector's lease lock (`Collector.held_images`), which the
caller holds from the check to the delete.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lamina.errors import Conflict
from lamina.images.records import ImageRecords
from lamina.oci.digest import Digest, hex_of
from lamina.oci.reference import Reference, parse_normalized

if TYPE_CHECKING:
    from lamina.images.service import Image, ImageUser

Record = dict[str, str]


@dataclass(frozen=True)
class Removal:
    """The rules, over the image rows, who uses an image, and which images builds hold.
    Use it inside the image service's lock and `Collector.held_images`."""

    records: ImageRecords
    users: Callable[[Digest], list[ImageUser]]
    held: Collection[Digest]  # images running builds use or made

    def remove(self, name: str, image_id: Digest, *, by_id: bool, force: bool) -> list[Record]:
        """Docker's `rmi` of `name` (which resolved to `image_id`; `by_id`: as an ID)."""
        records: list[Record] = []
        if not by_id:
            if self._untag_name(name, image_id, force=force, records=records):
                return records  # other names are left: untagging was the removal
            quiet, references = True, True  # as Docker: it goes if nothing objects
        else:
            # An ID with names of one repository only: they go with the image (Docker).
            quiet, references = False, not _single_reference(self._names(image_id))
        if not self._check(image_id, soft=not force, references=references, quiet=quiet):
            return records
        names = self._names(image_id)
        if self.records.delete(image_id, unless_used=not force):
            records += [{"Untagged": ref.familiar()} for ref in names]
            return [*records, {"Deleted": image_id}]
        # A container was recorded since the check: its conflict is the answer now.
        if self._check(image_id, soft=not force, references=references, quiet=quiet):
            raise Conflict(
                f"conflict: unable to delete {_short(image_id)} (must be forced) - image "
                "is being used by a container (removed again since)"
            )
        return records

    def prune(
        self,
        images: Sequence[Image],
        *,
        dangling_only: bool,
        until: float | None,
        labels: Sequence[str],
    ) -> list[Record]:
        """Docker's `image prune`: unused images (dangling ones only, unless told
        otherwise) that match the filters; what no container uses and no build holds."""
        # As Docker: an untagged image with children is an intermediate image (a build
        # step, which the build cache names), not a dangling one.
        parents = {row.parent for row in self.records.all() if row.parent}
        deleted: list[Record] = []
        for image in images:
            if dangling_only and (image.tags or image.digests or image.id in parents):
                continue
            if until is not None and image.row.created >= until:
                continue
            if not _labels_match(image.config, labels) or image.id in self.held:
                continue
            names = self._names(image.id)
            if self.records.delete(image.id, unless_used=True):
                deleted += [{"Untagged": ref.familiar()} for ref in names]
                deleted.append({"Deleted": image.id})
        return deleted

    def _untag_name(
        self, name: str, image_id: Digest, *, force: bool, records: list[Record]
    ) -> bool:
        """Remove the name `name`; returns whether the image has other names left."""
        ref = parse_normalized(name)
        ref = ref if ref.digest else ref.with_default_tag()
        # Its only name, while a container uses it: that must be forced, or the image
        # would be left dangling under the container.
        guarded = not force and _single_reference(self._names(image_id))
        if not self.records.untag(ref, unless_used=guarded):
            users = self.users(image_id)
            container = users[0].container_id[:12] if users else "(removed again since)"
            raise Conflict(
                f'conflict: unable to remove repository reference "{name}" (must force) '
                f"- container {container} is using its referenced image {_short(image_id)}"
            )
        records.append({"Untagged": ref.familiar()})
        if not ref.digest and not any(t.name == ref.name for t in self.records.tags(image_id)):
            # No tag of that repository left: its digest names go too (as Docker).
            for digest_ref in self.records.digests(image_id):
                if digest_ref.name == ref.name:
                    self.records.untag(digest_ref)
                    records.append({"Untagged": digest_ref.familiar()})
        return bool(self._names(image_id))

    def _check(self, image_id: Digest, *, soft: bool, references: bool, quiet: bool) -> bool:
        """Whether the image may be deleted. A conflict raises, except when `quiet` (a
        name was removed) and the image is still in use or not dangling: then it stays."""
        conflict = self._conflict(image_id, soft=soft, references=references)
        if conflict is None:
            return True
        message, used = conflict
        if quiet and (used or self._names(image_id) or self.records.children(image_id)):
            return False
        raise Conflict(message)

    def _conflict(
        self, image_id: Digest, *, soft: bool, references: bool
    ) -> tuple[str, bool] | None:
        """Docker's conflicts, hard ones first: (message, whether something uses it)."""
        users = self.users(image_id)
        running = [u.container_id for u in users if u.running]
        stopped = [u.container_id for u in users if not u.running]
        found: list[tuple[bool, str, bool]] = []  # (hard, what, used)
        if self.records.children(image_id):
            found.append((True, "image has dependent child images", False))
        if running:
            found.append(
                (True, f"image is being used by running container {running[0][:12]}", True)
            )
        if image_id in self.held:
            found.append((True, "image is being used by a running build", True))
        if soft and references and self._names(image_id):
            found.append((False, "image is referenced in multiple repositories", False))
        if soft and stopped:
            found.append(
                (False, f"image is being used by stopped container {stopped[0][:12]}", True)
            )
        if not found:
            return None
        hard, what, used = found[0]
        forced = "cannot be forced" if hard else "must be forced"
        return f"conflict: unable to delete {_short(image_id)} ({forced}) - {what}", used

    def _names(self, image_id: Digest) -> list[Reference]:
        return [*self.records.tags(image_id), *self.records.digests(image_id)]


def _single_reference(names: list[Reference]) -> bool:
    """Docker's isSingleReference: some names, all of one repository, at most one tag."""
    tags = [ref for ref in names if not ref.digest]
    return bool(names) and len(tags) <= 1 and len({ref.name for ref in names}) == 1


def _labels_match(config: dict[str, Any], wanted: Sequence[str]) -> bool:
    labels = (config.get("config") or {}).get("Labels") or {}
    return all(_label_matches(labels, want) for want in wanted)


def _label_matches(labels: dict[str, str], want: str) -> bool:
    negate = want.startswith("!")
    key, _, value = want.removeprefix("!").partition("=")
    hit = key in labels and (not value or labels[key] == value)
    return hit != negate


def _short(image_id: str) -> str:
    return hex_of(image_id)[:12]
