"""Build benchmarks: lamina beside dockerd's BuildKit and its classic builder, in one run.

    .venv/bin/python bench/build_bench.py [--runs 5] [--files 20000] [--megabytes 200]

Starts a private lamina daemon (busybox bootstrapped) and a private dockerd (Debian's
docker.io: `/usr/sbin/dockerd`, its own data root and socket, no iptables, no bridge),
imports the same busybox rootfs into dockerd as `busybox:latest`, and times whole
`build` commands as a user types them (`lamina build -q`, `docker build -q` with
DOCKER_BUILDKIT=1 and =0; the docker builds use `--network host`, since this dockerd
has no bridge and lamina's RUN shares the host's network by default):

  (a) the seed's "better Dockerfile" (busybox; package.json copied and "installed"
      first, then `COPY . .` and a build step) over a 2,000-file source tree:
      cold build (`--no-cache`), no-op rebuild, one-source-file-change rebuild;
  (b) a 20,000-file, 200 MB context with `COPY . .`: no-op and one-file-change rebuilds.

Runs go round-robin over the builders, each with its own copy of the context; each
timed build starts after a `sync`, so no builder pays for another's dirty pages. Prints
medians (seconds) and lamina's ratio to each; for the cold build also the overhead
beyond the RUN commands' own time (the same commands timed on the host with busybox).
At the end dockerd is stopped, its directories removed, and the iptables FORWARD
policy restored to what it was. Needs root.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.anchors import dockerd, lamina_daemon

REPO = Path(__file__).resolve().parents[1]
PYTHON = str(REPO / ".venv" / "bin" / "python")
LAMINA = str(REPO / ".venv" / "bin" / "lamina")  # the command users type
DOCKER = "/usr/bin/docker"
INSTALL = "cat package.json > /app/installed && sleep 1"
BUILD = "find src -type f | wc -l > /app/built"
SEED_DOCKERFILE = f"""FROM busybox
WORKDIR /app
COPY package* .
RUN sh -c '{INSTALL}'
COPY . .
RUN sh -c '{BUILD}'
EXPOSE 3000
CMD ["sh", "-c", "cat /app/built"]
"""
BIG_DOCKERFILE = "FROM busybox\nWORKDIR /app\nCOPY . .\n"
BUILDERS = ("lamina", "buildkit", "legacy")

Build = Callable[[Path, tuple[str, ...]], None]


def run(argv: list[str], env: dict[str, str] | None = None, **kw: object) -> str:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
    return str(result.stdout)


# --- the two engines ---------------------------------------------------------------


def busybox_tar(lamina_env: dict[str, str]) -> Path:
    """lamina's bootstrapped busybox layer: an uncompressed rootfs tar in its store."""
    image = json.loads(run([LAMINA, "image", "inspect", "busybox"], lamina_env))
    digest: str = image[0]["RootFS"]["Layers"][0].removeprefix("sha256:")
    return Path(lamina_env["LAMINA_ROOT"]) / "content" / "blobs" / "sha256" / digest


def builders(lamina_env: dict[str, str], docker_env: dict[str, str]) -> dict[str, Build]:
    def lamina(context: Path, extra: tuple[str, ...]) -> None:
        run([LAMINA, "build", "-q", *extra, str(context)], lamina_env)

    def docker(kit: str) -> Build:
        env = {**docker_env, "DOCKER_BUILDKIT": kit}

        def build(context: Path, extra: tuple[str, ...]) -> None:
            run([DOCKER, "build", "-q", "--network", "host", *extra, str(context)], env)

        return build

    return {"lamina": lamina, "buildkit": docker("1"), "legacy": docker("0")}


# --- contexts ----------------------------------------------------------------------


def seed_context(path: Path) -> Path:
    rng = random.Random(1)
    for d in range(200):
        folder = path / "src" / f"module{d:03d}"
        folder.mkdir(parents=True)
        for f in range(10):
            lines = [f"export const v{i} = {rng.randrange(10**9)};" for i in range(12)]
            (folder / f"file{f}.js").write_text("\n".join(lines) + "\n")
    (path / "package.json").write_text('{"name": "bench", "dependencies": {"left-pad": "1"}}\n')
    (path / "Dockerfile").write_text(SEED_DOCKERFILE)
    return path


def big_context(path: Path, files: int, megabytes: int) -> Path:
    size = megabytes * 1_000_000 // files
    per_dir = 200
    for i in range(files):
        folder = path / f"d{i // per_dir:04d}"
        if i % per_dir == 0:
            folder.mkdir(parents=True)
        (folder / f"f{i:05d}.bin").write_bytes(os.urandom(size))
    (path / "Dockerfile").write_text(BIG_DOCKERFILE)
    return path


def copies(source: Path, work: Path) -> dict[str, Path]:
    out = {}
    work.mkdir(parents=True)
    for name in BUILDERS:
        target = work / name
        subprocess.run(["cp", "-a", str(source), str(target)], check=True)
        out[name] = target
    return out


def edit(context: Path, relpath: str, counter: list[int]) -> None:
    counter[0] += 1
    with open(context / relpath, "a") as f:
        f.write(f"// edit {counter[0]}\n")


# --- measuring ---------------------------------------------------------------------


def timed(fn: Callable[[], None]) -> float:
    # Flush what earlier builds (any builder's) left dirty, so a build that syncs its
    # own writes does not also pay for another builder's.
    os.sync()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(
    name: str,
    build: dict[str, Build],
    contexts: dict[str, Path],
    runs: int,
    *,
    extra: tuple[str, ...] = (),
    before: Callable[[Path], None] | None = None,
) -> dict[str, float]:
    samples: dict[str, list[float]] = {b: [] for b in BUILDERS}
    for _ in range(runs):
        for builder in BUILDERS:
            if before is not None:
                before(contexts[builder])
            samples[builder].append(
                timed(lambda b=builder: build[b](contexts[b], ("-t", "bench", *extra)))  # type: ignore[misc]
            )
    medians = {b: statistics.median(s) for b, s in samples.items()}
    print(f"  {name:<28}" + "".join(f"{medians[b]:>10.3f}" for b in BUILDERS)
          + f"{medians['lamina'] / medians['buildkit']:>10.2f}"
          + f"{medians['lamina'] / medians['legacy']:>10.2f}", flush=True)  # fmt: skip
    return medians


def own_time(context: Path) -> float:
    """The seed Dockerfile's RUN commands alone, on the host with busybox."""
    scratch = Path(tempfile.mkdtemp(prefix="own-"))
    try:
        shutil.copy(context / "package.json", scratch)
        shutil.copytree(context / "src", scratch / "src")
        (scratch / "app").mkdir()
        start = time.perf_counter()
        for script in (INSTALL, BUILD):
            line = script.replace("/app/", str(scratch / "app") + "/")
            subprocess.run(["busybox", "sh", "-c", line], cwd=scratch, check=True)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(scratch)


def header(title: str) -> None:
    print(f"\n{title}")
    print(f"  {'':<28}" + "".join(f"{b:>10}" for b in BUILDERS) + f"{'÷bkit':>10}{'÷legacy':>10}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--only", choices=("a", "b"), help="run one scenario")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (dockerd, runc, overlay mounts)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="build-bench-", dir="/tmp"))
    try:
        with (
            lamina_daemon(work / "lamina") as lamina_env,
            dockerd(busybox_tar(lamina_env), name="buildbench") as docker_env,
        ):
            if docker_env is None:
                print("needs dockerd (Debian's docker.io) as the anchor", file=sys.stderr)
                return 1
            build = builders(lamina_env, docker_env)
            if args.only != "b":
                scenario_a(build, work, args.runs)
            if args.only != "a":
                scenario_b(build, work, args.runs, args.files, args.megabytes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def scenario_a(build: dict[str, Build], work: Path, runs: int) -> None:
    contexts = copies(seed_context(work / "seed"), work / "a")
    header("(a) seed's better Dockerfile, 2,000 source files (median seconds)")
    cold = measure("cold build (--no-cache)", build, contexts, runs, extra=("--no-cache",))
    own = own_time(contexts["lamina"])
    for builder in BUILDERS:
        build[builder](contexts[builder], ("-t", "bench-warm"))
    measure("no-op rebuild", build, contexts, runs)
    counter = [0]
    measure("one source file changed", build, contexts, runs,
            before=lambda c: edit(c, "src/module005/file3.js", counter))  # fmt: skip
    overhead = {b: cold[b] - own for b in BUILDERS}
    print(f"  RUN commands' own time: {own:.3f}s; cold-build overhead beyond it: "
          + ", ".join(f"{b} {overhead[b]:.3f}s" for b in BUILDERS))  # fmt: skip


def scenario_b(build: dict[str, Build], work: Path, runs: int, files: int, mb: int) -> None:
    contexts = copies(big_context(work / "big", files, mb), work / "b")
    header(f"(b) COPY . . of {files:,} files, {mb} MB (median seconds)")
    for builder in BUILDERS:
        started = time.perf_counter()
        build[builder](contexts[builder], ("-t", "bench-big"))
        print(f"  first build, {builder}: {time.perf_counter() - started:.3f}s", flush=True)
    measure("no-op rebuild", build, contexts, runs)
    counter = [0]
    measure("one file changed", build, contexts, runs,
            before=lambda c: edit(c, "d0000/f00000.bin", counter))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
