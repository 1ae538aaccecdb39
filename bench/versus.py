"""This checkout against another one, side by side in one run: did a change slow the hot paths?

    .venv/bin/python bench/versus.py --baseline ../baseline [--runs 21] [--builds 9]

`--baseline` is another lamina checkout with its own `.venv` (`make setup`), e.g. a git
worktree of the commit before a change: `git worktree add ../baseline <commit>`.
Each checkout gets a private daemon with busybox bootstrapped; the samples alternate
between them, so a slow minute of the machine hits both alike. Timed, as a user types
them, with each checkout's own `lamina` launcher:

  - CLI latency: `lamina version` and `lamina images` (interpreter start, imports, one
    or two requests);
  - `lamina run --rm busybox true`, on the default bridge and with `--network none`;
  - the no-op rebuild of the seed's better Dockerfile over 2,000 source files
    (bench/build_bench.py's scenario (a), `lamina build -q`), and its rebuild after
    one source file changed (a COPY and a RUN step made again).

Prints medians and this checkout's ratio to the baseline (a change must keep both
within 1.10). Needs root.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.anchors import REPO, lamina_cli, lamina_daemon, run
from bench.build_bench import edit, seed_context

Action = Callable[[], object]


def alternate(
    actions: dict[str, Action], runs: int, *, before: Callable[[str], object] | None = None
) -> dict[str, float]:
    """Median milliseconds of each action, the runs interleaved round-robin; `before`,
    given the action's name, prepares each timed run outside the time."""
    for action in actions.values():
        action()  # warm-up: caches, bytecode, the fork server
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(runs):
        for name, action in actions.items():
            if before is not None:
                before(name)
            os.sync()
            start = time.perf_counter()
            action()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(s) for name, s in samples.items()}


def report(title: str, medians: dict[str, float]) -> float:
    ratio = medians["this"] / medians["baseline"]
    print(f"  {title:<44}{medians['baseline']:>10.1f}{medians['this']:>10.1f}{ratio:>8.2f}")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another lamina checkout")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--builds", type=int, default=9)
    args = parser.parse_args()
    trees = {"baseline": args.baseline.resolve(), "this": REPO}
    if not (trees["baseline"] / ".venv" / "bin" / "lamina").exists():
        print(f"{trees['baseline']}: no .venv/bin/lamina (run make setup there)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="versus-", dir="/tmp"))
    try:
        with contextlib.ExitStack() as stack:
            envs = {
                name: stack.enter_context(lamina_daemon(work / name, tree=tree))
                for name, tree in trees.items()
            }
            clis = {name: lamina_cli(tree) for name, tree in trees.items()}
            print(f"medians, milliseconds{'':<23}{'baseline':>10}{'this':>10}{'ratio':>8}")
            ratios = []
            for title, words in (("lamina version", ["version"]), ("lamina images", ["images"])):
                cli: dict[str, Action] = {
                    name: partial(run, [*clis[name], *words], envs[name]) for name in trees
                }
                ratios.append(report(title, alternate(cli, args.runs)))
            for title, network in (
                ("run --rm busybox true (default bridge)", ()),
                ("run --rm --network none busybox true", ("--network", "none")),
            ):
                run_rm: dict[str, Action] = {
                    name: partial(run, [*clis[name], "run", "--rm", *network, "busybox", "true"],
                                  envs[name])
                    for name in trees
                }  # fmt: skip
                ratios.append(report(title, alternate(run_rm, args.runs)))
            seed = seed_context(work / "seed")
            contexts = {}
            for name in trees:
                contexts[name] = work / f"ctx-{name}"
                shutil.copytree(seed, contexts[name], symlinks=True)
                run([*clis[name], "build", "-q", "-t", "bench", str(contexts[name])], envs[name])
            # Files written less than the stat cache's racy window (2 s) before a build
            # are hashed again by it: let both contexts age past it, as a user's have.
            time.sleep(2.5)
            rebuild: dict[str, Action] = {
                name: partial(run, [*clis[name], "build", "-q", "-t", "bench", str(contexts[name])],
                              envs[name])
                for name in trees
            }  # fmt: skip
            ratios.append(report("no-op rebuild, 2,000 files", alternate(rebuild, args.builds)))
            counter = [0]
            one_file = alternate(
                rebuild,
                args.builds,
                before=lambda name: edit(contexts[name], "src/module005/file3.js", counter),
            )
            ratios.append(report("one source file changed", one_file))
    finally:
        subprocess.run(["sync"], check=False)
        shutil.rmtree(work, ignore_errors=True)
    worst = max(ratios)
    print(f"  worst ratio {worst:.2f} (target ≤ 1.10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
