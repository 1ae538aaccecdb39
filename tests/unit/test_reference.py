"""Image references, normalised as Docker does.

Most cases come from distribution/reference's normalize_test.go and reference_test.go
(the library the docker CLI and dockerd use), restated for ParseNormalizedNamed.
"""

from __future__ import annotations

import pytest

from lamina.errors import InvalidArgument
from lamina.oci.digest import Digest
from lamina.oci.reference import (
    Reference,
    looks_like_id,
    parse_any,
    parse_normalized,
    parse_tag,
)

HEX = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
DIGEST = f"sha256:{HEX}"
FFF = "sha256:" + "f" * 64

# input → (domain, path, tag, digest)
PARSED = {
    "busybox": ("docker.io", "library/busybox", None, None),
    "busybox:latest": ("docker.io", "library/busybox", "latest", None),
    "docker.io/library/redis:latest": ("docker.io", "library/redis", "latest", None),
    f"redis@{DIGEST}": ("docker.io", "library/redis", None, DIGEST),
    f"busybox:1.36@{DIGEST}": ("docker.io", "library/busybox", "1.36", DIGEST),
    "dmcgowan/myapp": ("docker.io", "dmcgowan/myapp", None, None),
    "docker.io/foo": ("docker.io", "library/foo", None, None),
    "docker.io/library/foo/bar": ("docker.io", "library/foo/bar", None, None),
    "index.docker.io/debian": ("docker.io", "library/debian", None, None),
    "index.docker.io/docker/docker": ("docker.io", "docker/docker", None, None),
    "test.com/foo": ("test.com", "foo", None, None),
    "test_com/foo": ("docker.io", "test_com/foo", None, None),
    "test.com:8080/foo": ("test.com:8080", "foo", None, None),
    "test-com:8080/foo": ("test-com:8080", "foo", None, None),
    "xn--n3h.com:18080/foo": ("xn--n3h.com:18080", "foo", None, None),
    "localhost/foo": ("localhost", "foo", None, None),
    "localhost:5000/app:v1": ("localhost:5000", "app", "v1", None),
    # A single component is always a docker.io name: these are name:tag, not hosts.
    "localhost": ("docker.io", "library/localhost", None, None),
    "test.com:tag": ("docker.io", "library/test.com", "tag", None),
    "test.com:5000": ("docker.io", "library/test.com", "5000", None),
    "foo_bar.com:8080": ("docker.io", "library/foo_bar.com", "8080", None),
    "192.168.1.1:5000": ("docker.io", "library/192.168.1.1", "5000", None),
    "test_com": ("docker.io", "library/test_com", None, None),
    "foo/foo_bar.com:8080": ("docker.io", "foo/foo_bar.com", "8080", None),
    "test:5000/repo": ("test:5000", "repo", None, None),
    f"test:5000/repo:tag@{FFF}": ("test:5000", "repo", "tag", FFF),
    "lowercase:Uppercase": ("docker.io", "library/lowercase", "Uppercase", None),
    "sub-dom1.foo.com/bar/baz/quux:some-long-tag": (
        "sub-dom1.foo.com",
        "bar/baz/quux",
        "some-long-tag",
        None,
    ),
    "b.gcr.io/test.example.com/my-app:test.example.com": (
        "b.gcr.io",
        "test.example.com/my-app",
        "test.example.com",
        None,
    ),
    "192.168.1.1/repo": ("192.168.1.1", "repo", None, None),
    "192.168.1.1:5000/repo:5050": ("192.168.1.1:5000", "repo", "5050", None),
    "[2001:db8::1]/repo": ("[2001:db8::1]", "repo", None, None),
    "[2001:db8:1:2:3:4:5:6]/repo:tag": ("[2001:db8:1:2:3:4:5:6]", "repo", "tag", None),
    f"[2001:db8::1]:5000/repo:tag@{FFF}": ("[2001:db8::1]:5000", "repo", "tag", FFF),
    "[::1]:5000/repo": ("[::1]:5000", "repo", None, None),
    # An uppercase first component cannot be a path, so Docker takes it as a host.
    "Docker/docker": ("Docker", "docker", None, None),
    "FOO/bar": ("FOO", "bar", None, None),
    # Allowed: 64 characters, but not hexadecimal; hex is fine with a domain in front.
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev": (
        "docker.io",
        "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        None,
        None,
    ),
    f"docker.io/{HEX}": ("docker.io", f"library/{HEX}", None, None),
    HEX[:-1]: ("docker.io", f"library/{HEX[:-1]}", None, None),
    "docker---rules/docker": ("docker.io", "docker---rules/docker", None, None),
    "dock__er/docker": ("docker.io", "dock__er/docker", None, None),
    "d/docker": ("docker.io", "d/docker", None, None),
    "jess/t": ("docker.io", "jess/t", None, None),
}


@pytest.mark.parametrize("text", PARSED)
def test_parse_normalized(text: str) -> None:
    domain, path, tag, digest = PARSED[text]
    ref = parse_normalized(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert ref.name == f"{domain}/{path}"


INVALID = [
    "",
    ":justtag",
    f"@{FFF}",
    "https://github.com/docker/docker",
    "-docker",
    "-docker/docker",
    "docker-/docker",
    "-docker-/docker",
    "-docker.io/docker/docker",
    "docker///docker",
    "docker.io/docker///docker",
    "docker/",
    "____/____",
    "_docker/_docker",
    "dock..er/docker",
    "dock_.er/docker",
    "dock-.er/docker",
    "aa/asdf$$^/aa",
    "[fc00::1]",
    "[fc00::1]:5000",
    "fc00::1:5000/debian",
    "[fe80::1%eth0]:5000/debian",
    "[fe80::1%@invalidzone]:5000/repo",
    "[2001:db8:3:4::192.0.2.33]:5000/debian",
    "[2001:db8::1]:tag",
    "busybox:-tag",
    "busybox:" + "t" * 129,
    "busybox\n",
    " busybox",
    "busybox:latest ",
    # "_" is not allowed in a host: Docker keeps this with an empty domain; we refuse.
    "a_b.com/foo",
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid_references_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid reference format"):
        parse_normalized(text)


@pytest.mark.parametrize(
    ("text", "remote"),
    [
        ("Foo", "library/Foo"),
        ("Uppercase:tag", "library/Uppercase"),
        ("docker/Docker", "docker/Docker"),
        ("docker.io/docker/Docker", "docker/Docker"),
        ("test:5000/Uppercase/lowercase:tag", "Uppercase/lowercase"),
    ],
)
def test_uppercase_repository_is_refused(text: str, remote: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_normalized(text)
    assert str(err.value) == (
        f"invalid reference format: repository name ({remote}) must be lowercase"
    )


def test_64_hex_name_is_refused() -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_normalized(HEX)
    assert str(err.value) == (
        f"invalid repository name ({HEX}), cannot specify 64-byte hexadecimal strings"
    )


def test_path_length_limit() -> None:
    longest = "a/" * 127 + "a"  # 255 characters
    assert parse_normalized(longest + ":tag-puts-this-over-max").path == longest
    with pytest.raises(InvalidArgument, match="must not be more than 255 characters"):
        parse_normalized("a/" * 128 + "a:tag")
    # The domain does not count (distribution/reference counts the path only).
    assert parse_normalized("registry.example.com/" + longest).path == longest


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("repo@sha256:" + "f" * 34, "invalid checksum digest length"),
        ("repo@sha256:" + "F" * 64, "invalid checksum digest format"),
        ("validname@invaliddigest:" + "f" * 64, "unsupported digest algorithm"),
        ("busybox@sha512:" + "f" * 128, "unsupported digest algorithm 'sha512'"),
        ("repo@sha256:" + "f" * 31, "invalid reference format"),
        ("repo@sha256", "invalid reference format"),
    ],
)
def test_bad_digests_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_normalized(text)


# input → (str, familiar_name, familiar)
FORMS = {
    "busybox": ("docker.io/library/busybox", "busybox", "busybox"),
    "busybox:latest": ("docker.io/library/busybox:latest", "busybox", "busybox:latest"),
    "library/ubuntu": ("docker.io/library/ubuntu", "ubuntu", "ubuntu"),
    "ubuntu-12.04-base": (
        "docker.io/library/ubuntu-12.04-base",
        "ubuntu-12.04-base",
        "ubuntu-12.04-base",
    ),
    "index.docker.io/fooo/bar": ("docker.io/fooo/bar", "fooo/bar", "fooo/bar"),
    "nonlibrary/ubuntu": ("docker.io/nonlibrary/ubuntu", "nonlibrary/ubuntu", "nonlibrary/ubuntu"),
    "other/library": ("docker.io/other/library", "other/library", "other/library"),
    # library/ is dropped only in front of a single component.
    "library/foo/bar": ("docker.io/library/foo/bar", "library/foo/bar", "library/foo/bar"),
    "store/foo/bar:1": ("docker.io/store/foo/bar:1", "store/foo/bar", "store/foo/bar:1"),
    "127.0.0.1:8000/privatebase": (
        "127.0.0.1:8000/privatebase",
        "127.0.0.1:8000/privatebase",
        "127.0.0.1:8000/privatebase",
    ),
    "example.com:8000/private/moonbase:v2": (
        "example.com:8000/private/moonbase:v2",
        "example.com:8000/private/moonbase",
        "example.com:8000/private/moonbase:v2",
    ),
    "localhost:5000/app": ("localhost:5000/app", "localhost:5000/app", "localhost:5000/app"),
    "Foo/bar": ("Foo/bar", "Foo/bar", "Foo/bar"),
    f"redis@{DIGEST}": (
        f"docker.io/library/redis@{DIGEST}",
        "redis",
        f"redis@{DIGEST}",
    ),
    f"busybox:latest@{DIGEST}": (
        f"docker.io/library/busybox:latest@{DIGEST}",
        "busybox",
        f"busybox:latest@{DIGEST}",
    ),
}


@pytest.mark.parametrize("text", FORMS)
def test_string_forms(text: str) -> None:
    full, familiar_name, familiar = FORMS[text]
    ref = parse_normalized(text)
    assert (str(ref), ref.familiar_name(), ref.familiar()) == (full, familiar_name, familiar)
    # Every form parses back to the same reference.
    assert parse_normalized(str(ref)) == ref
    assert parse_normalized(ref.familiar()) == ref


def test_with_tag_keeps_name_and_digest() -> None:
    ref = parse_normalized(f"test.com:8000/foo@{DIGEST}")
    assert str(ref.with_tag("TAG5")) == f"test.com:8000/foo:TAG5@{DIGEST}"
    assert str(parse_normalized("foo:old").with_tag("new")) == "docker.io/library/foo:new"
    with pytest.raises(InvalidArgument, match="invalid tag format"):
        ref.with_tag("-foo")


def test_with_default_tag() -> None:
    assert parse_normalized("busybox").with_default_tag().familiar() == "busybox:latest"
    assert parse_normalized("busybox:1.36").with_default_tag().tag == "1.36"
    digested = parse_normalized(f"busybox@{DIGEST}")
    assert digested.with_default_tag() == digested


def test_with_digest_and_name_only() -> None:
    ref = parse_normalized("busybox:1").with_digest(Digest(DIGEST))
    assert ref.familiar() == f"busybox:1@{DIGEST}"
    assert str(ref.name_only()) == "docker.io/library/busybox"


def test_references_are_values() -> None:
    a, b = parse_normalized("busybox:latest"), parse_normalized("docker.io/library/busybox:latest")
    assert a == b
    assert len({a, b, parse_normalized("index.docker.io/library/busybox:latest")}) == 1


@pytest.mark.parametrize(
    "fields",
    [
        ("docker.io", "library/Foo", None, None),
        ("docker.io", "", None, None),
        ("", "library/foo", None, None),
        ("bad_host", "foo", None, None),
        ("docker.io", "library/foo", "-bad", None),
        ("docker.io", "library/foo", None, "sha256:abc"),
        ("docker.io", "a" * 256, None, None),
    ],
)
def test_direct_construction_is_validated(fields: tuple[str, str, str | None, str | None]) -> None:
    domain, path, tag, digest = fields
    with pytest.raises(InvalidArgument):
        Reference(domain, path, tag, Digest(digest) if digest else None)


@pytest.mark.parametrize(
    "tag", ["latest", "v1.0", "1.36.1-glibc", "_x", "TAG5", "a" * 128, "0", "x__y..z--"]
)
def test_valid_tags(tag: str) -> None:
    assert parse_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", "-x", ".x", "a" * 129, "a:b", "a/b", "a@b", "é", "a b"])
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid tag format"):
        parse_tag(tag)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEX, True),
        (DIGEST, True),
        (HEX[:12], True),
        ("sha256:" + HEX[:12], True),
        ("dbcc", True),
        ("cafe", True),  # also a valid name: callers try the name first, as Docker does
        ("dbc", False),
        (HEX + "0", False),
        ("DBCC1C35", False),
        ("busybox", False),
        ("sha512:" + HEX, False),
        ("sha256:", False),
        (HEX[:12] + "\n", False),
    ],
)
def test_looks_like_id(text: str, expected: bool) -> None:
    assert looks_like_id(text) is expected


def test_parse_any_prefers_ids() -> None:
    assert parse_any(HEX) == DIGEST
    assert parse_any(DIGEST) == DIGEST
    assert parse_any(HEX[:-1]) == parse_normalized(f"docker.io/library/{HEX[:-1]}")
    assert parse_any("dbcc1") == parse_normalized("dbcc1")
    ref = parse_any("redis:latest")
    assert isinstance(ref, Reference) and str(ref) == "docker.io/library/redis:latest"


def test_sha256_prefixed_text_is_a_name_to_parse_normalized() -> None:
    # As in Docker: "sha256:<hex>" is the repository library/sha256 with a tag, which is
    # why callers that accept IDs check looks_like_id/parse_any first.
    ref = parse_normalized(DIGEST)
    assert (ref.path, ref.tag) == ("library/sha256", HEX)
