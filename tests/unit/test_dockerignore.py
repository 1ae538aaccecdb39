"""`.dockerignore` rules: tables carried over from moby/patternmatcher's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from lamina.build.context.ignore import (
    IgnoreMatcher,
    _Kind,
    _to_regex,
    filepath_match,
    go_clean,
    read_patterns,
)
from lamina.errors import InvalidArgument

FAIL, EXACT, INEXACT = "fail", "exact", "inexact"

# (pattern, path, outcome): EXACT = the pattern matches the path itself; INEXACT = only
# a parent directory of the path matches. Cases with path "/" are left out: the
# context root is never excluded.
SINGLE_PATTERN = [
    ("**", "file", EXACT),
    ("**", "file/", EXACT),
    ("**/", "file", EXACT),
    ("**/", "file/", EXACT),
    ("**", "dir/file", EXACT),
    ("**/", "dir/file", EXACT),
    ("**", "dir/file/", EXACT),
    ("**/", "dir/file/", EXACT),
    ("**/**", "dir/file", EXACT),
    ("**/**", "dir/file/", EXACT),
    ("dir/**", "dir/file", EXACT),
    ("dir/**", "dir/file/", EXACT),
    ("dir/**", "dir/dir2/file", EXACT),
    ("dir/**", "dir/dir2/file/", EXACT),
    ("**/dir", "dir", EXACT),
    ("**/dir", "dir/file", INEXACT),
    ("**/dir2/*", "dir/dir2/file", EXACT),
    ("**/dir2/*", "dir/dir2/file/", INEXACT),
    ("**/dir2/**", "dir/dir2/dir3/file", EXACT),
    ("**/dir2/**", "dir/dir2/dir3/file/", EXACT),
    ("**file", "file", EXACT),
    ("**file", "dir/file", EXACT),
    ("**/file", "dir/file", EXACT),
    ("**file", "dir/dir/file", EXACT),
    ("**/file", "dir/dir/file", EXACT),
    ("**/file*", "dir/dir/file", EXACT),
    ("**/file*", "dir/dir/file.txt", EXACT),
    ("**/file*txt", "dir/dir/file.txt", EXACT),
    ("**/file*.txt", "dir/dir/file.txt", EXACT),
    ("**/file*.txt*", "dir/dir/file.txt", EXACT),
    ("**/**/*.txt", "dir/dir/file.txt", EXACT),
    ("**/**/*.txt2", "dir/dir/file.txt", FAIL),
    ("**/*.txt", "file.txt", EXACT),
    ("**/**/*.txt", "file.txt", EXACT),
    ("a**/*.txt", "a/file.txt", EXACT),
    ("a**/*.txt", "a/dir/file.txt", EXACT),
    ("a**/*.txt", "a/dir/dir/file.txt", EXACT),
    ("a/*.txt", "a/dir/file.txt", FAIL),
    ("a/*.txt", "a/file.txt", EXACT),
    ("a/*.txt**", "a/file.txt", EXACT),
    ("a[b-d]e", "ae", FAIL),
    ("a[b-d]e", "ace", EXACT),
    ("a[b-d]e", "aae", FAIL),
    ("a[^b-d]e", "aze", EXACT),
    (".*", ".foo", EXACT),
    (".*", "foo", FAIL),
    ("abc.def", "abcdef", FAIL),
    ("abc.def", "abc.def", EXACT),
    ("abc.def", "abcZdef", FAIL),
    ("abc?def", "abcZdef", EXACT),
    ("abc?def", "abcdef", FAIL),
    ("**/foo/bar", "foo/bar", EXACT),
    ("**/foo/bar", "dir/foo/bar", EXACT),
    ("**/foo/bar", "dir/dir2/foo/bar", EXACT),
    ("abc/**", "abc", FAIL),
    ("abc/**", "abc/def", EXACT),
    ("abc/**", "abc/def/ghi", EXACT),
    ("**/.foo", ".foo", EXACT),
    ("**/.foo", "bar.foo", FAIL),
    ("a(b)c/def", "a(b)c/def", EXACT),
    ("a(b)c/def", "a(b)c/xyz", FAIL),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", EXACT),
    (
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        EXACT,
    ),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", EXACT),
    ("a\\\\", "a\\", EXACT),
    ("a\\*b", "a*b", EXACT),
    # Beyond moby's table: directory patterns and anchoring.
    ("docs", "docs/README.md", INEXACT),
    ("docs/", "docs/sub/README.md", INEXACT),
    ("*.md", "docs/README.md", FAIL),  # `*` does not cross `/`
    ("*/temp*", "somedir/temporary.txt", EXACT),
    ("*/*/temp*", "somedir/subdir/temporary.txt", EXACT),
    ("temp?", "tempa", EXACT),
    ("temp?", "dir/tempa", FAIL),
    ("/abs/path", "abs/path", EXACT),  # a leading / is the context root
    ("./x/../y", "y", EXACT),  # patterns are cleaned
    ("na\u00efve*", "na\u00efve.txt", EXACT),
]

MULTI_PATTERN = [
    (["**", "!util/docker/web"], "util/docker/web/foo", FAIL),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", EXACT),
    (
        ["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        FAIL,
    ),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", FAIL),
    (["*.go"], "fileutils.go", EXACT),
    (["!fileutils.go", "*.go"], "fileutils.go", EXACT),  # a later pattern wins
    (["*.go", "!fileutils.go"], "fileutils.go", FAIL),
    (["docs", "!docs/README.md"], "docs/README.md", FAIL),
    (["docs/", "!docs/README.md"], "docs/README.md", FAIL),
    (["docs/*", "!docs/README.md"], "docs/README.md", FAIL),
    (["docs", "!docs/README.md"], "docs/other.md", EXACT),
    (["*", "!src"], "src/deep/file.c", FAIL),
    (["*", "!src"], "other/file.c", EXACT),
    (["**/*.log", "!keep.log"], "keep.log", FAIL),
    (["**/*.log", "!keep.log"], "sub/keep.log", EXACT),
    (["**/*.log", "!**/keep.log"], "sub/keep.log", FAIL),
    # BuildKit's walker semantics: an exception before a later exclusion cannot help.
    (["a/b", "!a"], "a/b", EXACT),
    ([], "anything", FAIL),
]


@pytest.mark.parametrize(("pattern", "path", "outcome"), SINGLE_PATTERN)
def test_single_pattern(pattern: str, path: str, outcome: str) -> None:
    matcher = IgnoreMatcher.from_lines([pattern])
    assert matcher.matches(path, is_dir=False) is (outcome != FAIL)


@pytest.mark.parametrize(("patterns", "path", "outcome"), MULTI_PATTERN)
def test_multiple_patterns(patterns: list[str], path: str, outcome: str) -> None:
    assert IgnoreMatcher.from_lines(patterns).matches(path) is (outcome != FAIL)


# Go's own filepath.Match table (from patternmatcher_test.go): (pattern, name, result)
# where result is True, False or "error".
FILEPATH_MATCH = [
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", False),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True),
    ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    ("a?b", "a\u263ab", True),
    ("a[^a]b", "a\u263ab", True),
    ("a???b", "a\u263ab", False),
    ("a[^a][^a][^a]b", "a\u263ab", False),
    ("[a-\u03b6]*", "\u03b1", True),
    ("*[a-\u03b6]", "A", False),
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[\\-]", "-", True),
    ("[x\\-]", "x", True),
    ("[x\\-]", "-", True),
    ("[x\\-]", "z", False),
    ("[\\-x]", "x", True),
    ("[\\-x]", "-", True),
    ("[\\-x]", "a", False),
    ("[]a]", "]", "error"),
    ("[-]", "-", "error"),
    ("[x-]", "x", "error"),
    ("[x-]", "-", "error"),
    ("[x-]", "z", "error"),
    ("[-x]", "x", "error"),
    ("[-x]", "-", "error"),
    ("[-x]", "a", "error"),
    ("\\", "a", "error"),
    ("[a-b-c]", "a", "error"),
    ("[", "a", "error"),
    ("[^", "a", "error"),
    ("[^bc", "a", "error"),
    ("a[", "a", "error"),
    ("a[", "ab", "error"),
    ("*x", "xxx", True),
]


@pytest.mark.parametrize(("pattern", "name", "result"), FILEPATH_MATCH)
def test_filepath_match(pattern: str, name: str, result: bool | str) -> None:
    if result == "error":
        with pytest.raises(InvalidArgument, match="syntax error in pattern"):
            filepath_match(pattern, name)
    else:
        assert filepath_match(pattern, name) is result


@pytest.mark.parametrize(("pattern", "name", "result"), FILEPATH_MATCH)
def test_ignore_matcher_agrees_with_filepath_match(
    pattern: str, name: str, result: bool | str
) -> None:
    if result == "error":
        with pytest.raises(InvalidArgument):
            IgnoreMatcher([pattern])
    elif "/" not in name:  # path names with / also match through their parents
        assert IgnoreMatcher([pattern]).matches(name) is result


COMPILE = [
    ("*", _Kind.REGEXP, r"^[^/]*\Z"),
    ("file*", _Kind.REGEXP, r"^file[^/]*\Z"),
    ("*file", _Kind.REGEXP, r"^[^/]*file\Z"),
    ("a*/b", _Kind.REGEXP, r"^a[^/]*/b\Z"),
    ("**", _Kind.SUFFIX, None),
    ("**/**", _Kind.REGEXP, r"^(.*/)?.*\Z"),
    ("dir/**", _Kind.PREFIX, None),
    ("**/dir", _Kind.SUFFIX, None),
    ("**/dir2/*", _Kind.REGEXP, r"^(.*/)?dir2/[^/]*\Z"),
    ("**/dir2/**", _Kind.REGEXP, r"^(.*/)?dir2/.*\Z"),
    ("**file", _Kind.SUFFIX, None),
    ("**/file*txt", _Kind.REGEXP, r"^(.*/)?file[^/]*txt\Z"),
    ("**/**/*.txt", _Kind.REGEXP, r"^(.*/)?(.*/)?[^/]*\.txt\Z"),
    ("a[b-d]e", _Kind.REGEXP, r"^a[b-d]e\Z"),
    (".*", _Kind.REGEXP, r"^\.[^/]*\Z"),
    ("abc.def", _Kind.EXACT, None),
    ("abc?def", _Kind.REGEXP, r"^abc[^/]def\Z"),
    ("**/foo/bar", _Kind.SUFFIX, None),
    ("a(b)c/def", _Kind.EXACT, None),
    ("a.|)$(}+{bc", _Kind.EXACT, None),
]


@pytest.mark.parametrize(("pattern", "kind", "regex"), COMPILE)
def test_compile_kinds(pattern: str, kind: _Kind, regex: str | None) -> None:
    got_kind, got_regex = _to_regex(pattern)
    assert got_kind is kind
    if regex is not None:
        assert got_regex == regex


def test_read_patterns_like_ignorefile_readall() -> None:
    content = (
        "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! "
    )
    assert read_patterns(content.splitlines()) == [
        "test1",
        "test2",
        "a/file/here",
        "lastfile",
        "!inverted/abs/path",
        "!",
        "!",
    ]


def test_read_patterns_details() -> None:
    lines = ["\ufeffbom", "  # not a comment", "  spaced  ", "dir/", "a//b/./c/..", "/"]
    assert read_patterns(lines) == ["bom", "# not a comment", "spaced", "dir", "a/b", "/"]


def test_lone_exclamation_is_an_error() -> None:
    with pytest.raises(InvalidArgument, match='illegal exclusion pattern: "!"'):
        IgnoreMatcher.from_lines(["docs", "!"])


def test_malformed_pattern_names_it() -> None:
    with pytest.raises(InvalidArgument, match=r"\[Local-Only\]"):
        IgnoreMatcher.from_lines(["[Local-Only]/"])  # valid for Match, invalid as a regex


def test_go_clean() -> None:
    assert [go_clean(p) for p in ["", "//a//b/", "a/../..", "/../x", "./"]] == [
        ".",
        "/a/b",
        "..",
        "/x",
        ".",
    ]


def test_root_is_never_excluded() -> None:
    matcher = IgnoreMatcher.from_lines(["*", "**"])
    assert not matcher.matches(".")
    assert not matcher.matches("")


def test_may_include_below() -> None:
    literal = IgnoreMatcher.from_lines(["docs", "!docs/api/README.md"])
    assert literal.may_include_below("docs")
    assert literal.may_include_below("docs/api")
    assert not literal.may_include_below("docs/other")
    assert not literal.may_include_below("src")
    assert not IgnoreMatcher.from_lines(["docs"]).may_include_below("docs")
    trailing_glob = IgnoreMatcher.from_lines(["*", "!keep/**"])
    assert trailing_glob.may_include_below("keep")
    assert not trailing_glob.may_include_below("other")
    wildcard = IgnoreMatcher.from_lines(["node_modules", "!**/*.go"])
    assert wildcard.may_include_below("node_modules/deep")


def test_from_file_and_for_build(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("*.log\n")
    build = tmp_path / "build"
    build.mkdir()
    (build / "app.Dockerfile").write_text("FROM scratch\n")
    assert IgnoreMatcher.for_build(tmp_path, build / "app.Dockerfile").patterns == ["*.log"]
    (build / "app.Dockerfile.dockerignore").write_text("# specific\n*.tmp\n!keep.tmp\n")
    specific = IgnoreMatcher.for_build(tmp_path, build / "app.Dockerfile")
    assert specific.patterns == ["*.tmp", "!keep.tmp"]
    assert specific.matches("x.tmp") and not specific.matches("x.log")
    assert not IgnoreMatcher.from_file(tmp_path / "missing")


def test_dockerfile_and_dockerignore_are_not_force_included() -> None:
    matcher = IgnoreMatcher.from_lines(["Dockerfile", ".dockerignore"])
    assert matcher.matches("Dockerfile") and matcher.matches(".dockerignore")


FAST_PATH_PATTERNS = [
    [".git", "node_modules", "**/*.log", "dist", "!dist/keep.txt", "*.md"],
    ["**", "!src", "src/**/*.tmp"],
    ["a*/b?", "[x-z]*/**", "**/c", "!**/keep", "exact/path", "pre/**"],
]
FAST_PATH_PATHS = [
    "a",
    "ab/bc",
    "x/1/2",
    "deep/er/c",
    "c",
    "keep",
    "exact/path",
    "exact/pathx",
    "pre/x",
    "pre",
    "node_modules",
    "src/a.tmp",
    "src/x/y.tmp",
    "README.md",
    "docs/a.md",
    "dist/keep.txt",
    "build.log",
    "sub/build.log",
    "line\nbreak.log",
]


@pytest.mark.parametrize("patterns", FAST_PATH_PATTERNS)
def test_fast_path_agrees_with_pattern_by_pattern(patterns: list[str]) -> None:
    matcher = IgnoreMatcher.from_lines(patterns)
    nothing = (False,) * len(matcher.patterns)
    for path in FAST_PATH_PATHS:
        parent = None if "/" not in path else nothing
        assert matcher.match_state(path, parent) == matcher._match_each(path, parent), path
