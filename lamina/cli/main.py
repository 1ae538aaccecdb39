"""The `lamina` command: Docker's command names and flags over the Engine API.

This module and everything it imports at start-up stay light (argparse, json, socket):
the CLI's latency is a feature. Command implementations load only when chosen, and the
engine itself is imported only by `lamina daemon`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from lamina import config
from lamina.cli.client import Client, ConnectionLost, DaemonError, NoDaemon

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

Command = Callable[[Client, argparse.Namespace], int | None]


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, minus its `import shutil` for the terminal width: argparse
    makes a formatter for every add_argument, and shutil (with zlib, bz2 and lzma)
    would cost every command ~3 ms."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = _columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size() finds it: $COLUMNS, stdout's
    terminal, else 80."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no stdout at all, or not a terminal
        return 80


class _Parser(argparse.ArgumentParser):
    """Every lamina parser; subparsers inherit the class, hence the formatter."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


def _add(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    target: str,
    help_text: str,
    aliases: Sequence[str] = (),
) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, aliases=list(aliases))
    parser.set_defaults(run_command=target)
    return parser


def _image_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], *, prefix: bool
) -> None:
    """Commands that exist both at top level (`images`, `rmi`) and under `image`."""
    ls = _add(
        sub, "ls" if prefix else "images", "images:ls", "List images", ["list"] if prefix else []
    )
    ls.add_argument("repository", nargs="?")
    ls.add_argument("-a", "--all", action="store_true")
    ls.add_argument("-q", "--quiet", action="store_true")
    ls.add_argument("-f", "--filter", action="append", default=[])
    ls.add_argument("--format")
    ls.add_argument("--no-trunc", action="store_true")
    ls.add_argument("--digests", action="store_true")
    rm = _add(
        sub,
        "rm" if prefix else "rmi",
        "images:rm",
        "Remove one or more images",
        ["remove"] if prefix else [],
    )
    rm.add_argument("images", nargs="+")
    rm.add_argument("-f", "--force", action="store_true")
    rm.add_argument("--no-prune", action="store_true")
    tag = _add(sub, "tag", "images:tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    tag.add_argument("source")
    tag.add_argument("target")
    hist = _add(sub, "history", "images:history", "Show the history of an image")
    hist.add_argument("image")
    hist.add_argument("-H", "--human", default=True, type=lambda v: v.lower() != "false")
    hist.add_argument("-q", "--quiet", action="store_true")
    hist.add_argument("--no-trunc", action="store_true")
    hist.add_argument("--format")
    imp = _add(sub, "import", "images:import_", "Import a root filesystem tar as an image")
    imp.add_argument("file")
    imp.add_argument("reference", nargs="?")
    imp.add_argument("-c", "--change", action="append", default=[])
    imp.add_argument("-m", "--message", default="")


def _create_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], names: Sequence[str]
) -> None:
    """`run` and `create`, with their ~60 flags each (so each is a group of its own)."""
    from lamina.cli.containers_args import add_create_flags

    helps = {
        "run": "Create and run a new container from an image",
        "create": "Create a new container",
    }
    for name in names:
        p = sub.add_parser(name, help=helps[name], add_help=False)
        p.add_argument("--help", action="help")
        p.set_defaults(run_command=f"containers:{name}")
        add_create_flags(p)


def _container_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], *, prefix: bool
) -> None:
    """Commands that exist both at top level (`ps`, `rm`) and under `container`."""
    if prefix:
        _create_commands(sub, ("run", "create"))
    ps = _add(
        sub,
        "ls" if prefix else "ps",
        "containers:ps",
        "List containers",
        ["ps", "list"] if prefix else [],
    )
    ps.add_argument("-a", "--all", action="store_true")
    ps.add_argument("-q", "--quiet", action="store_true")
    ps.add_argument("-f", "--filter", action="append", default=[])
    ps.add_argument("-n", "--last", type=int, default=0)
    ps.add_argument("--format")
    ps.add_argument("--no-trunc", action="store_true")
    ps.add_argument("-s", "--size", action="store_true")
    for name, help_text in (
        ("stop", "Stop one or more running containers"),
        ("restart", "Restart one or more containers"),
    ):
        p = _add(sub, name, f"containers:{name}", help_text)
        p.add_argument("containers", nargs="+")
        p.add_argument("-t", "--time", "--timeout", type=int)
        if name == "stop":
            p.add_argument("-s", "--signal")
    start = _add(sub, "start", "containers:start", "Start one or more stopped containers")
    start.add_argument("containers", nargs="+")
    start.add_argument("-a", "--attach", action="store_true")
    start.add_argument("-i", "--interactive", action="store_true")
    kill = _add(sub, "kill", "containers:kill", "Kill one or more running containers")
    kill.add_argument("containers", nargs="+")
    kill.add_argument("-s", "--signal", default="KILL")
    wait = _add(sub, "wait", "containers:wait", "Block until containers stop, print exit codes")
    wait.add_argument("containers", nargs="+")
    rm = _add(
        sub, "rm", "containers:rm", "Remove one or more containers", ["remove"] if prefix else []
    )
    rm.add_argument("containers", nargs="+")
    rm.add_argument("-f", "--force", action="store_true")
    rm.add_argument("-v", "--volumes", action="store_true")
    logs = _add(sub, "logs", "containers:logs", "Fetch the logs of a container")
    logs.add_argument("container")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--tail", default="all")
    logs.add_argument("--since")
    logs.add_argument("--until")
    logs.add_argument("-t", "--timestamps", action="store_true")
    ex = _add(sub, "exec", "containers:exec_", "Execute a command in a running container")
    ex.add_argument("container")
    ex.add_argument("command", nargs=argparse.REMAINDER)
    ex.add_argument("-i", "--interactive", action="store_true")
    ex.add_argument("-t", "--tty", action="store_true")
    ex.add_argument("-d", "--detach", action="store_true")
    ex.add_argument("-e", "--env", action="append", default=[])
    ex.add_argument("-w", "--workdir")
    ex.add_argument("-u", "--user")
    ex.add_argument("--privileged", action="store_true")
    top = _add(sub, "top", "containers:top", "Display the running processes of a container")
    top.add_argument("container")
    top.add_argument("ps_args", nargs=argparse.REMAINDER)
    ren = _add(sub, "rename", "containers:rename", "Rename a container")
    ren.add_argument("container")
    ren.add_argument("new_name")
    cp = _add(sub, "cp", "containers:cp", "Copy files between a container and the host")
    cp.add_argument("source")
    cp.add_argument("dest")
    att = _add(sub, "attach", "containers:attach", "Attach to a running container")
    att.add_argument("container")
    att.add_argument("--no-stdin", action="store_true")
    if prefix:
        insp = _add(sub, "inspect", "containers:inspect", "Display detailed information")
        insp.add_argument("objects", nargs="+")
        insp.add_argument("-f", "--format")
        insp.set_defaults(type="container")
        prune = _add(sub, "prune", "containers:prune", "Remove all stopped containers")
        prune.add_argument("-f", "--force", action="store_true")
        prune.add_argument("--filter", action="append", default=[])


def _network_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    port = _add(sub, "port", "networks:port", "List port mappings or a specific mapping")
    port.add_argument("container")
    port.add_argument("private", nargs="?")
    network = sub.add_parser("network", help="Manage networks").add_subparsers(
        dest="subcommand", metavar="COMMAND", required=True
    )
    create = _add(network, "create", "networks:create", "Create a network")
    create.add_argument("name")
    create.add_argument("-d", "--driver", default="bridge")
    create.add_argument("--subnet", action="append", default=[])
    create.add_argument("--gateway", default="")
    create.add_argument("--ip-range", default="")
    create.add_argument("--internal", action="store_true")
    create.add_argument("--label", action="append", default=[])
    create.add_argument("-o", "--opt", action="append", default=[])
    ls = _add(network, "ls", "networks:ls", "List networks", ["list"])
    ls.add_argument("-q", "--quiet", action="store_true")
    ls.add_argument("-f", "--filter", action="append", default=[])
    ls.add_argument("--format")
    ls.add_argument("--no-trunc", action="store_true")
    insp = _add(network, "inspect", "networks:inspect", "Display detailed information")
    insp.add_argument("networks", nargs="+")
    insp.add_argument("-f", "--format")
    insp.add_argument("-v", "--verbose", action="store_true")
    rm = _add(network, "rm", "networks:rm", "Remove one or more networks", ["remove"])
    rm.add_argument("networks", nargs="+")
    rm.add_argument("-f", "--force", action="store_true")
    prune = _add(network, "prune", "networks:prune", "Remove all unused networks")
    prune.add_argument("-f", "--force", action="store_true")
    prune.add_argument("--filter", action="append", default=[])
    conn = _add(network, "connect", "networks:connect", "Connect a container to a network")
    conn.add_argument("network")
    conn.add_argument("container")
    conn.add_argument("--alias", action="append", default=[])
    conn.add_argument("--ip")
    disc = _add(network, "disconnect", "networks:disconnect", "Disconnect a container")
    disc.add_argument("network")
    disc.add_argument("container")
    disc.add_argument("-f", "--force", action="store_true")


def _image_group(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    image = sub.add_parser("image", help="Manage images").add_subparsers(
        dest="subcommand", metavar="COMMAND", required=True
    )
    _image_commands(image, prefix=True)
    insp = _add(image, "inspect", "images:inspect", "Display detailed information on images")
    insp.add_argument("images", nargs="+")
    insp.add_argument("-f", "--format")
    prune = _add(image, "prune", "images:prune", "Remove unused images")
    prune.add_argument("-a", "--all", action="store_true")
    prune.add_argument("-f", "--force", action="store_true")
    prune.add_argument("--filter", action="append", default=[])
    boot = _add(
        image,
        "bootstrap",
        "images:bootstrap",
        "Make a base image without a registry: busybox, debian:bookworm",
    )
    boot.add_argument("name")
    boot.add_argument("-t", "--tag")
    boot.add_argument("--include", default="", help="extra Debian packages, comma-separated")


def _inspect_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    insp = _add(sub, "inspect", "containers:inspect", "Return low-level information on objects")
    insp.add_argument("objects", nargs="+")
    insp.add_argument("-f", "--format")
    insp.add_argument("--type", choices=["container", "image"])


def _container_group(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    container = sub.add_parser("container", help="Manage containers").add_subparsers(
        dest="subcommand", metavar="COMMAND", required=True
    )
    _container_commands(container, prefix=True)


def _system_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add(sub, "version", "system:version", "Show the lamina version information")
    _add(sub, "info", "system:info", "Display system-wide information")


def _system_group(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    system = sub.add_parser("system", help="Manage lamina").add_subparsers(
        dest="subcommand", metavar="COMMAND", required=True
    )
    df = _add(system, "df", "system:df", "Show disk usage")
    df.add_argument("-v", "--verbose", action="store_true")
    _add(system, "info", "system:info", "Display system-wide information")


def _volume_group(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    volume = sub.add_parser("volume", help="Manage volumes").add_subparsers(
        dest="subcommand", metavar="COMMAND", required=True
    )
    vcreate = _add(volume, "create", "volumes:create", "Create a volume")
    vcreate.add_argument("name", nargs="?")
    vcreate.add_argument("--name", dest="name_flag", help=argparse.SUPPRESS)
    vcreate.add_argument("-d", "--driver", default="local")
    vcreate.add_argument("--label", action="append", default=[])
    vcreate.add_argument("-o", "--opt", action="append", default=[])
    vls = _add(volume, "ls", "volumes:ls", "List volumes", ["list"])
    vls.add_argument("-q", "--quiet", action="store_true")
    vls.add_argument("-f", "--filter", action="append", default=[])
    vls.add_argument("--format")
    vinsp = _add(
        volume, "inspect", "volumes:inspect", "Display detailed information on one or more volumes"
    )
    vinsp.add_argument("volumes", nargs="+")
    vinsp.add_argument("-f", "--format")
    vrm = _add(volume, "rm", "volumes:rm", "Remove one or more volumes", ["remove"])
    vrm.add_argument("volumes", nargs="+")
    vrm.add_argument("-f", "--force", action="store_true")
    vprune = _add(volume, "prune", "volumes:prune", "Remove unused local volumes")
    vprune.add_argument("-a", "--all", action="store_true")
    vprune.add_argument("-f", "--force", action="store_true")
    vprune.add_argument("--filter", action="append", default=[])


def _build_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bld = _add(sub, "build", "build:build", "Build an image from a Dockerfile")
    bld.add_argument("path", metavar="PATH")
    bld.add_argument("-t", "--tag", action="append", default=[])
    bld.add_argument("-f", "--file")
    bld.add_argument("--build-arg", action="append", default=[])
    bld.add_argument("--label", action="append", default=[])
    bld.add_argument("--target")
    bld.add_argument("--no-cache", action="store_true")
    bld.add_argument("--no-cache-filter", action="append", default=[])
    bld.add_argument("--pull", action="store_true")
    bld.add_argument("-q", "--quiet", action="store_true")
    bld.add_argument("--iidfile")
    bld.add_argument("--progress", default="auto", help="auto, plain, tty or quiet")
    bld.add_argument("--platform")
    bld.add_argument("--network", help="RUN's network: default (the host's), host or none")
    bld.add_argument("--explain", action="store_true", help="say why steps missed the cache")


def _daemon_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add(sub, "daemon", "daemon", "Run the lamina daemon in the foreground")


# Which top-level words each group of parsers defines, in help order. Making every
# parser costs ~18 ms, more than a command's own work, so main() makes only the group
# its command word names (all of them for help or an unknown word).
_GROUPS: tuple[
    tuple[frozenset[str], Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]],
    ...,
] = (
    (frozenset({"images", "rmi", "tag", "history", "import"}),
     lambda sub: _image_commands(sub, prefix=False)),
    (frozenset({"image"}), _image_group),
    (frozenset({"inspect"}), _inspect_command),
    (frozenset({"run"}), lambda sub: _create_commands(sub, ("run",))),
    (frozenset({"create"}), lambda sub: _create_commands(sub, ("create",))),
    (frozenset({"ps", "stop", "restart", "start", "kill", "wait", "rm", "logs", "exec", "top",
                "rename", "cp", "attach"}),
     lambda sub: _container_commands(sub, prefix=False)),
    (frozenset({"container"}), _container_group),
    (frozenset({"version", "info"}), _system_commands),
    (frozenset({"system"}), _system_group),
    (frozenset({"volume"}), _volume_group),
    (frozenset({"build"}), _build_command),
    (frozenset({"port", "network"}), _network_commands),
    (frozenset({"daemon"}), _daemon_command),
)  # fmt: skip


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for `command`'s group only, or for every command (None)."""
    parser = _Parser(
        prog="lamina",
        description="A Docker-compatible container engine with cached, shared layers.",
    )
    sub: argparse._SubParsersAction[argparse.ArgumentParser]
    # Its parsers are _Parsers, which the invariant generic cannot say; they are
    # ArgumentParsers in every way the group functions use.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")  # type: ignore[assignment]
    for words, add in _GROUPS:
        if command is None or command in words:
            add(sub)
    return parser


def _command_word(argv: Sequence[str]) -> str | None:
    """The command a known word names, else None (help, a mistake: make them all)."""
    first = next((word for word in argv if not word.startswith("-")), None)
    return first if any(first in words for words, _ in _GROUPS) else None


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command_word(given)).parse_args(given)
    if not getattr(args, "run_command", None):
        build_parser().print_help()
        return 0
    paths = config.from_env()
    if args.run_command == "daemon":
        return _daemon(paths)
    module, _, function = args.run_command.partition(":")
    command: Command = getattr(importlib.import_module(f"lamina.cli.{module}"), function)
    try:
        return command(Client(paths), args) or 0
    except DaemonError as err:
        print(f"Error response from daemon: {err}", file=sys.stderr)
        return 1
    except NoDaemon as err:
        print(str(err), file=sys.stderr)
        return 1
    except ConnectionLost as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except UsageError as err:
        print(f"{err}" if str(err).startswith("Error") else f"Error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


def run() -> None:
    """The `lamina` command: main(), then exit without the interpreter's teardown.

    Freeing every module's objects at exit costs each command ~4 ms that the kernel
    does for nothing; the CLI holds no state that needs it (its files are closed by
    then), so only the standard streams are flushed. The daemon exits normally.
    """
    code = main()
    if _command_word(sys.argv[1:]) == "daemon":
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe (`lamina ps | head`): nothing more to say
        pass
    os._exit(code)


class UsageError(Exception):
    """A mistake the CLI can see before asking the daemon."""


def _daemon(paths: config.Paths) -> int:
    if sys.flags.no_site:  # the `lamina` launcher skips site; the daemon needs its packages
        import site

        site.main()
    from lamina.api.daemon import serve
    from lamina.errors import LaminaError

    try:
        serve(paths)
    except LaminaError as err:
        print(f"lamina daemon: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run()
