"""The monitor's command line, parsed on one side and built on the other."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any, NamedTuple

from lamina.containers.monitor.logs.config import LogConfig
from lamina.errors import InvalidArgument


class Options(NamedTuple):
    id: str
    state_dir: Path
    runtime_root: Path
    bundle: Path | None = None  # the container's bundle; not used for an exec
    log: Path | None = None  # the log's current file; None: output goes to attach clients only
    log_config: LogConfig = LogConfig()  # the container's, as its create checked it
    runtime: str = "runc"
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False
    exec_process: Path | None = None
    exec_id: str | None = None
    wait_attach: bool = False
    ready_fd: int | None = None
    console_size: tuple[int, int] | None = None  # (height, width)

    @property
    def is_exec(self) -> bool:
        return self.exec_process is not None


def to_argv(opts: Options) -> list[str]:
    argv = ["--id", opts.id, "--state-dir", str(opts.state_dir)]
    argv += ["--runtime", opts.runtime, "--runtime-root", str(opts.runtime_root)]
    for flag, path in (("--bundle", opts.bundle), ("--log", opts.log)):
        if path is not None:
            argv += [flag, str(path)]
    if opts.exec_process is not None:
        argv += ["--exec", str(opts.exec_process), "--exec-id", str(opts.exec_id)]
    switches = {
        "--tty": opts.tty,
        "--stdin": opts.stdin,
        "--stdin-once": opts.stdin_once,
        "--wait-attach": opts.wait_attach,
    }
    argv += [flag for flag, on in switches.items() if on]
    if opts.log_config != LogConfig():
        argv += ["--log-config", json.dumps(dataclasses.asdict(opts.log_config))]
    if opts.ready_fd is not None:
        argv += ["--ready-fd", str(opts.ready_fd)]
    if opts.console_size is not None:
        argv += ["--console-size", f"{opts.console_size[0]}x{opts.console_size[1]}"]
    return argv


_PATH_FIELDS = ("state_dir", "runtime_root", "bundle", "log", "exec_process")


def to_json(opts: Options) -> dict[str, Any]:
    """The options as a JSON object, for the fork server (no argv to parse after fork)."""
    doc = opts._asdict()
    for name in _PATH_FIELDS:
        if doc[name] is not None:
            doc[name] = str(doc[name])
    doc["log_config"] = dataclasses.asdict(opts.log_config)
    return doc


def from_json(doc: dict[str, Any]) -> Options:
    fields = {name: doc[name] for name in Options._fields if name in doc}
    for name in _PATH_FIELDS:
        fields[name] = _absolute(None if fields.get(name) is None else Path(fields[name]))
    if fields.get("console_size") is not None:
        height, width = fields["console_size"]
        fields["console_size"] = (int(height), int(width))
    if "log_config" in fields:
        fields["log_config"] = _log_config(fields["log_config"])
    if fields.get("bundle") is None and fields.get("exec_process") is None:
        raise InvalidArgument("a bundle is required unless an exec process is given")
    return Options(**fields)


def parse(argv: list[str]) -> Options:
    args = _parser().parse_args(argv)
    if args.exec is None and args.bundle is None:
        raise InvalidArgument("--bundle is required unless --exec is given")
    if (args.exec is None) != (args.exec_id is None):
        raise InvalidArgument("--exec and --exec-id go together")
    return Options(
        id=args.id, state_dir=args.state_dir.absolute(), runtime_root=args.runtime_root.absolute(),
        bundle=_absolute(args.bundle), log=_absolute(args.log), runtime=args.runtime, tty=args.tty,
        stdin=args.stdin, stdin_once=args.stdin_once, exec_process=_absolute(args.exec),
        exec_id=args.exec_id, wait_attach=args.wait_attach, ready_fd=args.ready_fd,
        console_size=_size(args.console_size),
        log_config=LogConfig() if args.log_config is None else _log_config(args.log_config),
    )  # fmt: skip


def _absolute(path: Path | None) -> Path | None:
    # The monitor changes directory to / (to hold no mount busy): relative paths would break.
    return None if path is None else path.absolute()


def _log_config(doc: Any) -> LogConfig:
    """The LogConfig the daemon sent: its fields as JSON (as text on a command line)."""
    try:
        doc = json.loads(doc) if isinstance(doc, str) else doc
        return LogConfig(**doc)
    except (ValueError, TypeError) as err:
        raise InvalidArgument(f"--log-config wants LogConfig's fields as JSON: {err}") from None


def _size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    height, sep, width = text.partition("x")
    if not sep or not height.isdigit() or not width.isdigit():
        raise InvalidArgument(f"--console-size wants HEIGHTxWIDTH, not {text!r}")
    return int(height), int(width)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lamina.containers.monitor")
    p.add_argument("--id", required=True, help="the container's id in the runtime")
    p.add_argument("--state-dir", required=True, type=Path, help="state file and sockets")
    p.add_argument("--runtime", default="runc", help="runtime binary (runc, crun)")
    p.add_argument("--runtime-root", required=True, type=Path, help="the runtime's --root")
    p.add_argument("--bundle", type=Path, help="OCI bundle (config.json + rootfs)")
    p.add_argument("--log", type=Path, help="the log file to append output to")
    p.add_argument("--log-config", help="rotation and mode of the log, as JSON (LogConfig)")
    p.add_argument("--tty", action="store_true", help="give the process a pty")
    p.add_argument("--stdin", action="store_true", help="keep the process's stdin open")
    p.add_argument("--stdin-once", action="store_true", help="close stdin when a client ends it")
    p.add_argument("--exec", type=Path, help="OCI process JSON to exec in the container")
    p.add_argument("--exec-id", help="the exec's id (names its state file and sockets)")
    p.add_argument("--wait-attach", action="store_true", help="start on the first attach")
    p.add_argument("--ready-fd", type=int, help="write the first state as a JSON line here")
    p.add_argument("--console-size", help="initial pty size, HEIGHTxWIDTH")
    return p
