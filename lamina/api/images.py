"""`/images/*`: list, inspect, history, tag, remove, prune, import, and lamina's bootstrap."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lamina.api import query
from lamina.api.errors import stream_error
from lamina.api.filters import bool_filter
from lamina.api.http import Request, Response, json_lines
from lamina.api.router import Router
from lamina.api.views import images as views
from lamina.engine import Engine
from lamina.errors import InvalidArgument
from lamina.filters import timestamp
from lamina.images.bootstrap import bootstrap
from lamina.images.importer import import_rootfs
from lamina.oci.reference import Reference, parse_normalized


@dataclass(frozen=True)
class ListQuery:
    all: bool = query.flag()
    shared_size: bool = query.flag(name="shared-size")
    filters: Mapping[str, list[str]] = query.filters(
        {"dangling", "label", "reference", "before", "since", "until"}
    )


@dataclass(frozen=True)
class PruneQuery:
    filters: Mapping[str, list[str]] = query.filters({"dangling", "until", "label"})

    @property
    def dangling_only(self) -> bool:
        """Docker prunes dangling images only, unless told `dangling=false`."""
        return bool_filter(self.filters, "dangling") is not False

    @property
    def until(self) -> float | None:
        return timestamp(self.filters["until"][-1]) if self.filters.get("until") else None


@dataclass(frozen=True)
class TagQuery:
    repo: str = query.text()
    tag: str = query.text()

    def __post_init__(self) -> None:
        if not self.repo:
            raise InvalidArgument("repository name must be given (repo=…)")


@dataclass(frozen=True)
class RemoveQuery:
    force: bool = query.flag()
    noprune: bool = query.flag()


@dataclass(frozen=True)
class CreateQuery:
    from_image: str = query.text(name="fromImage")
    from_src: str = query.text(name="fromSrc")
    repo: str = query.text()
    tag: str = query.text()
    message: str = query.text()
    changes: tuple[str, ...] = query.texts()

    def __post_init__(self) -> None:
        if self.from_image:
            raise InvalidArgument(
                f"pull access denied for {self.from_image}: pulling from registries is not "
                "supported yet; make base images with `lamina image bootstrap busybox`"
            )
        if self.from_src != "-":
            raise InvalidArgument("import needs fromSrc=- and the tar as the request body")

    @property
    def tags(self) -> list[Reference]:
        """The name the imported image gets (repo and tag), if any."""
        if not self.repo:
            return []
        ref = parse_normalized(self.repo)
        return [(ref.with_tag(self.tag) if self.tag else ref).with_default_tag()]


@dataclass(frozen=True)
class BootstrapQuery:
    name: str = query.text()
    include: str = query.text()
    tag: str = query.text()


def register(router: Router, engine: Engine) -> None:
    """The routes; each handler decodes, makes one service call, encodes."""
    _register_reads(router, engine)
    _register_changes(router, engine)


def _register_reads(router: Router, engine: Engine) -> None:
    images = engine.images

    @router.route("GET", "/images/json")
    def list_images(req: Request) -> Any:
        q = query.decode(req, ListQuery)
        found = images.matching(q.filters, all_=q.all)
        return [views.summary(images, image, with_shared=q.shared_size) for image in found]

    @router.route("GET", "/images/{name:path}/json")
    def inspect(req: Request, name: str) -> Any:
        image = images.get(name)
        dirs = [str(d) for d in images.layer_dirs(image)]
        return views.inspect(images, image, graph_driver=engine.driver.name, layer_dirs=dirs)

    @router.route("GET", "/images/{name:path}/history")
    def history(req: Request, name: str) -> Any:
        return views.history(images, images.get(name))


def _register_changes(router: Router, engine: Engine) -> None:
    images = engine.images

    @router.route("POST", "/images/{name:path}/tag")
    def tag(req: Request, name: str) -> Response:
        q = query.decode(req, TagQuery)
        images.tag(name, q.repo, q.tag or None)
        return Response(201)

    @router.route("DELETE", "/images/{name:path}")
    def remove(req: Request, name: str) -> Any:
        q = query.decode(req, RemoveQuery)
        return images.remove(name, force=q.force, prune=not q.noprune)

    @router.route("POST", "/images/prune")
    def prune(req: Request) -> Any:
        q = query.decode(req, PruneQuery)
        deleted, reclaimed = images.prune(
            dangling_only=q.dangling_only, until=q.until, labels=q.filters.get("label", [])
        )
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    @router.route("POST", "/images/create")
    def create(req: Request) -> Response:
        q = query.decode(req, CreateQuery)
        tags, changes, message = q.tags, list(q.changes), q.message
        req.claim_stream()  # before the tar is read: it comes at the client's pace

        def work(_progress: Callable[[str], None]) -> dict[str, Any]:
            image_id = import_rootfs(images, req.body, tags=tags, changes=changes, message=message)
            return {"status": image_id}

        return Response.stream(json_lines(_run_with_progress(work)))

    @router.route("POST", "/lamina/images/bootstrap")
    def bootstrap_image(req: Request) -> Response:
        q = query.decode(req, BootstrapQuery)
        name, tag_name = q.name, q.tag or None
        include = [p for p in q.include.split(",") if p]

        def work(progress: Callable[[str], None]) -> dict[str, Any]:
            image_id = bootstrap(images, name, tag=tag_name, include=include, progress=progress)
            return {"aux": {"ID": image_id}}

        return Response.stream(json_lines(_run_with_progress(work)))


def _run_with_progress(
    work: Callable[[Callable[[str], None]], dict[str, Any]],
) -> Iterator[dict[str, Any]]:
    """Run `work` in a thread, yielding its progress lines, then its result or error."""
    messages: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def run() -> None:
        try:
            messages.put(work(lambda text: messages.put({"status": text})))
        except Exception as err:  # reported to the client; the stream has begun
            messages.put(stream_error(err))
        messages.put(None)

    threading.Thread(target=run, daemon=True).start()
    while (item := messages.get()) is not None:
        yield item
