"""The one table from error kinds to HTTP statuses, and the two shapes an error takes
on the wire: a JSON body (`{"message": …}`, before an answer starts) and a JSON-message
stream line (`{"error": …, "errorDetail": …}`, once a build or an import is streaming).
"""

from __future__ import annotations

from typing import Any

from lamina import errors
from lamina.api.http import Response
from lamina.build.progress.events import error_event
from lamina.build.steps.run import StepFailed

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


def stream_error(err: BaseException) -> dict[str, Any]:
    """Docker's JSON-message error line for `err`, for a stream that has begun.

    `errorDetail.code` is the kind's status, except for a failed RUN, where Docker's
    builder puts the command's exit code. Anything not a LaminaError is a bug: named
    by its type, as `Router.dispatch` names it in a 500.
    """
    if isinstance(err, StepFailed):
        return error_event(str(err), code=err.code)
    if isinstance(err, errors.LaminaError):
        return error_event(str(err), code=status_of(err))
    return error_event(f"internal error: {type(err).__name__}: {err}")
