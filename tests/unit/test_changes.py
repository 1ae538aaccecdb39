"""`import --change`: Dockerfile instructions that set image config."""

from __future__ import annotations

import pytest

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
    assert apply_changes({"Env": ["A=1", "B=2"]}, ["ENV A=3"])["Env"] == ["B=2", "A=3"]


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
