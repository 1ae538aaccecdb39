"""One build in progress: everything its steps share.

A `Session` holds the plan, the services the steps use (image service, committer,
RUN runner, cache index), the build context, where progress goes, the cancel flag,
and the results of the stages built so far. It lives for one build; the `Builder`
makes one per request.

Its `lease` holds every image the build uses (`hold`): its bases from `prepare` on,
images `COPY --from` and `RUN --mount=from=` name, cache hits, results taken from
another build, and (through the committer) each step it commits. An image is held
before it is used, and a check that it still exists is part of holding it, so what a
build stands on is never removed under it, and collection never waits for builds.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lamina.build.cachekey import CacheIndex, CacheKey
from lamina.build.commit import Committer
from lamina.build.context import BuildContext
from lamina.build.events import Reporter
from lamina.build.imagestate import ImageState, from_image
from lamina.build.linkindex import LinkIndex
from lamina.build.plan import EPOCH_ARG, BuildPlan, PlannedStage, automatic_args
from lamina.build.planmemo import PlanMemo
from lamina.build.runstep import StepRunner
from lamina.build.singleflight import SingleFlight
from lamina.build.workspace import Trash, Workspace, tree_view
from lamina.errors import Cancelled, InvalidArgument, NotFound
from lamina.images.service import ImageService
from lamina.oci.digest import Digest
from lamina.store.gc import Lease
from lamina.timestamps import rfc3339


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


@dataclass
class Session:
    plan: BuildPlan
    images: ImageService
    committer: Committer
    runner: StepRunner
    cache: CacheIndex
    context: BuildContext
    report: Reporter
    cancel: threading.Event
    root: Path  # <lamina root>/build
    locks: dict[str, threading.Lock]  # cache mounts' locks, shared by all builds
    trash: Trash
    links: LinkIndex  # layer files COPY can hard-link
    states: StateMemo  # images read before (immutable: safe to keep)
    plans: PlanMemo  # COPY plans of contexts read in place
    # Steps being made, by key, shared by all builds: the image after the step, and
    # whether it was made (False: found in the cache by the build that held the key).
    flights: SingleFlight[tuple[ImageState, bool]]
    lease: Lease  # what the build holds (see the module doc); released when it ends
    results: dict[int, ImageState] = field(default_factory=dict)
    legacy_done: int = 0  # "Step N/M" lines given so far

    def legacy_step(self, text: str) -> str:
        """The classic builder's `Step 3/7 : RUN make` (numbered over built stages)."""
        self.legacy_done += 1
        total = sum(1 + len(self.plan.stages[i].stage.instructions) for i in self.plan.needed)
        return f"Step {self.legacy_done}/{max(total, self.legacy_done)} : {text}"

    @property
    def epoch(self) -> int | None:
        """SOURCE_DATE_EPOCH: clamps file times and sets every `created` when given."""
        value = self.plan.request.build_args.get(EPOCH_ARG)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except ValueError:
            raise InvalidArgument(f"invalid {EPOCH_ARG} {value!r}: not an integer") from None

    def created(self) -> str:
        epoch = self.epoch
        return rfc3339(time.time() if epoch is None else epoch)

    @property
    def platform(self) -> str:
        """The cache key's `platform` input; SOURCE_DATE_EPOCH changes every step's
        result (times), so it is part of it when given."""
        text = automatic_args()["TARGETPLATFORM"]
        epoch = self.epoch
        return text if epoch is None else f"{text} source-date-epoch={epoch}"

    def site(self, stage: PlannedStage, line: int) -> str:
        name = self.plan.request.site or str(self.plan.request.dockerfile)
        return f"{name}:{stage.index}:{line}"

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("build cancelled")

    def uses_cache(self, stage: PlannedStage) -> bool:
        request = self.plan.request
        if request.no_cache:
            return False
        names = {stage.label, str(stage.index)}
        return not names & {n.lower() for n in request.no_cache_filter}

    def workspace(self, parent: Digest | None) -> Workspace:
        """A step's scratch space: an active snapshot on `parent` (lamina.build.workspace)."""
        return Workspace(self.root / "steps", self.images.layers, parent, self.trash)

    def source_state(self, ref: str) -> tuple[ImageState, str]:
        """The image a `--from` names: an earlier stage's result or an image by name
        (held from here on); with how errors should name it."""
        stage = self.plan.stage_named(ref)
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

    def hold(self, image_id: Digest, *, name: str) -> None:
        """Hold the image until the build ends; NotFound (naming `name`) if it is gone."""
        self.images.hold(self.lease, image_id, name=name)

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
        state = self.states.get(image_id)
        if state is None:
            state = from_image(self.images, self.images.load(image_id))
            self.states.put(image_id, state)
        return state

    @contextlib.contextmanager
    def view(self, state: ImageState) -> Iterator[Path]:
        """A read-only view of `state`'s filesystem for the `with` block."""
        with tree_view(self.images.layers, state.chain_id, self.root / "trees") as path:
            yield path

    def lookup(self, key: CacheKey) -> ImageState | None:
        """The cached result for `key`, held, if its image and layers are still here."""
        result = self.cache.lookup_result(key)
        if result is None:
            return None
        image_id = Digest(result.config_digest)
        try:
            self.hold(image_id, name=image_id)
        except NotFound:
            return None  # removed since (`rmi`, `image prune -a`): build it again
        state = self.state_of(image_id)
        if state.chain_id and not self.images.layers.exists(state.chain_id):
            return None
        return state
