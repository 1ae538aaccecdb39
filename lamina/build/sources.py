"""What a build's steps read: the build context, the images it holds, earlier stages.

A `Sources` lives for one build (the `Builder` makes one per request). Its `lease`
holds every image the build uses (`hold`): its bases from `prepare` on, images
`COPY --from` and `RUN --mount=from=` name, cache hits, and results taken from another
build (the `Committer` holds what the build commits in the same lease). An image is
held before it is used, and a check that it still exists is part of holding it, so
what a build stands on is never removed under it, and collection never waits for
builds.

Terms: a *result* is the image state a stage ended with (`results`, by stage index);
a *tree* is a folder a step reads files from: the context, or a read-only *view* of
a stage's or image's filesystem that `--from` names.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lamina.build.context.folder import BuildContext
from lamina.build.context.statcache import StatCache
from lamina.build.copy.memo import CopiesMemo
from lamina.build.imagestate import ImageState, from_image
from lamina.build.plan import BuildPlan
from lamina.build.sandbox.workspace import tree_view
from lamina.errors import InvalidArgument, NotFound
from lamina.images.service import ImageService
from lamina.oci.digest import Digest
from lamina.store.gc import Lease

CONTEXT = "build context"  # how errors name the context


class StateMemo:
    """Image states by ID, kept across builds: an image never changes, so a no-op
    rebuild need not read and parse each step's config again."""

    def __init__(self, limit: int = 4096) -> None:
        self._states: dict[Digest, ImageState] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, image_id: Digest) -> ImageState | None:
        with self._lock:
            return self._states.get(image_id)

    def put(self, image_id: Digest, state: ImageState) -> None:
        with self._lock:
            if len(self._states) >= self._limit:
                self._states.clear()
            self._states[image_id] = state


@dataclass(frozen=True)
class Tree:
    """A folder a step reads files from, how errors name it, and (for the context
    read in place) the memo of its COPYs."""

    context: BuildContext
    name: str
    memo: CopiesMemo | None = None


class Sources:
    def __init__(
        self,
        *,
        plan: BuildPlan,
        images: ImageService,
        lease: Lease,
        context: BuildContext,
        trees: Path,
        states: StateMemo,
        memo: CopiesMemo | None,
    ) -> None:
        """`trees`: where views are mounted; `memo`: COPYs of the context, None for a
        context never read again (an unpacked tar)."""
        self._plan = plan
        self.images = images
        self._lease = lease
        self.context = context
        self._trees = trees
        self._states = states
        self._memo = memo
        self.results: dict[int, ImageState] = {}  # stage index → the state it ended with

    def hold(self, image_id: Digest, *, name: str) -> None:
        """Hold the image until the build ends; NotFound (naming `name`) if it is gone."""
        self.images.hold(self._lease, image_id, name=name)

    def hold_result(self, state: ImageState) -> bool:
        """Hold the image of a result another build made; False if it is gone already
        (that build ended and its result was removed since)."""
        if state.image_id is None:
            return True
        try:
            self.hold(state.image_id, name=state.image_id)
        except NotFound:
            return False
        return True

    def state_of(self, image_id: Digest) -> ImageState:
        """A held image as a state."""
        state = self._states.get(image_id)
        if state is None:
            state = from_image(self.images, self.images.load(image_id))
            self._states.put(image_id, state)
        return state

    def named(self, ref: str) -> tuple[ImageState, str]:
        """The image a `--from` names: an earlier stage's result or an image by name
        (held from here on); with how errors should name it."""
        stage = self._plan.stage_named(ref)
        if stage is not None:
            if stage.index not in self.results:
                raise InvalidArgument(f"stage {ref!r} is not built before it is used")
            return self.results[stage.index], f'stage "{ref}"'
        try:
            image_id = self.images.resolve(ref)
            self.hold(image_id, name=ref)
        except NotFound as err:
            raise NotFound(f"{err} (COPY --from names no stage and no local image)") from err
        return self.state_of(image_id), f'image "{ref}"'

    @contextlib.contextmanager
    def view(self, state: ImageState) -> Iterator[Path]:
        """A read-only view of `state`'s filesystem for the `with` block."""
        with tree_view(self.images.layers, state.chain_id, self._trees) as path:
            yield path

    def tree(self, from_: str, stack: contextlib.ExitStack) -> Tree:
        """The files a step reads: the context, or (`from_` given) a view of what it
        names, mounted until `stack` closes."""
        if not from_:
            return Tree(self.context, CONTEXT, self._memo)
        state, name = self.named(from_)
        view = stack.enter_context(self.view(state))
        return Tree(BuildContext(view, stat_cache=StatCache(None)), name)
