"""The runtime adapter's error translation, against a fake runtime binary (no root)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from lamina.errors import Conflict, FailedPrecondition, Internal, NotFound
from lamina.runtime.protocol import RuntimeFailure
from lamina.runtime.runc import RuncRuntime, error_text, exit_code_for

NOT_FOUND = 'runc create failed: unable to start container process: exec: "nosuch": ' \
    "executable file not found in $PATH"  # fmt: skip

# Says $FAKE_ERROR the way runc does: a JSON log line to --log if given, else stderr;
# with no error set it answers `list` and `state` like runc.
FAKE = """#!/bin/sh
log=""
for arg in "$@"; do case "$arg" in --log=*) log="${arg#--log=}";; esac; done
if [ -z "$FAKE_ERROR" ]; then
  case "$*" in *" list "*) echo null;; *" state "*) echo '{"id":"x","status":"running"}';; esac
  exit 0
fi
line="{\\"level\\":\\"error\\",\\"msg\\":$FAKE_ERROR,\\"time\\":\\"2024-05-01T12:00:00Z\\"}"
if [ -n "$log" ]; then echo "$line" > "$log"; else echo "$line" >&2; fi
echo "plain words on stderr" >&2
exit 1
"""


@pytest.fixture
def runtime(tmp_path: Path) -> RuncRuntime:
    binary = tmp_path / "fake-runc"
    binary.write_text(FAKE)
    binary.chmod(0o755)
    return RuncRuntime(str(binary), root=tmp_path / "root")


def fail_with(monkeypatch: pytest.MonkeyPatch, message: str) -> None:
    monkeypatch.setenv("FAKE_ERROR", json.dumps(message))


def test_unknown_container(runtime: RuncRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_with(monkeypatch, "container does not exist")
    assert runtime.state("ghost") is None
    with pytest.raises(NotFound, match="ghost"):
        runtime.kill("ghost", 9)


def test_wrong_state_is_a_conflict(runtime: RuncRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_with(monkeypatch, "container not running")
    with pytest.raises(Conflict, match="container not running"):
        runtime.kill("c1", "TERM")


def test_other_failures_are_internal(runtime: RuncRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_with(monkeypatch, "unable to freeze")
    with pytest.raises(Internal, match="fake-runc pause c1 failed: unable to freeze"):
        runtime.pause("c1")


def test_create_failure_reads_the_log_file(
    runtime: RuncRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fail_with(monkeypatch, NOT_FOUND)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps({"process": {"args": ["nosuch"]}}))
    with pytest.raises(RuntimeFailure) as caught:
        runtime.create("c1", bundle, pid_file=tmp_path / "c1.pid")
    assert caught.value.exit_code == 127
    assert str(caught.value) == f"OCI runtime create failed: {NOT_FOUND}: unknown"
    assert list(tmp_path.glob("*.log")) == []  # the runtime's log file is cleaned up


def test_exec_failure(
    runtime: RuncRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fail_with(monkeypatch, 'exec failed: unable to start container process: exec: "/etc": '
                           "permission denied")  # fmt: skip
    with pytest.raises(RuntimeFailure, match=r"^OCI runtime exec failed: exec failed") as caught:
        runtime.exec("c1", {"args": ["/etc"]}, pid_file=tmp_path / "e.pid")
    assert caught.value.exit_code == 126
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake-runc", "root"]  # no leftovers


def test_success_paths(runtime: RuncRuntime) -> None:
    assert runtime.list() == []
    assert runtime.state("x") == {"id": "x", "status": "running"}


def test_run_pipes_the_output_and_returns_the_status(runtime: RuncRuntime, tmp_path: Path) -> None:
    script = runtime.binary + "-run"
    Path(script).write_text("#!/bin/sh\necho out; echo err >&2; exit 3\n")
    Path(script).chmod(0o755)
    runtime.binary = script
    seen: list[bytes] = []
    code = runtime.run("step", tmp_path, output=seen.append, cancel=threading.Event())
    assert (code, b"".join(seen)) == (3, b"out\nerr\n")


def test_run_failure_reads_the_log_file(
    runtime: RuncRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fail_with(monkeypatch, NOT_FOUND)
    with pytest.raises(RuntimeFailure, match=r"^runc run failed: runc create failed") as caught:
        runtime.run("step", tmp_path, output=lambda _b: None, cancel=threading.Event())
    assert caught.value.exit_code == 127


def test_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(FailedPrecondition, match="not installed"):
        RuncRuntime(str(tmp_path / "no-such-runc"), root=tmp_path).list()


@pytest.mark.parametrize(
    ("message", "command", "code"),
    [
        (NOT_FOUND, "nosuch", 127),
        ('exec: "/x/y": stat /x/y: no such file or directory', "/x/y", 127),
        ("executable file `nosuch` not found in $PATH: No such file or directory", "nosuch", 127),
        ('exec: "/etc/passwd": permission denied', "/etc/passwd", 126),
        ("no such file or directory: /some/mount/source", "sh", 128),
        ("error mounting: not a directory", "sh", 127),
        ("cgroup: something failed", "sh", 128),
    ],
)
def test_exit_code_for(message: str, command: str, code: int) -> None:
    assert exit_code_for(message, command) == code


def test_error_text_prefers_json_errors() -> None:
    stderr = '{"level":"warning","msg":"meh"}\nplain\n{"level":"error","msg":"real"}\n'
    assert error_text(stderr) == "real"
    assert error_text("one\n\ntwo\n") == "one; two"
