"""The Dockerfile parser and the typed instruction layer, beyond buildkit's golden files."""

from __future__ import annotations

import pytest

from lamina.dockerfile.arguments import extract_flags, parse_words
from lamina.dockerfile.dump import dump
from lamina.dockerfile.gotext import quote
from lamina.dockerfile.heredoc import parse_marker
from lamina.dockerfile.instructions import (
    AddInstr,
    ArgInstr,
    CmdInstr,
    CopyInstr,
    EntrypointInstr,
    EnvInstr,
    HealthcheckInstr,
    OnbuildInstr,
    RunInstr,
    ShellInstr,
)
from lamina.dockerfile.location import DockerfileError, Location
from lamina.dockerfile.mounts import MountType, Sharing, parse_mount
from lamina.dockerfile.parser import parse
from lamina.dockerfile.stages import parse_stages
from lamina.errors import InvalidArgument


def _dump(text: str) -> str:
    return dump(parse(text).ast)


def _only(text: str) -> object:
    """The single instruction of the single stage of `FROM a` + `text`."""
    (stage,) = parse_stages("FROM a\n" + text).stages
    (instr,) = stage.instructions
    return instr


# --- directives, lines, comments ---------------------------------------------------


def test_directives_are_collected_and_escape_applies() -> None:
    result = parse("# syntax=docker/dockerfile:1\n# check=skip=all\n# escape=`\nFROM a `\n  AS b\n")
    assert result.directives == {
        "syntax": "docker/dockerfile:1",
        "check": "skip=all",
        "escape": "`",
    }
    assert result.escape_token == "`"
    assert _dump("# escape=`\nFROM a `\n  AS b\n") == '(from "a" "AS" "b")'


def test_directive_after_an_instruction_or_comment_is_a_comment() -> None:
    assert parse("FROM a\n# escape=`\n").escape_token == "\\"
    assert parse("# hello\n# escape=`\nFROM a\n").directives == {}


def test_repeated_directive_is_an_error_with_its_line() -> None:
    with pytest.raises(InvalidArgument, match=r"^Dockerfile:2: only one escape parser directive"):
        parse("# escape=`\n# escape=\\\nFROM a\n")


def test_bad_escape_token_is_an_error() -> None:
    with pytest.raises(InvalidArgument, match=r"^Dockerfile:1: invalid escape token 'x'"):
        parse("# escape=x\nFROM a\n")


def test_continuation_skips_comments_and_warns_on_empty_lines() -> None:
    text = "FROM a\nRUN one \\\n# comment\n  two \\\n\n  three\n"
    result = parse(text)
    assert dump(result.ast) == '(from "a")\n(run "one   two   three")'
    assert result.warnings == ["Empty continuation line found in: RUN one   two   three"]
    assert [(c.start_line, c.end_line) for c in result.ast.children] == [(1, 1), (2, 6)]


def test_empty_continuation_warnings_as_buildkit_reports_them() -> None:
    text = (
        "\nFROM alpine:3.6\n\nRUN valid \\\n    continuation\n\n"
        "RUN something \\\n\n    following \\\n\n    more\n\n"
        "RUN another \\\n\n    thing\n\n"
        "RUN non-indented \\\n# this is a comment\n   after-comment\n\n"
        "RUN indented \\\n    # this is an indented comment\n    comment\n\t"
    )
    assert parse(text).warnings == [
        "Empty continuation line found in: RUN something     following     more",
        "Empty continuation line found in: RUN another     thing",
    ]


def test_crlf_and_bom_are_tolerated() -> None:
    assert _dump("\ufeffFROM a\r\nRUN b \\\r\n  c\r\n") == '(from "a")\n(run "b   c")'


def test_comments_above_an_instruction_are_kept() -> None:
    node = parse("# syntax=x\n# the base\nFROM a\n").ast.children[0]
    assert node.comments == ("the base",)


def test_keyword_case_and_original_are_kept() -> None:
    node = parse("from  a  AS  b\n").ast.children[0]
    assert (node.value, node.keyword, node.original) == ("from", "from", "from  a  AS  b")


def test_file_with_only_comments_names_the_file() -> None:
    with pytest.raises(InvalidArgument, match=r"^build.df:2: file with no instructions"):
        parse("# a\n# b\n", filename="build.df")


# --- per-instruction argument rules ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ENV a b c", '(env "a" "b c" "")'),
        ('ENV a="b c" d=e', '(env "a" "\\"b c\\"" "=" "d" "e" "=")'),
        ('LABEL "a b"=c', '(label "\\"a b\\"" "c" "=")'),
        ("ARG a b=c", '(arg "a" "b=c")'),
        ("EXPOSE 80 443/tcp", '(expose "80" "443/tcp")'),
        ('VOLUME ["/a", "/b"]', '(volume "/a" "/b")'),
        ("SHELL bash -c", '(shell "bash -c")'),
        ('SHELL ["bash", "-c"]', '(shell "bash" "-c")'),
        ("HEALTHCHECK NONE", '(healthcheck "NONE")'),
        ("ONBUILD COPY --from=x a b", '(onbuild (copy ["--from=x"] "a" "b"))'),
        ("COPY --chown='a b' x y", '(copy ["--chown=a b"] "x" "y")'),
        ("FRUM x", '(frum "")'),
        ('RUN ["a", "1"]', '(run "a" "1")'),
        ("CMD [NaN]", '(cmd "[NaN]")'),
        ('CMD ["\\u00e9\\u0001\\u2028"]', '(cmd "\u00e9\\x01\\u2028")'),
    ],
)
def test_argument_rules(text: str, expected: str) -> None:
    assert _dump(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("foo", ["foo"]),
        ("foo bar", ["foo", "bar"]),
        ("foo\\ bar", ["foo\\ bar"]),
        ("foo=bar", ["foo=bar"]),
        ("foo bar 'abc xyz'", ["foo", "bar", "'abc xyz'"]),
        ('foo bar "abc xyz"', ["foo", "bar", '"abc xyz"']),
        ("\u00e0\u00f6\u00fb", ["\u00e0\u00f6\u00fb"]),
        ('a="" b', ['a=""', "b"]),
    ],
)
def test_parse_words_keeps_quotes(text: str, words: list[str]) -> None:
    assert parse_words(text, "\\") == words


@pytest.mark.parametrize(
    ("text", "flags", "rest"),
    [
        ("--a=1 --b x y", ("--a=1", "--b"), "x y"),
        ("--a='x y' z", ("--a=x y",), "z"),
        ("--a -- --b", ("--a",), " --b"),
        ("x --a", (), "x --a"),
        ("--a", ("--a",), ""),
    ],
)
def test_extract_flags(text: str, flags: tuple[str, ...], rest: str) -> None:
    assert extract_flags(text) == (flags, rest)


def test_non_string_json_array_is_an_error() -> None:
    with pytest.raises(InvalidArgument, match=r"^Dockerfile:2: when using JSON array syntax"):
        parse('FROM a\nCMD ["a", 1]\n')


def test_legacy_env_needs_a_value() -> None:
    with pytest.raises(InvalidArgument, match=r"^Dockerfile:1: LABEL must have two arguments"):
        parse("LABEL onlykey\n")


def test_go_quoting_of_odd_characters() -> None:
    assert quote('a"\\\t\x7f\u00a0\U0001f600\udcff') == '"a\\"\\\\\\t\\x7f\\u00a0\U0001f600\\xff"'


# --- heredocs --------------------------------------------------------------------


def test_heredocs_are_read_in_order_with_their_options() -> None:
    text = "FROM a\nCOPY <<one 3<<-'two' /d/\nbody $X\none\n\t\tsecond\n\ttwo\nRUN x\n"
    copy = parse(text).ast.children[1]
    assert (copy.start_line, copy.end_line) == (2, 6)
    first, second = copy.heredocs
    assert (first.name, first.content, first.expand, first.chomp) == (
        "one",
        "body $X\n",
        True,
        False,
    )
    assert (second.name, second.expand, second.chomp, second.fd) == ("two", False, True, 3)
    assert (second.content, second.body) == ("\t\tsecond\n", "second\n")
    assert parse(text).ast.children[2].start_line == 7


def test_heredocs_only_where_allowed() -> None:
    result = parse('FROM a\nRUN ["<<EOF"]\nUSER <<EOF\nRUN "<<EOF"\nONBUILD RUN <<X\nhi\nX\n')
    assert [node.heredocs for node in result.ast.children[1:4]] == [(), (), ()]
    assert result.ast.children[4].heredocs[0].content == "hi\n"


def test_unterminated_heredoc_is_an_error_at_its_instruction() -> None:
    with pytest.raises(InvalidArgument, match=r"^Dockerfile:2: unterminated heredoc"):
        parse("FROM a\nRUN <<EOF\necho\n")


def test_unbalanced_heredoc_quote_is_not_a_heredoc() -> None:
    # As in buildkit: the marker does not lex, so the body lines are instructions.
    text = "FROM a\nRUN <<'EOF\nEOF\n"
    assert parse(text).ast.children[1].heredocs == ()
    with pytest.raises(InvalidArgument, match=r"^Dockerfile:3: unknown instruction: EOF"):
        parse_stages(text)


@pytest.mark.parametrize(
    ("word", "name"),
    [("<<EOF", "EOF"), ("<<-'EOF'", "EOF"), ('<<EO"F"', "EOF"), ("<< EOF", "EOF"), ("<<", None)],
)
def test_heredoc_markers(word: str, name: str | None) -> None:
    marker = parse_marker(word)
    assert (marker.name if marker else None) == name


# --- typed instructions and stages -------------------------------------------------


def test_stages_and_meta_args() -> None:
    staged = parse_stages(
        "ARG V=1\nFROM --platform=linux/amd64 img:$V AS Build\nRUN x\nFROM build\n"
    )
    assert [arg.name for arg in staged.meta_args] == ["V"]
    first, second = staged.stages
    assert (first.name, first.base, first.platform, first.line) == (
        "build",
        "img:$V",
        "linux/amd64",
        2,
    )
    assert [type(i) for i in first.instructions] == [RunInstr]
    assert (second.name, second.base, second.instructions) == (None, "build", ())


def test_run_forms_flags_and_mounts() -> None:
    run = _only("RUN --network=none --mount=type=cache,target=/c,id=x,sharing=locked make all")
    assert isinstance(run, RunInstr)
    assert (run.cmd, run.is_json, run.network) == ("make all", False, "none")
    (mount,) = run.mounts
    assert (mount.type, mount.target, mount.cache_id, mount.sharing) == (
        MountType.CACHE,
        "/c",
        "x",
        Sharing.LOCKED,
    )
    assert mount.read_only is False
    exec_form = _only('RUN ["make", "all"]')
    assert isinstance(exec_form, RunInstr)
    assert (exec_form.cmd, exec_form.is_json) == (("make", "all"), True)


def test_copy_and_add() -> None:
    copy = _only("COPY --from=build --chown=1:2 --chmod=644 --link a b /dst/")
    assert copy == CopyInstr(
        location=Location("Dockerfile", 2, 2),
        original="COPY --from=build --chown=1:2 --chmod=644 --link a b /dst/",
        sources=("a", "b"),
        dest="/dst/",
        from_="build",
        chown="1:2",
        chmod="644",
        link=True,
    )
    add = _only("ADD --checksum=sha256:00 --link=false http://x/y /y")
    assert isinstance(add, AddInstr)
    assert (add.sources, add.checksum, add.link) == (("http://x/y",), "sha256:00", False)
    heredoc_copy = _only("COPY a <<EOF /d\nhi\nEOF")
    assert isinstance(heredoc_copy, CopyInstr)
    assert heredoc_copy.sources == ("a",)
    assert heredoc_copy.heredocs[0].content == "hi\n"


def test_env_arg_and_commands_keep_words_as_written() -> None:
    env = _only('ENV A="x y" B=z')
    assert isinstance(env, EnvInstr) and env.pairs == (("A", '"x y"'), ("B", "z"))
    (stage,) = parse_stages("FROM a\nARG X Y=1\n").stages
    line_2 = Location("Dockerfile", 2, 2)
    assert stage.instructions == (
        ArgInstr(location=line_2, original="ARG X Y=1", name="X"),
        ArgInstr(location=line_2, original="ARG X Y=1", name="Y", default="1"),
    )
    cmd = _only("CMD echo $HOME")
    assert isinstance(cmd, CmdInstr) and (cmd.cmd, cmd.is_json) == ("echo $HOME", False)
    entry = _only("ENTRYPOINT []")
    assert isinstance(entry, EntrypointInstr) and (entry.cmd, entry.is_json) == ((), True)
    shell = _only('SHELL ["/bin/bash", "-c"]')
    assert isinstance(shell, ShellInstr) and shell.shell == ("/bin/bash", "-c")


def test_healthcheck() -> None:
    check = _only("HEALTHCHECK --interval=1m30s --timeout=500ms --retries=2 CMD curl -f x")
    assert check == HealthcheckInstr(
        location=Location("Dockerfile", 2, 2),
        original="HEALTHCHECK --interval=1m30s --timeout=500ms --retries=2 CMD curl -f x",
        test=("CMD-SHELL", "curl -f x"),
        interval_ns=90_000_000_000,
        timeout_ns=500_000_000,
        retries=2,
    )
    exec_check = _only('HEALTHCHECK CMD ["curl", "x"]')
    assert isinstance(exec_check, HealthcheckInstr) and exec_check.test == ("CMD", "curl", "x")


def test_onbuild_keeps_its_trigger_text() -> None:
    onbuild = _only("ONBUILD RUN <<EOF\necho hi\nEOF")
    assert isinstance(onbuild, OnbuildInstr)
    assert onbuild.expression == "RUN <<EOF\necho hi\nEOF"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FRUM x", "Dockerfile:2: unknown instruction: FRUM (did you mean FROM?)"),
        ("COPY --foo=1 a b", "Dockerfile:2: unknown flag: --foo"),
        ("COPY --link --link a b", "Dockerfile:2: duplicate flag specified: --link"),
        ("COPY --chown a b", "Dockerfile:2: missing a value on flag: --chown"),
        ("ENV --x=1 a=b", "Dockerfile:2: unknown flag: --x"),
        ("COPY onlyone", "Dockerfile:2: COPY requires at least two arguments, but only one"),
        ("COPY a <<EOF\nEOF", "Dockerfile:2: COPY cannot accept a heredoc as a destination"),
        ("WORKDIR", "Dockerfile:2: WORKDIR requires exactly one argument"),
        ("EXPOSE", "Dockerfile:2: EXPOSE requires at least one argument"),
        ("SHELL bash", "Dockerfile:2: SHELL requires the arguments to be in JSON form"),
        ("HEALTHCHECK NONE x", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK CMD", "Dockerfile:2: Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK --interval=1 CMD x", 'Dockerfile:2: time: missing unit in duration "1"'),
        ("HEALTHCHECK --retries=-1 CMD x", "Dockerfile:2: --retries cannot be negative (-1)"),
        ("ONBUILD FROM x", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"),
        ("RUN --network=bridge x", 'Dockerfile:2: invalid network mode "bridge"'),
        ("RUN --mount=type=nfs x", 'Dockerfile:2: unsupported mount type "nfs"'),
        ("RUN --mount=type=bind,mode=0700 x", 'mode not allowed for "bind" type mounts'),
        ("FROM b AS 9x", 'Dockerfile:2: invalid name for build stage: "9x"'),
        ("FROM b c", "Dockerfile:2: FROM requires either one or three arguments"),
        ("FROM b AS a\nFROM c AS a", 'Dockerfile:3: duplicate stage name "a"'),
    ],
)
def test_instruction_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_stages("FROM a\n" + text + "\n")
    assert message in str(caught.value)


def test_instruction_before_from_is_an_error() -> None:
    with pytest.raises(InvalidArgument, match=r"^Dockerfile:2: no build stage in current context"):
        parse_stages("ARG x\nRUN y\nFROM a\n")


@pytest.mark.parametrize(
    ("spec", "fields"),
    [
        ("target=/src", {"type": MountType.BIND, "target": "/src", "read_only": True}),
        ("type=bind,source=.,target=/s,rw", {"source": ".", "read_only": False}),
        ("type=tmpfs,target=/t,size=64m", {"size": 64 << 20, "read_only": False}),
        ("type=secret,id=token,required", {"cache_id": "token", "required": True}),
        ("type=cache,target=/c,mode=0755,uid=1000", {"mode": 0o755, "uid": 1000}),
        ('type=bind,"target=/a,b",from=build', {"from_": "build", "target": "/a,b"}),
    ],
)
def test_mount_options(spec: str, fields: dict[str, object]) -> None:
    mount = parse_mount(spec)
    assert {name: getattr(mount, name) for name in fields} == fields


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("type=bind,required", "unexpected key 'required' for mount type 'bind'"),
        ("target", "invalid field 'target' must be a key=value pair"),
        ("type=cache,sharing=maybe,target=/c", 'unsupported sharing value "maybe"'),
        ("type=secret", "invalid secret mount"),
        ("from=$STAGE,target=/x", "'from' doesn't support variable expansion"),
        ("bogus=1", "unexpected key 'bogus' in 'bogus=1'"),
        ("type=cache,uid=x", "invalid value x for uid"),
    ],
)
def test_mount_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("$", "\\$")):
        parse_mount(spec)


def test_instructions_carry_their_location() -> None:
    (stage,) = parse_stages("FROM a\nRUN <<EOF\nhi\nEOF\nUSER me\n", filename="x.Dockerfile").stages
    assert stage.location == Location("x.Dockerfile", 1, 1)
    assert [i.location for i in stage.instructions] == [
        Location("x.Dockerfile", 2, 4),
        Location("x.Dockerfile", 5, 5),
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("FROM a\n\nFOO bar\n", 3, "unknown instruction: FOO"),
        ("FROM a\nCOPY --bogus a b\n", 2, "unknown flag: --bogus"),
        ("FROM a AS x\nFROM b AS x\n", 2, 'duplicate stage name "x"'),
        ("RUN true\n", 1, "no build stage in current context"),
    ],
)
def test_errors_carry_file_and_line_as_data(text: str, line: int, message: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        parse_stages(text, filename="df")
    assert (caught.value.file, caught.value.line, caught.value.message) == ("df", line, message)
    assert str(caught.value) == f"df:{line}: {message}"
    assert isinstance(caught.value, InvalidArgument)
