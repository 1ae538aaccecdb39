"""Validate a config.json against the OCI runtime-spec JSON schema, offline.

The schemas live in `shared/specs/oci-runtime-schema/` beside the repository. They carry
no `id`s and `$ref` each other by bare file names ("defs-linux.json#/definitions/..."),
so any URI is served by its last path segment, as `oci_schema.py` does for the image
schemas.

    from tests.support.runtime_schema import validate_runtime_config
    validate_runtime_config(spec)   # raises jsonschema.ValidationError
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT4

SCHEMA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "oci-runtime-schema"


def _retrieve(uri: str) -> Resource[Any]:
    path = SCHEMA_DIR / uri.rsplit("/", 1)[-1].split("#", 1)[0]
    if not path.is_file():
        raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # attrs class
    return DRAFT4.create_resource(json.loads(path.read_text()))


@cache
def _validator() -> jsonschema.Draft4Validator:
    if not SCHEMA_DIR.is_dir():
        raise FileNotFoundError(f"no OCI runtime schemas at {SCHEMA_DIR}")
    schema = json.loads((SCHEMA_DIR / "config-schema.json").read_text())
    registry: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]
    return jsonschema.Draft4Validator(schema, registry=registry)


def validate_runtime_config(spec: Any) -> None:
    """Raise jsonschema.ValidationError unless `spec` is a valid OCI config.json."""
    _validator().validate(spec)
