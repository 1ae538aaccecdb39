"""Validate JSON objects against the OCI image-spec JSON schemas, offline.

The schemas live in `shared/specs/oci-image-schema/` beside the repository and `$ref`
each other by relative URLs resolved against their `id`s (https://opencontainers.org/
schema/...). Nested `id`s move the base around, so rather than mirror every URL we serve
any URL whose last path segment names one of the files: the names are unique.

    from tests.support.oci_schema import validate_oci
    validate_oci(manifest, "image-manifest-schema.json")   # raises ValidationError
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT4

SCHEMA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "oci-image-schema"

# jsonschema checks "date-time" only when rfc3339-validator is installed; it is not, so
# check it here (RFC 3339 section 5.6 shape, then a real calendar date and time).
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_FORMATS = jsonschema.FormatChecker(formats=())


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.fullmatch(value):
        return False
    datetime.fromisoformat(value[:19])  # ValueError for 2024-02-30 and the like
    return True


_FORMATS.checks("date-time", raises=ValueError)(_is_date_time)


def _retrieve(uri: str) -> Resource[Any]:
    path = SCHEMA_DIR / uri.rsplit("/", 1)[-1]
    if not path.is_file():
        raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # attrs class
    return DRAFT4.create_resource(json.loads(path.read_text()))


@cache
def _validator(schema_name: str) -> jsonschema.Draft4Validator:
    if not SCHEMA_DIR.is_dir():
        raise FileNotFoundError(f"no OCI schemas at {SCHEMA_DIR}: shared/ must sit beside the repo")
    schema = json.loads((SCHEMA_DIR / schema_name).read_text())
    registry: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]
    return jsonschema.Draft4Validator(schema, registry=registry, format_checker=_FORMATS)


def validate_oci(obj: Any, schema_name: str) -> None:
    """Raise jsonschema.ValidationError unless `obj` satisfies the named OCI schema.

    `schema_name` is a file in SCHEMA_DIR: image-manifest-schema.json,
    image-index-schema.json, config-schema.json, content-descriptor.json,
    image-layout-schema.json.
    """
    _validator(schema_name).validate(obj)
