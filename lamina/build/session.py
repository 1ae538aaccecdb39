"""One build in progress: everything its steps share.

A `Session` holds the plan, the services the steps use (image service, committer,
RUN runner, cache index), the build context, where progress goes, the cancel flag,
and the results of the stages built so far. It lives for one build; the `Builder`
makes one per request.
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
from lamina.build.runstep import Cancelled, StepRunner
from lamina.build.singleflight import SingleFlight
from lamina.build.workspace import Trash, Workspace, tree_view
from lamina.errors import InvalidArgument, NotFound
from lamina.images.service import ImageService
from lamina.oci.digest import Digest
from lamina.oci.image import rfc3339


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

    def workspace(self) -> Workspace:
        return Workspace(self.root / "steps", self.trash)

    def source_state(self, ref: str) -> tuple[ImageState, str]:
        """The image a `--from` names: an earlier stage's result or an image by name;
        with how errors should name it."""
        stage = self.plan.stage_named(ref)
        if stage is not None:
            if stage.index not in self.results:
                raise InvalidArgument(f"stage {ref!r} is not built before it is used")
            return self.results[stage.index], f'stage "{ref}"'
        try:
            image = self.images.get(ref)
        except NotFound as err:
            raise NotFound(f"{err} (COPY --from names no stage and no local image)") from err
        return from_image(self.images, image), f'image "{ref}"'

    @contextlib.contextmanager
    def view(self, state: ImageState) -> Iterator[Path]:
        """A read-only view of `state`'s filesystem for the `with` block."""
        with tree_view(self.images.layers, state.chain_id, self.root / "trees") as path:
            yield path

    def lookup(self, key: CacheKey) -> ImageState | None:
        """The cached result for `key`, if its image and layers are still here."""
        result = self.cache.lookup_result(key)
        if result is None:
            return None
        image_id = Digest(result.config_digest)
        if self.images.records.get(image_id) is None:
            return None  # removed since (`rmi`, `image prune -a`): build it again
        state = self.states.get(image_id)
        if state is None:
            state = from_image(self.images, self.images.load(image_id))
            self.states.put(image_id, state)
        if state.chain_id and not self.images.layers.exists(state.chain_id):
            return None
        return state
