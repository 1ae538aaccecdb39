"""The one table from error kinds to HTTP statuses, and an error as a JSON body."""

from __future__ import annotations

from lamina import errors
from lamina.api.http import Response

# Every kind in lamina.errors has its own row (tests/unit/test_error_kinds.py checks),
# so a new kind cannot fall through to 500 unnoticed; narrower kinds that modules
# define map through their parent.
STATUS: dict[type[errors.LaminaError], int] = {
    errors.InvalidArgument: 400,
    errors.TooLarge: 413,
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.Conflict: 409,
    errors.FailedPrecondition: 500,
    errors.DataCorruption: 500,
    errors.Unavailable: 503,
    errors.Unsupported: 501,
    errors.Cancelled: 499,
    errors.Internal: 500,
}


def status_of(err: errors.LaminaError) -> int:
    """The status of `err`'s kind: its own row, else its nearest parent's."""
    for kind in type(err).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500  # a bare LaminaError: nothing raises one


def error_response(status: int, message: str) -> Response:
    return Response.json({"message": message}, status)
