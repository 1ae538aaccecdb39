"""Image references (`busybox`, `host:5000/app:v1`, `name@sha256:…`), normalised as Docker does.

Grammar (from distribution/reference, which the docker CLI and dockerd both use):

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain "/"] path
    domain           := host [":" port]           host: DNS-ish name, IPv4, or [IPv6]
    path             := component ("/" component)*
    component        := [a-z0-9]+ (separator [a-z0-9]+)*      separator: "." "_" "__" "-"+
    tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest           := algorithm ":" hex

Normalisation ("familiar" → full): a first component is a domain only if it contains
"." or ":", is "localhost", or has an uppercase letter (paths must be lowercase, so it
cannot be a path); otherwise the domain is `docker.io`. On docker.io a one-component
path gets `library/`. `index.docker.io` is the legacy spelling of `docker.io`.
`familiar_name()` undoes both, which is what `docker images` prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lamina.errors import InvalidArgument
from lamina.oci.digest import Digest

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
LOCALHOST = "localhost"
# Docker counts the path only (distribution/reference v0.6); the domain is not included.
NAME_PATH_MAX = 255

# The regexes are built exactly as distribution/reference builds them, so that anything
# Docker accepts we accept, and vice versa. Go's RE2 and Python's re agree on these.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_PATH = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = r"(?:" + _DOMAIN_NAME + "|" + _IPV6 + r")(?::[0-9]+)?"
_NAME = r"(?:" + _DOMAIN + r"/)?" + _PATH
# Go's \w is ASCII-only; Python's is Unicode, so spell the class out.
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

# Always used with fullmatch(): Python's `$` would also match before a trailing newline.
_REFERENCE_RE = re.compile(r"(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?")
_NAME_RE = re.compile(r"(?:(" + _DOMAIN + r")/)?(" + _PATH + r")")
_DOMAIN_RE = re.compile(_DOMAIN)
_PATH_RE = re.compile(_PATH)
_TAG_RE = re.compile(_TAG)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_SHA256_HEX_RE = re.compile(r"[a-f0-9]{64}")
# dockerd (daemon/containerd/image.go checkTruncatedID) tries these as image IDs.
_SHORT_ID_RE = re.compile(r"(?:sha256:)?[a-f0-9]{4,64}")

_INVALID = "invalid reference format"


@dataclass(frozen=True)
class Reference:
    """A fully qualified image reference; construct with `parse_normalized`.

    Direct construction is validated too, so a Reference is always well formed.
    """

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        if not _DOMAIN_RE.fullmatch(self.domain) or not _PATH_RE.fullmatch(self.path):
            raise InvalidArgument(f"{_INVALID}: {self.domain}/{self.path}")
        if len(self.path) > NAME_PATH_MAX:
            raise InvalidArgument(
                f"repository name must not be more than {NAME_PATH_MAX} characters"
            )
        if self.tag is not None:
            parse_tag(self.tag)
        if self.digest is not None:
            _check_digest(self.digest)

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar_name(self) -> str:
        """The short name Docker shows: `busybox`, `user/app`, `localhost:5000/app`."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        rest = self.path.removeprefix(OFFICIAL_PREFIX)
        # Only a single component after library/ is "official"; library/a/b stays whole.
        if rest != self.path and "/" not in rest:
            return rest
        return self.path

    def familiar(self) -> str:
        """`familiar_name()` with the tag and/or digest: `busybox:latest`."""
        return self.familiar_name() + self._suffix()

    def with_tag(self, tag: str) -> Reference:
        """Same name (and digest, if any) with `tag`; InvalidArgument on a bad tag."""
        return Reference(self.domain, self.path, parse_tag(tag), self.digest)

    def with_digest(self, digest: Digest) -> Reference:
        return Reference(self.domain, self.path, self.tag, digest)

    def with_default_tag(self) -> Reference:
        """Add `latest` when there is neither a tag nor a digest (Docker's TagNameOnly)."""
        if self.tag is None and self.digest is None:
            return self.with_tag(DEFAULT_TAG)
        return self

    def name_only(self) -> Reference:
        """The repository alone, without tag or digest (Docker's TrimNamed)."""
        return Reference(self.domain, self.path)

    def _suffix(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return tag + digest


def parse_normalized(text: str) -> Reference:
    """Parse a reference as the docker CLI does (`ParseNormalizedNamed`); adds no tag.

    Note that `sha256:<hex>` parses as the repository `library/sha256` with a tag, as in
    Docker: callers that accept image IDs check `looks_like_id` first.
    """
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_docker_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidArgument(f"{_INVALID}: repository name ({remote}) must be lowercase")
    return _parse(f"{domain}/{remainder}")


def parse_any(text: str) -> Reference | Digest:
    """An image ID (`<64 hex>` or `sha256:<64 hex>`) as a Digest, else a Reference.

    Docker's ParseAnyReference: a full ID wins over a name; short IDs are not IDs here,
    because whether `abc123` is an ID depends on which images exist (see looks_like_id).
    """
    if _IDENTIFIER_RE.fullmatch(text):
        return Digest(f"sha256:{text}")
    if text.startswith("sha256:") and _SHA256_HEX_RE.fullmatch(text[7:]):
        return Digest(text)
    return parse_normalized(text)


def parse_tag(tag: str) -> str:
    """Return `tag` if it is a valid tag, else raise InvalidArgument."""
    if not _TAG_RE.fullmatch(tag):
        raise InvalidArgument(f"invalid tag format: {tag!r}")
    return tag


def looks_like_id(text: str) -> bool:
    """True for strings dockerd would try as an image ID or ID prefix.

    That is `(sha256:)?[a-f0-9]{4,64}`: a full ID, a full digest, or a short ID. Such
    a string may also be a valid name (`cafe`); Docker tries the name first and falls
    back to the ID, and callers should do the same.
    """
    return bool(_SHORT_ID_RE.fullmatch(text))


def _split_docker_domain(text: str) -> tuple[str, str]:
    """Split off the domain as Docker does, defaulting to docker.io (+ library/)."""
    first, sep, rest = text.partition("/")
    if not sep:
        # A single component is always a docker.io name, even "localhost" or
        # "example.com" (Docker's behaviour: "example.com:5000" is name:tag).
        return DEFAULT_DOMAIN, OFFICIAL_PREFIX + text
    if first == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, rest
    elif first == LOCALHOST or "." in first or ":" in first or first.lower() != first:
        # Paths must be lowercase, so an uppercase first component can only be a host.
        domain, remote = first, rest
    else:
        domain, remote = DEFAULT_DOMAIN, text
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_PREFIX + remote
    return domain, remote


def _parse(text: str) -> Reference:
    """Parse a fully qualified `domain/path[:tag][@digest]` (Docker's `Parse`)."""
    match = _REFERENCE_RE.fullmatch(text)
    if match is None:
        raise InvalidArgument(_INVALID)
    name, tag, digest = match.groups()
    name_match = _NAME_RE.fullmatch(name)
    assert name_match is not None  # the reference regex already matched this name
    domain, path = name_match.groups()
    if domain is None:
        # e.g. "a_b.com/foo": split as a domain, but "_" is not allowed in a host. Docker
        # keeps it as a reference with an empty domain that no registry can serve.
        raise InvalidArgument(_INVALID)
    return Reference(domain, path, tag, _check_digest(digest) if digest else None)


def _check_digest(text: str) -> Digest:
    """Validate a digest from a reference, with go-digest's messages.

    The grammar admits any algorithm; lamina stores only sha256 content, so other
    algorithms (sha512, which Docker also accepts) are refused by name.
    """
    algorithm, _, hex_part = text.partition(":")
    if algorithm != "sha256":
        raise InvalidArgument(
            f"unsupported digest algorithm {algorithm!r}: lamina supports sha256 only"
        )
    if len(hex_part) != 64:
        raise InvalidArgument(f"invalid checksum digest length: {text!r}")
    if not _SHA256_HEX_RE.fullmatch(hex_part):
        raise InvalidArgument(f"invalid checksum digest format: {text!r}")
    return Digest(text)
