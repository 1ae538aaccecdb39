"""Derive lamina's table of request-body shapes (lamina/api/body_shapes.py) from the spec.

The daemon must not read the spec at run time, so the table is generated and committed;
tests/unit/test_body_shapes.py fails when it and the spec disagree. Regenerate with

    .venv/bin/python -m tests.support.spec_shapes > lamina/api/body_shapes.py

A shape maps each field to a type expression (see lamina/api/shapes.py): `str`, `bool`,
`number`, an integer with its Go type's range (`int64`, `uint16`, …), `object` (any
object), `strs` (a string or a list of strings), `[T]`, `[T;N]` (exactly N items: the
spec's minItems = maxItems), `{T}` (an object of T) or the name of another shape.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

SPEC = Path(__file__).resolve().parents[2].parent / "shared/specs/docker-engine-api-v1.45.yaml"

# The request bodies lamina reads, by the shape name of their schema.
BODIES = {
    "ContainerCreate": ("/containers/create", "post"),
    "ExecConfig": ("/containers/{id}/exec", "post"),
    "ExecStartConfig": ("/exec/{id}/start", "post"),
    "VolumeCreateOptions": ("/volumes/create", "post"),
    "NetworkCreateRequest": ("/networks/create", "post"),
    "NetworkConnectRequest": ("/networks/{id}/connect", "post"),
    "NetworkDisconnectRequest": ("/networks/{id}/disconnect", "post"),
}

# Where the spec's type is wider than the Go type dockerd decodes into (moby's
# api/types): unsigned integers, and strslice.StrSlice, which takes a string too.
GO_TYPES = {
    ("ContainerCreate", "Cmd"): "strs",
    ("ContainerCreate", "Entrypoint"): "strs",
    ("ContainerCreate", "Shell"): "strs",
    ("HostConfig", "BlkioWeight"): "uint16",
    ("HostConfig.BlkioWeightDevice", "Weight"): "uint16",
    ("ThrottleDevice", "Rate"): "uint64",
    ("HostConfig", "IOMaximumIOps"): "uint64",
    ("HostConfig", "IOMaximumBandwidth"): "uint64",
    ("HostConfig", "ConsoleSize"): "[uint64;2]",
    ("ExecConfig", "ConsoleSize"): "[uint64;2]",
    ("ExecStartConfig", "ConsoleSize"): "[uint64;2]",
    ("Mount.TmpfsOptions", "Mode"): "uint32",
}
_INTEGERS = {None: "int64", "int64": "int64", "int32": "int32", "uint64": "uint64"}


class _Deriver:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.definitions: dict[str, Any] = spec["definitions"]
        self.shapes: dict[str, dict[str, str]] = {}

    def shape(self, name: str, schema: dict[str, Any]) -> str:
        if name not in self.shapes:
            self.shapes[name] = {}  # placed first: a recursive reference finds it
            for field, sub in self._properties(schema).items():
                typ = GO_TYPES.get((name, field)) or self.type(sub, f"{name}.{field}")
                self.shapes[name][field] = typ
        return name

    def _properties(self, schema: dict[str, Any]) -> dict[str, Any]:
        schema = self._resolve(schema)
        props = dict(schema.get("properties") or {})
        for part in schema.get("allOf", []):
            props.update(self._properties(part))
        return props

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.definitions[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def type(self, schema: dict[str, Any], where: str) -> str:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            target = self._resolve(schema)
            if self._is_shape(target):
                return self.shape(name, target)
            return self.type(target, where)
        parts = schema.get("allOf", [])
        if len(parts) == 1 and not schema.get("properties"):  # a described reference
            return self.type(parts[0], where)
        kind = schema.get("type")
        if kind == "array":
            length = schema.get("minItems")
            fixed = f";{length}" if length is not None and length == schema.get("maxItems") else ""
            return f"[{self.type(schema['items'], where)}{fixed}]"
        if kind == "object" or "allOf" in schema or "properties" in schema:
            if self._is_shape(schema):
                return self.shape(where, schema)
            extra = schema.get("additionalProperties")
            return f"{{{self.type(extra, where)}}}" if isinstance(extra, dict) else "object"
        if kind == "integer":
            return _INTEGERS[schema.get("format")]
        return {"string": "str", "boolean": "bool", "number": "number"}[kind]

    @staticmethod
    def _is_shape(schema: dict[str, Any]) -> bool:
        return bool(schema.get("properties") or schema.get("allOf"))


def derive(spec: dict[str, Any]) -> dict[str, dict[str, str]]:
    deriver = _Deriver(spec)
    for name, (path, method) in BODIES.items():
        (body,) = [p for p in spec["paths"][path][method]["parameters"] if p["in"] == "body"]
        deriver.shape(name, body["schema"])
    return dict(sorted(deriver.shapes.items()))


def load_spec() -> dict[str, Any]:
    with SPEC.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = yaml.safe_load(f)
    return loaded


def render(shapes: dict[str, dict[str, str]]) -> str:
    lines = [
        '"""The types of every field of the request bodies lamina reads, from the v1.45 spec.',
        "",
        "Generated by tests/support/spec_shapes.py (do not edit by hand); the grammar of the",
        "type expressions is lamina/api/shapes.py's.",
        '"""',
        "",
        "SHAPES: dict[str, dict[str, str]] = {",
    ]
    for name, fields in shapes.items():
        lines.append(f"    {name!r}: {{".replace("'", '"'))
        lines += [f'        "{field}": "{typ}",' for field, typ in fields.items()]
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(derive(load_spec())))
