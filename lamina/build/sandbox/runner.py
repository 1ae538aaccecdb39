"""RUN steps in the same runtime as containers: our spec builder, the engine's `Runtime`.

The narrow interface the builder uses:

    runner = StepRunner(runtime=engine_runtime)
    code = runner.run(space, RunSpec(args=[...], env=[...], ...),
                      output=write, cancel=event, started=on_start)

`run` mounts the workspace's snapshot (the parent chain with the step's upper dir) at
its rootfs with the runtime's mounter, writes a bundle with `build_spec`, has the
runtime `run` it in the foreground with the process's stdout and stderr piped to
`output`, and returns its exit code. Whatever happens (an error, a cancelled build,
Ctrl-C on the client) the container is deleted (`delete --force`) and the rootfs
unmounted before `run` returns or raises; the upper dir then holds the step's changes,
without the mount points the runtime had to create.

Network: `default` and `host` share the host's network namespace, so RUN reaches the
package registries the host reaches (as `docker build` does by default); `none` gets
a new, empty namespace.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lamina.build.sandbox.stubs import MountStubs
from lamina.build.sandbox.workspace import Workspace
from lamina.errors import LaminaError
from lamina.runtime.protocol import Runtime
from lamina.runtime.spec import MountSpec, SpecInput, build_spec, default_mounts

HOSTNAME = "buildkitsandbox"  # BuildKit's, which some build scripts expect
_HOSTS = f"127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n"


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    args: list[str]
    env: list[str]
    cwd: str = "/"
    user: str = ""
    network: str = "default"  # default | host | none
    mounts: tuple[MountSpec, ...] = ()  # RUN --mount binds, caches, tmpfs


class StepRunner:
    def __init__(self, *, runtime: Runtime, cgroup_parent: str = "/lamina") -> None:
        self.runtime = runtime
        self.cgroup_parent = cgroup_parent

    def run(
        self,
        space: Workspace,
        spec: RunSpec,
        *,
        output: Callable[[bytes], None],
        cancel: threading.Event,
        started: Callable[[str], None] = lambda _id: None,
    ) -> tuple[int, MountStubs]:
        """Run the step; returns its exit code and the stubs its mounts needed."""
        with space.mounted():
            oci_mounts = (*_etc_mounts(space, spec.network), *spec.mounts)
            stubs = MountStubs(space.rootfs)
            stubs.record([m["destination"] for m in default_mounts(0)])
            stubs.record([m.destination for m in oci_mounts])
            bundle = _write_bundle(space, spec, oci_mounts, self.cgroup_parent)
            ended = False
            try:
                started(space.id)
                code = self.runtime.run(space.id, bundle, output=output, cancel=cancel)
                ended = True  # `run` deletes a container whose process it saw exit
                return code, stubs
            finally:
                if not ended:
                    with contextlib.suppress(LaminaError):
                        self.runtime.delete(space.id, force=True)
                stubs.remove()


def _etc_mounts(space: Workspace, network: str) -> list[MountSpec]:
    """/etc/hosts and /etc/resolv.conf for the step: copies, so a RUN may edit them."""
    etc = space.dir / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "hosts").write_text(_HOSTS)
    resolv = etc / "resolv.conf"
    if network == "none":
        resolv.write_text("")
    else:
        # The host's own resolvers, loopback ones included: the step shares its netns.
        with contextlib.suppress(OSError):
            shutil.copyfile("/etc/resolv.conf", resolv)
        resolv.touch()
    return [
        MountSpec("/etc/hosts", "bind", str(etc / "hosts"), ("rbind", "rprivate")),
        MountSpec("/etc/resolv.conf", "bind", str(resolv), ("rbind", "rprivate")),
    ]


def _write_bundle(
    space: Workspace, spec: RunSpec, mounts: Sequence[MountSpec], cgroup_parent: str
) -> Path:
    config = build_spec(
        SpecInput(
            args=spec.args,
            env=spec.env,
            cwd=spec.cwd,
            user=spec.user,
            rootfs=space.rootfs,
            hostname=HOSTNAME,
            mounts=tuple(mounts),
            host_network=spec.network != "none",
            netns=None,
            cgroups_path=f"{cgroup_parent}/{space.id}",
            annotations={"org.lamina.build.step": space.id},
        )
    )
    bundle = space.dir / "bundle"
    bundle.mkdir(exist_ok=True)
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle
