"""JSON from the wire, strictly: what Go's encoding/json (dockerd's decoder) accepts.

Python's `json` is more lenient than dockerd's: it takes `NaN` and `Infinity`, lone
UTF-16 surrogates (`"\\ud800"`, which no UTF-8 encoder can write back), nesting as deep
as the interpreter's stack, and bytes that are not UTF-8 when handed `bytes`. Each of
those stored in a container's config broke something later (inspect answering invalid
JSON, a 500 at start), so they are refused here, before any domain code sees them, with
a 400 that names the parameter or field. NUL characters are refused too: no name, path,
command or label of Docker's means anything with one, and the kernel cuts at it.
"""

from __future__ import annotations

import json
import math
from typing import Any, BinaryIO

from lamina.errors import InvalidArgument, TooLarge

MAX_JSON_BODY = 4 << 20  # bytes; a create body is a few KiB, a huge Env a few hundred
MAX_DEPTH = 64  # the deepest Docker body (a create's Mounts options) nests 6 levels


def read_json_body(body: BinaryIO, *, limit: int = MAX_JSON_BODY) -> Any:
    """The request's JSON body (None when empty), checked as `decode_json` does."""
    data = body.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"request body is larger than {limit >> 20} MiB; JSON bodies are capped")
    if not data.strip():
        return None
    return decode_json(data, "request body")


def decode_json(data: bytes | str, what: str) -> Any:
    """Parse `data` as dockerd would accept it; InvalidArgument naming `what` otherwise."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InvalidArgument(f"{what} is not valid UTF-8 (byte {err.start})") from None
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except ValueError as err:  # JSONDecodeError, or an integer of over 4300 digits
        raise InvalidArgument(f"{what} is not valid JSON: {err}") from None
    except RecursionError:
        raise InvalidArgument(f"{what}: JSON nested too deeply") from None
    except InvalidArgument as err:
        raise InvalidArgument(f"{what}: {err}") from None
    check_json(value, what)
    return value


def check_json(value: Any, what: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and strings no UTF-8 text can hold; the
    message names the field (`what` and its path, such as `body: HostConfig.Binds[0]`)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, f"{what}: {path or 'value'}")
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidArgument(f"{what}: {path or 'value'}: not a finite number")
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise InvalidArgument(f"{what}: JSON nested more than {MAX_DEPTH} levels deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    inner = f"{path}.{key}" if path else key
                    check_text(key, f"{what}: key {inner!r}")
                    stack.append((child, inner, depth + 1))
            else:
                stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))


def check_text(text: str, what: str) -> str:
    """`text` if it holds no NUL and no lone surrogate; InvalidArgument naming `what`."""
    if "\x00" in text:
        raise InvalidArgument(f"{what}: contains a NUL character")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgument(f"{what}: contains an unpaired UTF-16 surrogate") from None
    return text


def _no_constant(name: str) -> Any:
    raise InvalidArgument(f"{name} is not a JSON number")
