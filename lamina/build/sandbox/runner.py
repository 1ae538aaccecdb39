"""RUN steps in the same runtime as containers: our spec builder, runc, an overlay rootfs.

The narrow interface the builder uses:

    runner = StepRunner(runtime="runc", runtime_root=paths.run_dir / "runc")
    code = runner.run(mounts, space, RunSpec(args=[...], env=[...], ...),
                      output=write, cancel=event, started=on_start)

`run` mounts the parent chain with the step's upper dir at the workspace's rootfs,
writes a bundle with `build_spec`, runs `runc run` in the foreground with the
process's stdout and stderr piped to `output`, and returns its exit code. Whatever
happens (an error, a cancelled build, Ctrl-C on the client) the container is deleted
(`runc delete -f`) and the rootfs unmounted before `run` returns or raises; the upper
dir then holds the step's changes, without the mount points runc had to create.

Network: `default` and `host` share the host's network namespace, so RUN reaches the
package registries the host reaches (as `docker build` does by default); `none` gets
a new, empty namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from subprocess import DEVNULL, Popen

from lamina.build.sandbox.stubs import MountStubs
from lamina.build.sandbox.workspace import Workspace, mounted
from lamina.containers.runtime import Runtime, RuntimeFailure, error_text, exit_code_for
from lamina.containers.spec import MountSpec, SpecInput, build_spec, default_mounts
from lamina.errors import Cancelled, FailedPrecondition, LaminaError
from lamina.store.mount import Mount

HOSTNAME = "buildkitsandbox"  # BuildKit's, which some build scripts expect
_HOSTS = f"127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
_POLL = 0.1  # seconds between checks for a cancelled build


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    args: list[str]
    env: list[str]
    cwd: str = "/"
    user: str = ""
    network: str = "default"  # default | host | none
    mounts: tuple[MountSpec, ...] = ()  # RUN --mount binds, caches, tmpfs


class StepRunner:
    def __init__(self, *, runtime: str, runtime_root: Path, cgroup_parent: str = "/lamina") -> None:
        self.runtime = Runtime(runtime, root=runtime_root)
        self.cgroup_parent = cgroup_parent

    def run(
        self,
        mounts: Sequence[Mount],
        space: Workspace,
        spec: RunSpec,
        *,
        output: Callable[[bytes], None],
        cancel: threading.Event,
        started: Callable[[str], None] = lambda _id: None,
    ) -> tuple[int, MountStubs]:
        """Run the step; returns its exit code and the stubs its mounts needed."""
        with mounted(mounts, space.rootfs):
            oci_mounts = (*_etc_mounts(space, spec.network), *spec.mounts)
            stubs = MountStubs(space.rootfs)
            stubs.record([m["destination"] for m in default_mounts(0)])
            stubs.record([m.destination for m in oci_mounts])
            bundle = _write_bundle(space, spec, oci_mounts, self.cgroup_parent)
            ended = False
            try:
                started(space.id)
                code = self._run(space.id, bundle, output, cancel)
                ended = True  # `runc run` deletes a container whose process it saw exit
                return code, stubs
            finally:
                if not ended:
                    with contextlib.suppress(LaminaError):
                        self.runtime.delete(space.id, force=True)
                stubs.remove()

    def _run(
        self, id: str, bundle: Path, output: Callable[[bytes], None], cancel: threading.Event
    ) -> int:
        log = bundle / "runtime.log"
        runtime = self.runtime
        runtime.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        argv = [runtime.binary, f"--root={runtime.root}", "--log-format=json", f"--log={log}"]
        argv += ["run", "--bundle", str(bundle), id]
        read_end, write_end = os.pipe()
        try:
            process = Popen(argv, stdin=DEVNULL, stdout=write_end, stderr=write_end)
        except FileNotFoundError as err:
            os.close(read_end)
            raise FailedPrecondition(
                f"OCI runtime {self.runtime.binary!r} is not installed"
            ) from err
        finally:
            os.close(write_end)
        reader = threading.Thread(target=_pump, args=(read_end, output), daemon=True)
        reader.start()
        code = self._wait(id, process, cancel)
        reader.join()
        if cancel.is_set():
            raise Cancelled("build cancelled")
        message = _runtime_error(log)
        if message and code != 0:
            raise RuntimeFailure(
                f"runc run failed: {message}", exit_code=exit_code_for(message, "")
            )
        return code

    def _wait(self, id: str, process: Popen[bytes], cancel: threading.Event) -> int:
        # A pidfd wakes us the moment the runtime exits (Popen.wait(timeout) polls with
        # growing sleeps, which adds up to tens of ms to every RUN).
        pidfd = os.pidfd_open(process.pid)
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            while not poller.poll(_POLL * 1000):
                if cancel.is_set():
                    with contextlib.suppress(LaminaError):
                        self.runtime.kill(id, "KILL", all=True)
        finally:
            os.close(pidfd)
        return process.wait()


def _pump(fd: int, output: Callable[[bytes], None]) -> None:
    """Forward the process's output as it comes (the pipe closes when it exits)."""
    with open(fd, "rb", buffering=0) as stream:
        while chunk := stream.read(65536):
            output(chunk)


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
            annotations={"org.lamina.build.steps.step": space.id},
        )
    )
    bundle = space.dir / "bundle"
    bundle.mkdir(exist_ok=True)
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def _runtime_error(log: Path) -> str:
    try:
        return error_text(log.read_text(errors="replace"))
    except FileNotFoundError:
        return ""
