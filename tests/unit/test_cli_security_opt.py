"""`--security-opt seccomp=<file>`: the CLI sends the profile itself, as the docker CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lamina.cli.containers_args import create_body
from lamina.cli.main import UsageError, build_parser


def security_opt(*argv: str) -> list[str] | None:
    args = build_parser("run").parse_args(["run", *argv, "busybox"])
    opts: list[str] | None = create_body(args, attach=False)["HostConfig"]["SecurityOpt"]
    return opts


def test_a_profile_file_is_sent_as_compact_json(tmp_path: Path) -> None:
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["keyctl"],
               "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}  # fmt: skip
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile, indent=4))
    sent = security_opt("--security-opt", f"seccomp={path}", "--security-opt", "no-new-privileges")
    assert sent is not None and sent[1] == "no-new-privileges"
    key, _, text = sent[0].partition("=")
    assert key == "seccomp" and json.loads(text) == profile and "\n" not in text
    assert security_opt("--security-opt", f"seccomp:{path}") == [sent[0]]


def test_builtin_and_unconfined_are_names_not_files() -> None:
    for name in ("builtin", "unconfined"):
        assert security_opt("--security-opt", f"seccomp={name}") == [f"seccomp={name}"]
    assert security_opt() is None


def test_an_unreadable_or_invalid_profile_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"opening seccomp profile \(.*missing.json\) failed"):
        security_opt("--security-opt", f"seccomp={tmp_path / 'missing.json'}")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match=r"compacting json for seccomp profile \(.*\) failed"):
        security_opt("--security-opt", f"seccomp={bad}")
