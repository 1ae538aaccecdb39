"""The OCI image model: what we build validates against the OCI JSON schemas, what we
parse is checked as Docker checks it, and bad input is InvalidArgument."""

from __future__ import annotations

import json
import time
from typing import Any

import jsonschema
import pytest

from lamina.errors import InvalidArgument
from lamina.oci import mediatypes as mt
from lamina.oci.digest import Digest, of_bytes
from lamina.oci.image import (
    Descriptor,
    canonical_json,
    empty_layer_history,
    host_platform,
    index_manifests,
    layer_history,
    linux_platform,
    manifest_config,
    manifest_layers,
    new_config,
    new_index,
    new_manifest,
    parse_config,
    parse_index,
    parse_manifest,
)
from lamina.timestamps import parse_rfc3339
from tests.support.oci_schema import validate_oci

LAYER = Digest("sha256:" + "a" * 64)
DIFF1 = of_bytes(b"layer one")
DIFF2 = of_bytes(b"layer two")
CREATED = "2024-01-02T03:04:05.123456Z"


def descriptor(media_type: str = mt.OCI_LAYER_GZIP, **kw: Any) -> Descriptor:
    return Descriptor(media_type, kw.pop("digest", LAYER), kw.pop("size", 123), **kw)


def full_config() -> dict[str, Any]:
    return new_config(
        diff_ids=[DIFF1, DIFF2],
        history=[
            layer_history("/bin/sh -c #(nop) ADD file:abc in /", created=CREATED),
            empty_layer_history("/bin/sh -c #(nop) ENV A=1", created=CREATED),
            layer_history("RUN make", created=CREATED, comment="buildkit.dockerfile.v0"),
        ],
        config={
            "Env": ["PATH=/usr/bin:/bin", "A=1"],
            "Cmd": ["sh"],
            "Entrypoint": None,
            "WorkingDir": "/app",
            "User": "1000:1000",
            "Labels": {"org.opencontainers.image.title": "demo"},
            "ExposedPorts": {"80/tcp": {}},
            "Volumes": {"/data": {}},
            "StopSignal": "SIGTERM",
            "ArgsEscaped": True,
        },
        created=CREATED,
        author="lamina",
    )


# --- canonical JSON -----------------------------------------------------------------


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": "é", "c": None}]}) == (
        '{"a":[1,{"c":null,"d":"é"}],"b":1}'.encode()
    )
    assert canonical_json({"x": 1, "y": 2}) == canonical_json({"y": 2, "x": 1})


# --- descriptors ----------------------------------------------------------------------


def test_descriptor_round_trip_validates() -> None:
    d = descriptor(
        annotations={"org.opencontainers.image.ref.name": "v1"},
        platform={"architecture": "arm", "os": "linux", "variant": "v7"},
    )
    out = d.to_dict()
    validate_oci(out, "content-descriptor.json")
    assert out == {
        "mediaType": mt.OCI_LAYER_GZIP,
        "digest": LAYER,
        "size": 123,
        "annotations": {"org.opencontainers.image.ref.name": "v1"},
        "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
    }
    assert Descriptor.from_dict(out) == d
    assert set(descriptor().to_dict()) == {"mediaType", "digest", "size"}


def test_descriptor_is_hashable_and_copies_its_maps() -> None:
    annotations = {"a": "b"}
    d = descriptor(annotations=annotations)
    annotations["a"] = "changed"
    assert d.annotations == {"a": "b"}
    assert len({d, descriptor(annotations={"a": "b"})}) == 1


BAD_DESCRIPTORS: list[Any] = [
    [],
    {"digest": LAYER, "size": 1},
    {"mediaType": mt.OCI_LAYER, "size": 1},
    {"mediaType": mt.OCI_LAYER, "digest": LAYER},
    {"mediaType": "not a media type", "digest": LAYER, "size": 1},
    {"mediaType": 7, "digest": LAYER, "size": 1},
    {"mediaType": mt.OCI_LAYER, "digest": "sha256:abc", "size": 1},
    {"mediaType": mt.OCI_LAYER, "digest": "md5:" + "a" * 32, "size": 1},
    {"mediaType": mt.OCI_LAYER, "digest": LAYER, "size": -1},
    {"mediaType": mt.OCI_LAYER, "digest": LAYER, "size": True},
    {"mediaType": mt.OCI_LAYER, "digest": LAYER, "size": 1.5},
    {"mediaType": mt.OCI_LAYER, "digest": LAYER, "size": "1"},
    {"mediaType": mt.OCI_LAYER, "digest": LAYER, "size": 2**63},
    {"mediaType": mt.OCI_LAYER, "digest": LAYER, "size": 1, "annotations": {"a": 1}},
    {"mediaType": mt.OCI_LAYER, "digest": LAYER, "size": 1, "annotations": ["a"]},
    {"mediaType": mt.OCI_LAYER, "digest": LAYER, "size": 1, "platform": {"os": "linux"}},
    {
        "mediaType": mt.OCI_LAYER,
        "digest": LAYER,
        "size": 1,
        "platform": {"architecture": "amd64", "os": "linux", "os.features": "x"},
    },
]


@pytest.mark.parametrize("bad", BAD_DESCRIPTORS)
def test_descriptor_from_dict_rejects(bad: Any) -> None:
    with pytest.raises(InvalidArgument, match="invalid descriptor"):
        Descriptor.from_dict(bad)


# --- configs --------------------------------------------------------------------------


def test_new_config_validates_and_round_trips() -> None:
    cfg = full_config()
    validate_oci(cfg, "config-schema.json")
    assert cfg["rootfs"] == {"type": "layers", "diff_ids": [DIFF1, DIFF2]}
    assert cfg["created"] == CREATED and cfg["author"] == "lamina" and cfg["os"] == "linux"
    assert cfg["history"][1] == {
        "created": CREATED,
        "created_by": "/bin/sh -c #(nop) ENV A=1",
        "empty_layer": True,
    }
    assert parse_config(canonical_json(cfg)) == cfg


def test_new_config_defaults() -> None:
    before = time.time()
    cfg = new_config(diff_ids=[], history=[])
    validate_oci(cfg, "config-schema.json")
    assert before - 1 <= parse_rfc3339(cfg["created"]) <= time.time() + 1
    host = host_platform()
    assert cfg["architecture"] == host["architecture"]
    assert cfg.get("variant") == host.get("variant")
    assert cfg["config"] == {} and cfg["history"] == [] and "author" not in cfg


def test_new_config_explicit_platform() -> None:
    cfg = new_config(diff_ids=[DIFF1], history=[], architecture="arm", variant="v7", os="linux")
    validate_oci(cfg, "config-schema.json")
    assert (cfg["architecture"], cfg["variant"]) == ("arm", "v7")
    assert "variant" not in new_config(diff_ids=[], history=[], architecture="amd64")


def test_new_config_copies_its_inputs() -> None:
    container: dict[str, Any] = {"Env": ["A=1"]}
    history = [layer_history("x", created=CREATED)]
    cfg = new_config(diff_ids=[DIFF1], history=history, config=container)
    container["User"] = "root"
    container["Env"].append("B=2")
    history[0]["created_by"] = "changed"
    assert cfg["config"] == {"Env": ["A=1"]} and cfg["history"][0]["created_by"] == "x"


def test_new_config_refuses_more_layers_in_history_than_diff_ids() -> None:
    with pytest.raises(InvalidArgument, match="non-empty layers"):
        new_config(diff_ids=[], history=[layer_history("RUN x", created=CREATED)])


def test_parse_config_accepts_docker_style_config() -> None:
    # As dockerd writes it: nulls for empty Go slices and maps, no diff_ids when there
    # are no layers, fields outside the OCI spec. All of it must survive unchanged.
    raw = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2023-05-19T20:19:23.123456789Z",
        "docker_version": "20.10.23",
        "container_config": {"Hostname": "abc", "Cmd": ["/bin/sh"]},
        "config": {
            "Env": None,
            "Cmd": None,
            "Entrypoint": None,
            "Labels": None,
            "OnBuild": None,
            "Volumes": None,
            "User": "",
            "Healthcheck": {"Test": ["CMD", "true"]},
        },
        "rootfs": {"type": "layers"},
        "history": [
            {"created": "2023-05-19T20:19:23Z", "created_by": "LABEL a=b", "empty_layer": True}
        ],
    }
    assert parse_config(json.dumps(raw).encode()) == raw


BAD_CONFIGS: list[tuple[Any, str]] = [
    (b"not json", "not valid JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"architecture": NaN}', "not valid JSON"),
    (b"\xff\xfe\x00", "not valid JSON"),
    ({"os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}, "architecture: required"),
    ({"architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": []}}, "os: required"),
    ({"architecture": 1, "os": "linux", "rootfs": {"type": "layers"}}, "architecture: expected"),
    ({"architecture": "amd64", "os": "linux"}, "rootfs: required"),
    ({"architecture": "amd64", "os": "linux", "rootfs": {"type": "tar"}}, "rootfs.type"),
    (
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["x"]}},
        r"rootfs.diff_ids\[0\]",
    ),
    (
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": "x"}},
        "rootfs.diff_ids: expected an array",
    ),
    ({"created": "yesterday"}, "created"),
    ({"created": "2024-02-30T00:00:00Z"}, "created"),
    ({"history": {}}, "history: expected an array"),
    ({"history": ["x"]}, r"history\[0\]: expected an object"),
    ({"history": [{"created": "2024"}]}, r"history\[0\].created"),
    ({"history": [{"empty_layer": "yes"}]}, r"history\[0\].empty_layer"),
    ({"config": []}, "config: expected an object"),
    ({"config": {"Env": "A=1"}}, "config.Env: expected an array"),
    ({"config": {"Cmd": ["sh", 1]}}, r"config.Cmd\[1\]"),
    ({"config": {"Labels": {"a": 1}}}, "config.Labels"),
    ({"config": {"ExposedPorts": {"80/tcp": True}}}, "config.ExposedPorts"),
    ({"config": {"WorkingDir": ["/"]}}, "config.WorkingDir"),
    ({"os.features": "x"}, "os.features"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_CONFIGS)
def test_parse_config_rejects(bad: Any, message: str) -> None:
    if isinstance(bad, dict):
        base = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}
        bad = json.dumps(bad if "rootfs" in bad or "os" in bad else {**base, **bad}).encode()
    with pytest.raises(InvalidArgument, match="invalid image config") as err:
        parse_config(bad)
    assert err.match(message)


# --- manifests and indexes ----------------------------------------------------------------


def test_new_manifest_validates_and_round_trips() -> None:
    config_bytes = canonical_json(full_config())
    config = Descriptor(mt.OCI_CONFIG, of_bytes(config_bytes), len(config_bytes))
    layers = [descriptor(digest=of_bytes(b"1"), size=1), descriptor(mt.OCI_LAYER_ZSTD)]
    manifest = new_manifest(config, layers, annotations={"org.opencontainers.image.title": "x"})
    validate_oci(manifest, "image-manifest-schema.json")
    assert manifest["schemaVersion"] == 2 and manifest["mediaType"] == mt.OCI_MANIFEST
    assert parse_manifest(canonical_json(manifest)) == manifest
    assert manifest_config(manifest) == config and manifest_layers(manifest) == layers
    assert "annotations" not in new_manifest(config, layers)


def test_parse_manifest_accepts_docker_schema2() -> None:
    raw = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": {"mediaType": mt.DOCKER_CONFIG, "size": 1469, "digest": str(DIFF1)},
        "layers": [{"mediaType": mt.DOCKER_LAYER_GZIP, "size": 2811, "digest": str(DIFF2)}],
    }
    assert parse_manifest(json.dumps(raw).encode()) == raw


def test_parse_manifest_accepts_oci_without_media_type() -> None:
    raw = {"schemaVersion": 2, "config": descriptor(mt.OCI_CONFIG).to_dict(), "layers": []}
    assert parse_manifest(json.dumps(raw).encode()) == raw


def _manifest(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": descriptor(mt.OCI_CONFIG).to_dict(),
        "layers": [descriptor().to_dict()],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


BAD_MANIFESTS: list[tuple[Any, str]] = [
    (b"{", "not valid JSON"),
    (b'"manifest"', "expected a JSON object"),
    (_manifest(schemaVersion=1), "schema1"),
    (_manifest(schemaVersion=3), "schemaVersion: expected 2"),
    (_manifest(schemaVersion="2"), "schemaVersion: expected an integer"),
    (_manifest(mediaType=mt.OCI_INDEX), "is an index"),
    (_manifest(mediaType="text/plain"), "not an image manifest"),
    (_manifest(config=None), "config: required"),
    (_manifest(layers=None), "layers: required"),
    (_manifest(layers={}), "layers: expected an array"),
    (_manifest(layers=[descriptor().to_dict(), {"size": 1}]), r"layers\[1\]: invalid descriptor"),
    (_manifest(config={**descriptor().to_dict(), "digest": "x"}), "config: invalid descriptor"),
    (_manifest(annotations={"a": 1}), "annotations"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_MANIFESTS)
def test_parse_manifest_rejects(bad: Any, message: str) -> None:
    data = bad if isinstance(bad, bytes) else json.dumps(bad).encode()
    with pytest.raises(InvalidArgument, match="invalid manifest") as err:
        parse_manifest(data)
    assert err.match(message)


def test_new_index_validates_and_round_trips() -> None:
    amd = descriptor(mt.OCI_MANIFEST, platform={"architecture": "amd64", "os": "linux"})
    arm = descriptor(
        mt.OCI_MANIFEST,
        digest=DIFF1,
        platform={"architecture": "arm64", "os": "linux", "os.features": ["x"]},
        annotations={"org.opencontainers.image.ref.name": "latest"},
    )
    index = new_index([amd, arm], annotations={"a": "b"})
    validate_oci(index, "image-index-schema.json")
    assert index["mediaType"] == mt.OCI_INDEX
    assert parse_index(canonical_json(index)) == index
    assert index_manifests(index) == [amd, arm]
    validate_oci(new_index([]), "image-index-schema.json")


def test_parse_index_accepts_docker_manifest_list() -> None:
    raw = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST_LIST,
        "manifests": [
            {
                "mediaType": mt.DOCKER_MANIFEST,
                "size": 528,
                "digest": str(DIFF1),
                "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
            },
            {
                "mediaType": mt.DOCKER_MANIFEST,
                "size": 528,
                "digest": str(DIFF2),
                "platform": {"architecture": "amd64", "os": "linux", "features": ["sse4"]},
            },
        ],
    }
    assert parse_index(json.dumps(raw).encode()) == raw


BAD_INDEXES: list[tuple[Any, str]] = [
    (b"nope", "not valid JSON"),
    ({"schemaVersion": 2}, "manifests: required"),
    ({"manifests": []}, "schemaVersion: required"),
    ({"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST, "manifests": []}, "is a manifest"),
    ({"schemaVersion": 2, "manifests": [{"size": 1}]}, r"manifests\[0\]: invalid descriptor"),
    (
        {
            "schemaVersion": 2,
            "manifests": [{**descriptor().to_dict(), "platform": {"os": "linux"}}],
        },
        "platform.architecture: required",
    ),
    ({"schemaVersion": 2, "manifests": [], "annotations": []}, "annotations"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_INDEXES)
def test_parse_index_rejects(bad: Any, message: str) -> None:
    data = bad if isinstance(bad, bytes) else json.dumps(bad).encode()
    with pytest.raises(InvalidArgument, match="invalid index") as err:
        parse_index(data)
    assert err.match(message)


# --- platform and media types ---------------------------------------------------------


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", {"architecture": "amd64", "os": "linux"}),
        ("aarch64", {"architecture": "arm64", "os": "linux"}),
        ("armv7l", {"architecture": "arm", "os": "linux", "variant": "v7"}),
        ("armv6l", {"architecture": "arm", "os": "linux", "variant": "v6"}),
        ("i686", {"architecture": "386", "os": "linux"}),
        ("ppc64le", {"architecture": "ppc64le", "os": "linux"}),
        ("s390x", {"architecture": "s390x", "os": "linux"}),
        ("riscv64", {"architecture": "riscv64", "os": "linux"}),
    ],
)
def test_linux_platform_uses_go_names(machine: str, expected: dict[str, str]) -> None:
    assert linux_platform(machine) == expected


def test_host_platform_is_a_valid_platform() -> None:
    host = host_platform()
    assert host["os"] == "linux" and host["architecture"]
    validate_oci(new_index([descriptor(mt.OCI_MANIFEST, platform=host)]), "image-index-schema.json")


def test_media_type_predicates() -> None:
    assert mt.is_layer(mt.OCI_LAYER) and mt.is_layer(mt.DOCKER_LAYER_GZIP)
    assert {mt.OCI_LAYER_TAR, mt.OCI_LAYER_TAR_GZIP, mt.OCI_LAYER_TAR_ZSTD} <= mt.LAYER_TYPES
    assert not mt.is_layer(mt.OCI_CONFIG)
    assert mt.is_manifest(mt.DOCKER_MANIFEST) and not mt.is_manifest(mt.OCI_INDEX)
    assert mt.is_index(mt.DOCKER_MANIFEST_LIST) and not mt.is_index(mt.OCI_MANIFEST)
    assert mt.is_config(mt.DOCKER_CONFIG)
    assert mt.layer_compression(mt.OCI_LAYER_ZSTD) == "zstd"
    assert mt.layer_compression(mt.DOCKER_LAYER_GZIP) == "gzip"
    assert mt.layer_compression(mt.OCI_LAYER) is None
    with pytest.raises(InvalidArgument, match="unsupported layer media type"):
        mt.layer_compression(mt.OCI_CONFIG)


def test_schema_helper_resolves_refs_and_rejects() -> None:
    # Guards against a vacuous check: each failure below sits behind a cross-file $ref
    # (content-descriptor.json → defs-descriptor.json → defs.json) or a format.
    good = new_manifest(descriptor(mt.OCI_CONFIG), [descriptor()])
    bad_layers = [{**good["layers"][0], "size": -1}]
    with pytest.raises(jsonschema.ValidationError):
        validate_oci({**good, "layers": bad_layers}, "image-manifest-schema.json")
    with pytest.raises(jsonschema.ValidationError):
        validate_oci({**good, "annotations": {"a": 1}}, "image-manifest-schema.json")
    cfg = full_config()
    with pytest.raises(jsonschema.ValidationError):
        validate_oci({**cfg, "created": "2024-02-30T00:00:00Z"}, "config-schema.json")
