"""`GET /containers/json`'s filters: which containers a list shows.

The keys are Docker's (status, name, id, label, ancestor, exited, before, since, volume,
health, network); the API decodes them, `check` refuses values no container could
match, `between` applies before/since (positions in the list) and `matches` the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from lamina.containers.model import Container, Status
from lamina.errors import InvalidArgument, LaminaError
from lamina.filters import labels_match

Filters = Mapping[str, list[str]]
HEALTH_STATES = ("starting", "healthy", "unhealthy", "none")


def check(filters: Filters) -> None:
    """Refuse what no container could match, as dockerd does, before anything is read."""
    for value in filters.get("health", []):
        if value not in HEALTH_STATES:
            raise InvalidArgument(f"Unrecognised filter value for health: {value}")


def between(
    newest_first: list[Container], filters: Filters, find: Callable[[str], Container]
) -> list[Container]:
    """`before` and `since`: the containers created before (after) the one named, as
    dockerd walks its list newest first. The named container must exist (a 404)."""
    ids = [c.id for c in newest_first]
    start, end = 0, len(newest_first)
    for ref in filters.get("before", []):
        start = max(start, _position(ids, find(ref).id) + 1)
    for ref in filters.get("since", []):
        end = min(end, _position(ids, find(ref).id))
    return newest_first[start:end]


def _position(ids: list[str], cid: str) -> int:
    return ids.index(cid) if cid in ids else len(ids)


def matches(
    c: Container,
    filters: Filters,
    *,
    all_: bool,
    resolve_image: Callable[[str], str],
    joined: Callable[[Container], set[str]],
) -> bool:
    """Whether `c` is listed: running ones only unless `all_` or a status is asked;
    `resolve_image` turns an ancestor's name into an image ID, `joined` names the
    networks `c` is a member of (by name and by ID). lamina runs no healthchecks yet,
    so every container's health is "none"."""
    status = filters.get("status")
    if not all_ and not status and not c.state.running:
        return False
    if status and str(c.state.status) not in status:
        return False
    if not _config_matches(c, filters):
        return False
    ancestors = filters.get("ancestor")
    if ancestors and not any(_ancestor(c, a, resolve_image) for a in ancestors):
        return False
    if filters.get("network") and not joined(c) & set(filters["network"]):
        return False
    return not filters.get("health") or "none" in filters["health"]


def _config_matches(c: Container, filters: Filters) -> bool:
    if filters.get("name") and not any(n in c.name for n in filters["name"]):
        return False
    if filters.get("id") and not any(c.id.startswith(i) for i in filters["id"]):
        return False
    if not labels_match(c.config.get("Labels") or {}, filters.get("label", [])):
        return False
    if filters.get("exited") and (
        c.state.status != Status.EXITED or str(c.state.exit_code) not in filters["exited"]
    ):
        return False
    volumes = filters.get("volume")
    return not volumes or any(m.name in volumes or m.destination in volumes for m in c.mounts)


def _ancestor(c: Container, name: str, resolve_image: Callable[[str], str]) -> bool:
    try:
        return resolve_image(name) == c.image_id
    except LaminaError:  # not an image we have (any more): compare what was asked for
        return c.image == name
