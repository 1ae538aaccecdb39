"""Planning a build (stages, target, ARGs, base images), ARG scope, and config steps."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from lamina.build.imagestate import ImageState
from lamina.build.plan import BuildRequest, prepare
from lamina.build.scope import Scope
from lamina.build.steps.config import effect
from lamina.dockerfile.config import env_of
from lamina.dockerfile.instructions import ArgInstr
from lamina.dockerfile.location import Location
from lamina.dockerfile.stages import parse_stages
from lamina.dockerfile.words import Lexer
from lamina.errors import InvalidArgument, NotFound
from lamina.oci.digest import Digest, of_bytes

KNOWN = {"busybox", "alpine:3", "alpine:edge"}


def resolve(name: str) -> Digest:
    if name not in KNOWN:
        raise NotFound(f"No such image: {name}")
    return of_bytes(name.encode())


def plan_for(tmp_path: Path, dockerfile: str, **options: Any) -> Any:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    request = BuildRequest(context=tmp_path, dockerfile=tmp_path / "Dockerfile", **options)
    return prepare(request, resolve=resolve)


def test_what_a_plan_says_about_its_steps(tmp_path: Path) -> None:
    """The key inputs and stamps every step takes from the plan: SOURCE_DATE_EPOCH, the
    platform (which it changes), where a step is, which stages use the cache."""
    plan = plan_for(tmp_path, "FROM busybox AS a\nRUN x\nFROM a\nENV A=1\n")
    assert plan.epoch is None and plan.step_count == 4
    assert plan.site(plan.stages[1], 4) == f"{tmp_path}/Dockerfile:1:4"
    assert plan.uses_cache(plan.stages[0]) and plan.uses_cache(plan.stages[1])
    dated = plan_for(tmp_path, "FROM busybox\n", build_args={"SOURCE_DATE_EPOCH": "5"})
    assert dated.epoch == 5 and dated.platform == f"{plan.platform} source-date-epoch=5"
    filtered = plan_for(tmp_path, "FROM busybox AS a\nFROM a\n", no_cache_filter=("A",))
    assert not filtered.uses_cache(filtered.stages[0]) and filtered.uses_cache(filtered.stages[1])
    bad = plan_for(tmp_path, "FROM busybox\n", build_args={"SOURCE_DATE_EPOCH": "soon"})
    with pytest.raises(InvalidArgument, match="SOURCE_DATE_EPOCH 'soon': not an integer"):
        bad.epoch  # noqa: B018


MULTI = """ARG TAG=3
FROM alpine:$TAG AS base
FROM busybox AS tools
FROM base AS build
COPY --from=tools /bin/sh /sh
FROM busybox AS unrelated
FROM build
RUN --mount=type=bind,from=unrelated,target=/x true
"""


def test_needed_stages_follow_from_copy_and_mounts(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, MULTI)
    assert plan.needed == (0, 1, 2, 3, 4)
    assert plan.stages[0].base == "alpine:3"
    assert plan.stages[2].base_stage == 0 and plan.stages[4].base_stage == 2
    only_build = plan_for(tmp_path, MULTI, target="build")
    assert only_build.needed == (0, 1, 2)
    assert only_build.target.stage.name == "build"
    assert plan.stage_named("1") is plan.stages[1] and plan.stage_named("TOOLS") is plan.stages[1]
    # Bases are resolved at prepare: the build uses those images, whatever names say later.
    assert [s.base_id for s in plan.stages] == [
        resolve("alpine:3"),
        resolve("busybox"),
        None,
        resolve("busybox"),
        None,
    ]
    assert only_build.stages[3].base_id is None  # not needed: not resolved


def test_meta_args_take_build_args_and_report_unused(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, MULTI, build_args={"TAG": "edge", "NOPE": "1", "HTTP_PROXY": "p"})
    assert plan.stages[0].base == "alpine:edge"
    assert plan.unused_args == ("NOPE",)


@pytest.mark.parametrize(
    ("dockerfile", "options", "error", "message"),
    [
        ("FROM nosuch\n", {}, NotFound, "Dockerfile:1: No such image: nosuch"),
        ("FROM busybox\n", {"target": "x"}, InvalidArgument, 'target stage "x" could not'),
        ("ARG B\nFROM $B\n", {}, InvalidArgument, "Dockerfile:2: base name ($B) should not"),
        ("FROM busybox\n", {"tags": ("Bad:Tag:x",)}, InvalidArgument, "invalid reference"),
        ("FRM busybox\n", {}, InvalidArgument, "Dockerfile:1: unknown instruction: FRM"),
    ],
)
def test_input_errors_are_found_before_building(
    tmp_path: Path, dockerfile: str, options: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        plan_for(tmp_path, dockerfile, **options)


def test_missing_dockerfile(tmp_path: Path) -> None:
    request = BuildRequest(context=tmp_path, dockerfile=tmp_path / "Dockerfile")
    with pytest.raises(InvalidArgument, match="Cannot locate specified Dockerfile"):
        prepare(request, resolve=resolve)


def scope(build_args: dict[str, str] | None = None) -> Scope:
    return Scope(lexer=Lexer(), build_args=build_args or {}, meta_args={"V": "meta"})


def _at(line: int) -> Location:
    return Location("Dockerfile", line, line)


def test_arg_scope_rules() -> None:
    s = scope({"GIVEN": "cli"})
    assert s.declare(ArgInstr(location=_at(1), original="", name="V"), {}) == "ARG V=meta"
    s.declare(ArgInstr(location=_at(2), original="", name="GIVEN", default="x"), {})
    s.declare(ArgInstr(location=_at(3), original="", name="D", default="${V}-d"), {})
    assert s.args == {"V": "meta", "GIVEN": "cli", "D": "meta-d"}
    assert s.word("$V/$E", {"V": "env wins", "E": "e"}) == "env wins/e"
    assert s.run_args({"V": "env"}) == {"GIVEN": "cli", "D": "meta-d"}
    assert scope({"http_proxy": "p"}).run_args({}) == {"http_proxy": "p"}


def state(container: dict[str, Any]) -> ImageState:
    config = {"config": container, "rootfs": {"type": "layers", "diff_ids": []}}
    return ImageState(config, (), None)


def apply(line: str, container: dict[str, Any], **kw: Any) -> tuple[str, dict[str, Any]]:
    [instr] = parse_stages(f"FROM x\n{line}\n").stages[0].instructions
    step = effect(instr, state(container), scope(), **kw)
    changed = dict(container)
    step.change(changed)
    return step.created_by, changed


def test_config_instructions() -> None:
    assert apply("ENV A=1 B=${A}2", {"Env": ["A=0", "P=p"]}) == (
        "ENV A=1 B=02",
        {"Env": ["A=1", "P=p", "B=02"]},
    )
    assert apply("EXPOSE 80 53/udp 8000-8001", {})[1]["ExposedPorts"] == {
        "80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {},
    }  # fmt: skip
    assert apply('CMD ["a", "b"]', {})[0] == 'CMD ["a" "b"]'
    assert apply("CMD run it", {"Shell": ["/bin/bash", "-c"]})[1]["Cmd"] == [
        "/bin/bash", "-c", "run it",
    ]  # fmt: skip
    assert "Cmd" not in apply('ENTRYPOINT ["e"]', {"Cmd": ["inherited"]})[1]
    assert apply('ENTRYPOINT ["e"]', {"Cmd": ["mine"]}, cmd_set=True)[1]["Cmd"] == ["mine"]
    assert apply("WORKDIR sub", {"WorkingDir": "/app"})[1]["WorkingDir"] == "/app/sub"
    assert apply('LABEL "a b"=c', {"Labels": {"x": "y"}})[1]["Labels"] == {"x": "y", "a b": "c"}
    assert apply("VOLUME /a /b", {})[1]["Volumes"] == {"/a": {}, "/b": {}}
    assert apply("HEALTHCHECK --retries=2 CMD true", {})[1]["Healthcheck"] == {
        "Test": ["CMD-SHELL", "true"], "Retries": 2,
    }  # fmt: skip
    with pytest.raises(InvalidArgument, match="invalid containerPort"):
        apply("EXPOSE 99999", {})


def test_env_of_keeps_the_last_value() -> None:
    assert env_of(["A=1", "B=2=3", "A=4"]) == {"A": "4", "B": "2=3"}
