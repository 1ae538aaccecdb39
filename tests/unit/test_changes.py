"""`import --change`: Dockerfile instructions that set image config."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lamina.build.imagestate import ImageState
from lamina.build.scope import Scope
from lamina.build.steps.config import effect
from lamina.dockerfile.instructions import CmdInstr
from lamina.dockerfile.stages import parse_stages
from lamina.dockerfile.words import Lexer
from lamina.errors import InvalidArgument
from lamina.images.changes import apply_changes


def test_each_instruction_sets_its_field() -> None:
    config = apply_changes(
        {},
        [
            'CMD ["sh", "-c", "echo hi"]',
            "ENTRYPOINT /bin/run",
            'ENV A=1 B="two words"',
            "ENV LEGACY some value",
            "EXPOSE 80 53/udp",
            "LABEL x=y",
            "USER nobody",
            "WORKDIR /app",
            "VOLUME /data",
            "STOPSIGNAL SIGINT",
            "ONBUILD RUN true",
        ],
    )
    assert config == {
        "Cmd": ["sh", "-c", "echo hi"],
        "Entrypoint": ["/bin/sh", "-c", "/bin/run"],
        "Env": ["A=1", "B=two words", "LEGACY=some value"],
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
        "Labels": {"x": "y"},
        "User": "nobody",
        "WorkingDir": "/app",
        "Volumes": {"/data": {}},
        "StopSignal": "SIGINT",
        "OnBuild": ["RUN true"],
    }


def test_env_replaces_existing_key() -> None:
    # In place, as a build's ENV and moby's dispatchEnv do (this once moved A last).
    assert apply_changes({"Env": ["A=1", "B=2"]}, ["ENV A=3"])["Env"] == ["A=3", "B=2"]


def test_input_config_is_not_mutated() -> None:
    base = {"Env": ["A=1"]}
    apply_changes(base, ["ENV B=2"])
    assert base == {"Env": ["A=1"]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("RUN echo", "RUN is not a valid change command"),
        ("CMD", "CMD requires at least one argument"),
        ("EXPOSE abc", "invalid containerPort: abc"),
    ],
)
def test_bad_changes_are_refused(change: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        apply_changes({}, [change])


def built(container: dict[str, Any], lines: list[str]) -> dict[str, Any]:
    """What a build does with the same instructions: one stage on a base image whose
    container config is `container`."""
    [stage] = parse_stages("FROM base\n" + "\n".join(lines)).stages
    scope = Scope(lexer=Lexer(), build_args={}, meta_args={})
    out = copy.deepcopy(container)
    cmd_set = False
    for instr in stage.instructions:
        state = ImageState({"config": copy.deepcopy(out), "rootfs": {}}, (), None)
        cmd_set = cmd_set or isinstance(instr, CmdInstr)
        effect(instr, state, scope, cmd_set=cmd_set).change(out)
    return out


# Each case once disagreed with the builder: shlex quoting, an EXPOSE range kept as one
# key, ENV moving a key last instead of replacing it in place, no `$VAR`s, /bin/sh
# whatever the SHELL, an inherited CMD kept under a new ENTRYPOINT, WORKDIR not joined
# to the current one, HEALTHCHECK refused.
AGREEMENT = [
    ({}, ["EXPOSE 8000-8002 53/UDP"], {"ExposedPorts": {
        "8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {}, "53/udp": {}}}),
    ({"Env": ["b=0", "c=3"]}, ["ENV a=1 b=2"], {"Env": ["b=2", "c=3", "a=1"]}),
    ({}, ["ENV A=\"x \\\"y\\\"\" B='$HOME'"], {"Env": ['A=x "y"', "B=$HOME"]}),
    ({}, ['ENV LEGACY "quoted value"'], {"Env": ["LEGACY=quoted value"]}),
    ({"Env": ["HOME=/root"]}, ["ENV CFG=$HOME/.cfg", "WORKDIR ${HOME}"],
     {"Env": ["HOME=/root", "CFG=/root/.cfg"], "WorkingDir": "/root"}),
    ({}, ["LABEL \"a b\"=c d='e f'"], {"Labels": {"a b": "c", "d": "e f"}}),
    ({"Shell": ["/bin/bash", "-c"]}, ["CMD run it"],
     {"Shell": ["/bin/bash", "-c"], "Cmd": ["/bin/bash", "-c", "run it"]}),
    ({"Cmd": ["inherited"]}, ['ENTRYPOINT ["e"]'], {"Entrypoint": ["e"]}),
    ({"Cmd": ["inherited"]}, ['CMD ["mine"]', 'ENTRYPOINT ["e"]'],
     {"Cmd": ["mine"], "Entrypoint": ["e"]}),
    ({"WorkingDir": "/app"}, ["WORKDIR sub"], {"WorkingDir": "/app/sub"}),
    ({}, ['VOLUME ["/a", "/b"]'], {"Volumes": {"/a": {}, "/b": {}}}),
    ({}, ["HEALTHCHECK --retries=2 CMD true"],
     {"Healthcheck": {"Test": ["CMD-SHELL", "true"], "Retries": 2}}),
]  # fmt: skip


@pytest.mark.parametrize(("base", "changes", "expected"), AGREEMENT)
def test_changes_agree_with_the_builder(
    base: dict[str, Any], changes: list[str], expected: dict[str, Any]
) -> None:
    assert apply_changes(base, changes) == expected
    assert built(base, changes) == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("EXPOSE 8002-8000", "invalid containerPort: 8002-8000"),
        ("EXPOSE 80/ftp", "invalid containerPort: 80/ftp"),
        ('SHELL ["bash"]', "SHELL is not a valid change command"),
        ("ENV A=1\nRUN true", "RUN is not a valid change command"),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("HEALTHCHECK --bogus CMD x", "unknown flag: --bogus"),
    ],
)
def test_changes_are_refused_as_a_build_refuses_them(change: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        apply_changes({}, [change])
    assert str(caught.value) == message
