"""The monitor's command line: what the daemon builds is what the monitor parses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lamina.containers.monitor.logs.config import LogConfig
from lamina.containers.monitor.options import Options, from_json, parse, to_argv, to_json
from lamina.containers.monitor.state import MonitorFiles
from lamina.errors import InvalidArgument


def test_round_trip() -> None:
    full = Options(
        id="c1", state_dir=Path("/run/s"), runtime_root=Path("/run/r"), bundle=Path("/b"),
        log=Path("/l.log"), runtime="crun", tty=True, stdin=True, stdin_once=True,
        exec_process=Path("/p.json"), exec_id="e1", wait_attach=True, ready_fd=5,
        console_size=(30, 100), log_config=LogConfig("local", 10_000_000, 3, True, 1_000_000),
    )  # fmt: skip
    assert parse(to_argv(full)) == full
    assert from_json(json.loads(json.dumps(to_json(full)))) == full  # the fork server's way
    small = Options(id="c2", state_dir=Path("/s"), runtime_root=Path("/r"), bundle=Path("/b"))
    assert parse(to_argv(small)) == small
    assert from_json(json.loads(json.dumps(to_json(small)))) == small


def test_json_options_need_a_bundle_or_an_exec() -> None:
    with pytest.raises(InvalidArgument, match="bundle"):
        from_json({"id": "c", "state_dir": "/s", "runtime_root": "/r"})


def test_relative_paths_become_absolute() -> None:
    opts = parse(["--id", "c", "--state-dir", "s", "--runtime-root", "r", "--bundle", "b"])
    assert opts.state_dir == Path.cwd() / "s" and opts.bundle == Path.cwd() / "b"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ([], "--bundle is required"),
        (["--bundle", "/b", "--exec", "/p.json"], "go together"),
        (["--bundle", "/b", "--console-size", "30,100"], "HEIGHTxWIDTH"),
        (["--bundle", "/b", "--log-config", '{"max_files": 2, "colour": 1}'], "LogConfig's"),
        (["--bundle", "/b", "--log-config", "{max_files"], "--log-config wants"),
    ],
)
def test_bad_command_lines(extra: list[str], words: str) -> None:
    with pytest.raises(InvalidArgument, match=words):
        parse(["--id", "c", "--state-dir", "/s", "--runtime-root", "/r", *extra])


def test_exec_files_sit_beside_the_container() -> None:
    container = MonitorFiles(Path("/s"))
    exec_ = MonitorFiles(Path("/s"), "e1")
    assert (container.state.name, container.attach.name) == ("state.json", "attach.sock")
    assert (exec_.state.name, exec_.attach.name) == ("exec-e1.json", "exec-e1.attach.sock")
    assert exec_.control.name == "exec-e1.control.sock"
