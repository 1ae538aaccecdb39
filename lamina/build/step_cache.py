"""A step through the build cache: found, taken from another build, or made and recorded.

The protocol every step follows (`StepCache.run`): look its key up unless the cache is
off for its stage, and on a hit take the recorded image as the new state (CACHED). On a
miss: if another build is making the same key, wait for it and take its result (CACHED
too: one run, one layer, one image; see `cache.singleflight`); else explain the miss if
asked, execute the step, record the result under the key with its detail, and go on.
A miss changes the parent of every later step, so they miss too (unless a later step
reproduces an identical image, in which case it hits again, as it should).
"""

from __future__ import annotations

from dataclasses import dataclass

from lamina.build.cache.explain import explain
from lamina.build.cache.index import CacheIndex, CacheResult
from lamina.build.cache.key import CacheKey
from lamina.build.cache.singleflight import SingleFlight
from lamina.build.commit import Committer
from lamina.build.imagestate import ImageState
from lamina.build.progress.events import Progress
from lamina.build.sources import Sources
from lamina.build.steps.step import Step
from lamina.errors import NotFound
from lamina.oci.digest import Digest

# Steps being made, by key, shared by all builds: the image after the step, and whether
# it was made (False: found in the cache by the build that held the key).
Flights = SingleFlight[tuple[ImageState, bool]]


@dataclass(frozen=True, kw_only=True)
class StepCache:
    """One build's way through the daemon's cache `index` and `flights`; results are
    held through `sources`, `--link` hits re-applied by `committer`."""

    index: CacheIndex
    flights: Flights
    sources: Sources
    committer: Committer
    progress: Progress
    use_cache: bool = True  # False: `--no-cache`, or a stage `--no-cache-filter` names
    explain: bool = False  # note why each step that runs missed

    def run(self, step: Step, state: ImageState, n: int) -> ImageState:
        """The state after `step` (progress number `n`), from the cache or made."""
        if self.use_cache:
            hit = self.lookup(step.key)
            if hit is not None:
                return self._cached(step, state, hit, n)
        new, ran_here = self._once(step, n)
        if not ran_here:
            return self._cached(step, state, new, n)
        self.progress.report.done(n, image=new.image_id or "")
        return new

    def lookup(self, key: CacheKey) -> ImageState | None:
        """The cached result for `key`, held, if its image and layers are still here."""
        result = self.index.lookup_result(key)
        if result is None:
            return None
        image_id = Digest(result.config_digest)
        try:
            self.sources.hold(image_id, name=image_id)
        except NotFound:
            return None  # removed since (`rmi`, `image prune -a`): build it again
        state = self.sources.state_of(image_id)
        if state.chain_id and not self.sources.images.layers.exists(state.chain_id):
            return None
        return state

    def _cached(self, step: Step, state: ImageState, hit: ImageState, n: int) -> ImageState:
        if step.link:
            hit = self._rebased(state, hit)
        self.progress.report.cached(n, image=hit.image_id or "")
        return hit

    def _rebased(self, state: ImageState, hit: ImageState) -> ImageState:
        """A `--link` hit put on `state`: as recorded when it was made on it (or has no
        image row to tell)."""
        row = self.sources.images.records.get(hit.image_id or "")
        if row is None or row.parent == state.image_id:
            return hit
        return self.committer.rebase(state, hit)

    def _once(self, step: Step, n: int) -> tuple[ImageState, bool]:
        """The step's result, and whether this build made it: a concurrent build that is
        making the same key is waited for instead, and its result held here before it is
        used. If that build ended and its result was removed before it could be held,
        the key is tried again (this build then makes it)."""
        while True:
            new, made, led = self._flight(step, n)
            if led:
                return new, made  # made here, or found by this build's lookup: held
            if self.sources.hold_result(new):
                return new, False

    def _flight(self, step: Step, n: int) -> tuple[ImageState, bool, bool]:
        """(result, made, led): BuildKit's rule for `--no-cache`: a build that uses the
        cache may take the result of one that does not (it is fresh), never the reverse
        (it may come from the cache)."""
        digest, check = step.key.digest, self.progress.check
        fresh = f"no-cache {digest}"
        if not self.use_cache:
            (new, _), led = self.flights.run(
                fresh, lambda: (self._execute(step, n), True), check=check
            )
            return new, led, led
        (new, made), led = self.flights.run(
            f"cache {digest}", lambda: self._lookup_or_execute(step, n), check=check,
            join=(fresh,),
        )  # fmt: skip
        return new, made and led, led

    def _lookup_or_execute(self, step: Step, n: int) -> tuple[ImageState, bool]:
        # Again, now that this build holds the key: a build that held it before may have
        # recorded its result between this build's first lookup and its claim.
        hit = self.lookup(step.key)
        return (hit, False) if hit is not None else (self._execute(step, n), True)

    def _execute(self, step: Step, n: int) -> ImageState:
        if self.explain:
            self._explain(n, step)
        new, diff_id = step.execute(n)
        result = CacheResult(new.chain_id or "", new.image_id or "", diff_id or "")
        self.index.record(step.full_key(), result)
        return new

    def _explain(self, n: int, step: Step) -> None:
        note = self.progress.report.note
        if not self.use_cache:
            note(n, "cache miss: the cache is off for this stage")
            return
        key = step.full_key()
        for reason in explain(self.index.nearest(key), key):
            note(n, f"cache miss: {reason}")
