"""Hypothesis strategies for the v1.45 spec's request parameters and bodies.

Values are mostly of the spec's types (so requests get past the first field and reach
the deep ones), sometimes of any other JSON type, or text no client would send: the
property is that no answer of an implemented endpoint is a 5xx, whatever comes in.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

Schema = dict[str, Any]
_MAX_DEPTH = 6

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_infinity=True, allow_nan=True),
    TEXT,
    st.lists(st.integers(-3, 3), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(-3, 3), max_size=2),
)
INTEGERS = st.one_of(st.integers(-3, 100), st.integers(-(2**65), 2**65))


class Schemas:
    def __init__(self, spec: dict[str, Any], *, junk: int = 8) -> None:
        self.definitions: dict[str, Schema] = spec["definitions"]
        self.junk = junk  # one value in `junk` is of any type but the field's

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            schema = self.definitions[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def properties(self, schema: Schema) -> dict[str, Schema]:
        schema = self.resolve(schema)
        props = dict(schema.get("properties") or {})
        for part in schema.get("allOf", []):
            props.update(self.properties(part))
        return props

    def value(self, schema: Schema, depth: int = 0) -> st.SearchStrategy[Any]:
        """Mostly a value of `schema`'s type; one time in `junk` anything else."""
        typed = self._typed(self.resolve(schema), depth)
        return st.integers(1, self.junk).flatmap(lambda n: JUNK if n == 1 else typed)

    def _typed(self, schema: Schema, depth: int) -> st.SearchStrategy[Any]:
        if depth > _MAX_DEPTH:
            return st.just({})
        if "enum" in schema:
            return st.one_of(st.sampled_from(schema["enum"]), TEXT)
        parts = schema.get("allOf", [])
        if len(parts) == 1 and not schema.get("properties"):
            return self._typed(self.resolve(parts[0]), depth)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema or parts:
            return self._object(schema, depth)
        if kind == "array":
            return st.lists(self.value(schema.get("items", {}), depth + 1), max_size=3)
        return {
            "string": TEXT,
            "integer": INTEGERS,
            "number": st.one_of(INTEGERS, st.floats(allow_nan=False, allow_infinity=False)),
            "boolean": st.booleans(),
        }.get(kind or "", JUNK)

    def _object(self, schema: Schema, depth: int) -> st.SearchStrategy[Any]:
        props = self.properties(schema)
        if props:
            optional = {k: self.value(v, depth + 1) for k, v in props.items()}
            return st.fixed_dictionaries({}, optional=optional)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return st.dictionaries(TEXT, self.value(extra, depth + 1), max_size=3)
        return st.dictionaries(TEXT, JUNK, max_size=2)


def query_value(param: Schema) -> st.SearchStrategy[str | None]:
    """One query parameter's value: absent, of its type, or any text."""
    kind = param.get("type")
    typed: st.SearchStrategy[str] = {
        "integer": st.one_of(INTEGERS.map(str), st.sampled_from(["", "1.5", "1e3", "0x10"])),
        "boolean": st.sampled_from(["", "0", "1", "true", "false", "yes", "none", "2"]),
        "array": TEXT,
    }.get(kind or "", TEXT)
    if "enum" in param:
        typed = st.one_of(st.sampled_from([str(v) for v in param["enum"]]), typed)
    if param["name"] == "filters":
        typed = st.one_of(
            typed,
            st.dictionaries(st.text(max_size=8), st.lists(TEXT, max_size=2), max_size=2).map(
                json.dumps
            ),
        )
    return st.one_of(st.none(), typed, TEXT)
