"""A build step before it runs: its cache key and how to produce its result.

Each instruction becomes a `Step` (see `lamina.build.stage_builder`). The step cache
(`lamina.build.step_cache`) looks the cheap `key` up; on a miss it asks for the
`detailed` key (the same digest, plus what an explanation needs: per-file lines for
COPY) to explain and record, and calls `execute`. `Result` is the state after the
step and the diffID of the layer it added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lamina.build.cache.key import CacheKey
from lamina.build.imagestate import ImageState
from lamina.oci.digest import Digest

Result = tuple[ImageState, Digest | None]


@dataclass(frozen=True)
class Step:
    key: CacheKey
    execute: Callable[[int], Result]  # called with the step's progress number
    detailed: Callable[[], CacheKey] | None = None  # None: `key` already has it all
    link: bool = False  # COPY --link: a cached layer is re-applied on this parent

    def full_key(self) -> CacheKey:
        return self.detailed() if self.detailed is not None else self.key
