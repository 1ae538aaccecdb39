"""The builder: Dockerfiles into images, step by step, through the build cache.

Lifecycle of a build (the API drives it; tests may too):

    builder = Builder(root=paths.root / "build", images=..., runtime=engine_runtime)
    plan = builder.prepare(BuildRequest(context=folder, dockerfile=folder / "Dockerfile"))
    image_id = builder.build(plan, sink, cancel=threading.Event())

`prepare` finds every input error before anything runs (see `plan`), and holds the
base images it resolves in a lease (`HeldPlan`) that `build` takes over and releases
when it ends; everything a build reads (`sources`) or commits (`commit`) is held there
too, so `rmi` and `image prune` leave it in place and collections run while builds do.
`build` runs the stages the target needs, in order (`stage_builder`), each step through
the cache (`step_cache`), then labels and tags the result; its progress goes to `sink`
as events (`progress.events`). Setting `cancel` stops it at the next check (between
steps, while a RUN runs or waits, every few hundred copied files); whatever it stops,
it leaves no mount, no runtime container and no half-written layer. Builds run
concurrently, a thread each; a step whose key another build is making is waited for,
not made twice (`cache.singleflight`).

A build's parts are made per request and each step gets only what its kind uses
(`steps.run.RunTools`, `steps.copy.CopyTools`, `steps.config.ConfigTools`); what
outlives a build (the cache index, the stat cache, cache mounts, in-flight steps, the
memos) is the `Builder`'s.

On disk, under `<root>/build/`:

    cache.db            the cache index: key digest → (chain ID, image ID)
    statcache.db        context file digests by stat, so unchanged files are not reread
    cache-mounts/<id>/  RUN --mount=type=cache directories
    steps/<step id>/    a step in progress (rootfs, bundle; its upper dir is a layer-store
                        snapshot's)
    trees/, binds/, heredocs/, contexts/   temporary views and copies
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

from lamina.build.cache.index import CacheIndex
from lamina.build.cache.singleflight import SingleFlight
from lamina.build.commit import Committer
from lamina.build.context.folder import BuildContext
from lamina.build.context.ignore import IgnoreMatcher
from lamina.build.context.statcache import StatCache
from lamina.build.copy.links import LinkIndex
from lamina.build.copy.memo import CopiesMemo
from lamina.build.imagestate import ImageState
from lamina.build.plan import BuildPlan, BuildRequest, prepare
from lamina.build.progress.events import Progress, Reporter, Sink
from lamina.build.sandbox.runner import StepRunner
from lamina.build.sandbox.scratch import Scratch
from lamina.build.sandbox.workspace import ID_PREFIX, Trash, recover
from lamina.build.sources import Sources, StateMemo
from lamina.build.stage_builder import StageBuilder, StepTools
from lamina.build.step_cache import Flights, StepCache
from lamina.build.steps.config import ConfigTools
from lamina.build.steps.copy import CopyTools
from lamina.build.steps.run import RunTools
from lamina.build.steps.run_mounts import CacheMounts
from lamina.errors import InvalidArgument, LaminaError, Unavailable
from lamina.images.service import ImageService
from lamina.oci.digest import Digest
from lamina.runtime.protocol import Runtime
from lamina.store.gc import Lease


@dataclass(frozen=True)
class HeldPlan(BuildPlan):
    """A plan whose base images `lease` holds, from `prepare` until its build ends. A
    plan never built lets them go when it is dropped (a client that left first)."""

    lease: Lease


class Builder:
    def __init__(
        self,
        *,
        root: Path,
        images: ImageService,
        runtime: Runtime,
        cgroup_parent: str = "/lamina",
    ) -> None:
        self.root = root
        self.images = images
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.cache = CacheIndex(root / "cache.db")
        self.stat_cache = StatCache(root / "statcache.db")
        self.runner = StepRunner(runtime=runtime, cgroup_parent=cgroup_parent)
        self._running = threading.Condition()
        self._active: set[threading.Event] = set()  # cancel flags of running builds
        self._closing = False
        self._recover(runtime)
        self.trash = Trash(root / "trash")
        self.links = LinkIndex()
        self.states = StateMemo()
        self.copies_memo = CopiesMemo()
        self.flights: Flights = SingleFlight()
        self.cache_mounts = CacheMounts(root / "cache-mounts")

    def prepare(self, request: BuildRequest) -> HeldPlan:
        """Check the request and plan the build; raises for bad input, builds nothing.
        The base images are held from here on (see the module doc)."""
        if not request.context.is_dir():
            raise InvalidArgument(
                f"unable to prepare context: path {str(request.context)!r} not found"
            )
        lease = self.images.collector.acquire()
        try:
            plan = prepare(request, resolve=lambda name: self._hold(lease, name))
        except BaseException:
            lease.release()
            raise
        held = HeldPlan(**vars(plan), lease=lease)
        weakref.finalize(held, lease.abandon)  # a plan never built: see HeldPlan
        return held

    def _hold(self, lease: Lease, name: str) -> Digest:
        image_id = self.images.resolve(name)
        self.images.hold(lease, image_id, name=name)
        return image_id

    def build(self, plan: BuildPlan, sink: Sink, *, cancel: threading.Event) -> Digest:
        """Run the plan; returns the image ID. Progress goes to `sink`. The plan's lease
        (a new one for a plan not from `prepare`) is released when it ends."""
        lease = plan.lease if isinstance(plan, HeldPlan) else self.images.collector.acquire()
        try:
            with self._running:
                if self._closing:
                    raise Unavailable("the daemon is shutting down")
                self._active.add(cancel)
            try:
                return self._build(plan, sink, cancel, lease)
            finally:
                with self._running:
                    self._active.discard(cancel)
                    self._running.notify_all()
        finally:
            lease.release()

    def _build(self, plan: BuildPlan, sink: Sink, cancel: threading.Event, lease: Lease) -> Digest:
        report = Reporter(sink, steps=plan.step_count)
        n = report.start(f"[internal] load build definition from {plan.filename}")
        report.done(n)
        if plan.unused_args:
            unused = " ".join(plan.unused_args)
            report.warning(f"One or more build-args [{unused}] were not consumed")
        progress = Progress(report, cancel)
        committer = Committer(self.images, lease, epoch=plan.epoch)
        sources = Sources(
            plan=plan, images=self.images, lease=lease, context=self._context(plan),
            trees=self.root / "trees", states=self.states,
            memo=None if plan.request.transient else self.copies_memo,
        )  # fmt: skip
        cache = StepCache(
            index=self.cache, flights=self.flights, sources=sources, committer=committer,
            progress=progress, explain=plan.request.explain,
        )  # fmt: skip
        tools = self._tools(plan, sources, committer, progress)
        for index in plan.needed:
            stage = StageBuilder(
                plan, plan.stages[index], sources=sources, cache=cache, tools=tools,
                progress=progress,
            )  # fmt: skip
            sources.results[index] = stage.build()
        return self._export(plan, report, committer, sources.results[plan.needed[-1]])

    def _tools(
        self, plan: BuildPlan, sources: Sources, committer: Committer, progress: Progress
    ) -> StepTools:
        """What each kind of step of this build uses."""
        scratch = Scratch(self.root, self.trash, self.images.layers, self.runner.runtime.mounter)
        run = RunTools(
            sources=sources, caches=self.cache_mounts, scratch=scratch, runner=self.runner,
            committer=committer, progress=progress, network=plan.request.network,
        )  # fmt: skip
        copy = CopyTools(
            sources=sources, scratch=scratch, links=self.links, committer=committer,
            progress=progress,
        )  # fmt: skip
        return StepTools(
            run=run, copy=copy, config=ConfigTools(scratch=scratch, committer=committer)
        )

    def _context(self, plan: BuildPlan) -> BuildContext:
        request = plan.request
        ignore = IgnoreMatcher.for_build(request.context, request.dockerfile)
        # Owners reset to 0:0, as the docker CLI sends a context: COPY makes files
        # root's anyway, so who owns them in the folder must not change the key.
        # An unpacked tar's paths are never seen again: remembering its digests on disk
        # would only grow the stat cache.
        stat_cache = StatCache(None) if request.transient else self.stat_cache
        return BuildContext(request.context, ignore, stat_cache=stat_cache, reset_ownership=True)

    def _export(
        self, plan: BuildPlan, report: Reporter, committer: Committer, state: ImageState
    ) -> Digest:
        n = report.start("exporting to image")
        try:
            if plan.request.labels:
                state = committer.relabel(state, plan.request.labels)
            if state.image_id is None:
                raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
            report.note(n, f"writing image {state.image_id} done")
            for ref in plan.tags:
                self.images.tag_id(state.image_id, ref)
                report.note(n, f"naming to {ref} done")
        except LaminaError as err:
            report.failed(n, str(err))
            raise
        report.done(n, image=state.image_id)
        report.built(state.image_id, [ref.familiar() for ref in plan.tags])
        return state.image_id

    def _recover(self, runtime: Runtime) -> None:
        """Clean what builds of a crashed daemon left (mounts, dirs, containers)."""
        left = set(recover(self.root))
        if runtime.root.is_dir():
            left |= {p.name for p in runtime.root.iterdir() if p.name.startswith(ID_PREFIX)}
        for step_id in sorted(left):
            with contextlib.suppress(LaminaError):
                runtime.delete(step_id, force=True)

    def close(self, *, timeout: float = 30.0) -> None:
        """Cancel running builds and wait for them to clean up (daemon shutdown)."""
        with self._running:
            self._closing = True
            for cancel in self._active:
                cancel.set()
            self._running.wait_for(lambda: not self._active, timeout=timeout)
        self.cache.close()
