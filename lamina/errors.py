"""Error kinds for the whole engine.

Every error lamina raises on purpose is a `LaminaError`. The *kind* (the subclass)
says what went wrong in a way a caller can act on; the message says which thing
(image, container, path, Dockerfile line) and why. The API maps kinds to HTTP statuses
in one table (`lamina.api.errors`); the CLI prints the message as Docker does.

    LaminaError
    ├── InvalidArgument     bad input from the user: a malformed reference, flag, tar (400)
    │   └── TooLarge        input over one of the API's size limits (413)
    ├── NotFound            no such image, container, volume, network, blob (404)
    ├── AlreadyExists       a name or tag is taken (409)
    ├── Conflict            the thing is in use or in the wrong state (409)
    ├── FailedPrecondition  the host lacks something needed (overlayfs, runc) (500)
    ├── DataCorruption      stored bytes do not match their digest (500)
    ├── Unavailable         the daemon or a registry does not answer (503)
    ├── Unsupported         a valid request this configuration cannot serve (501)
    ├── Cancelled           the client went away or asked to stop (499)
    └── Internal            a bug or an unexpected host failure (500)

Modules add narrower kinds under these (the runtime's `RuntimeFailure` is an Internal,
a build's `StepFailed` an InvalidArgument) when a caller needs an extra field, such as
the exit code Docker reports; the API's table still maps them through their parent.

Foreign exceptions (OSError, sqlite3.Error, a runtime's exit status) are translated at
the boundary where they happen, with `raise ... from err`, so the cause stays attached.
`map_errors` does that for the plain cases, as httpx's `map_httpcore_exceptions()`:

    with map_errors({OSError: Internal}, what=f"remove volume directory {path}"):
        os.rename(path, trash)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

Foreign = type[BaseException] | tuple[type[BaseException], ...]


class LaminaError(Exception):
    """Base of every deliberate lamina error; `str(err)` is the user-facing message."""


class InvalidArgument(LaminaError):
    """The caller's input is malformed or not allowed."""


class TooLarge(InvalidArgument):
    """The caller's input is over a size limit (a request body, a label)."""


class NotFound(LaminaError):
    """The named object does not exist."""


class AlreadyExists(LaminaError):
    """An object with that name or digest exists and may not be replaced."""


class Conflict(LaminaError):
    """The object is in use, or in a state that forbids the operation."""


class FailedPrecondition(LaminaError):
    """The host is missing something the operation needs."""


class DataCorruption(LaminaError):
    """Stored content does not match the digest that names it."""


class Unavailable(LaminaError):
    """A service lamina depends on (the daemon, a registry) does not answer."""


class Unsupported(LaminaError):
    """The request is valid, but not for this object's configuration (Docker's
    NotImplemented: `logs` of a container whose log driver keeps nothing)."""


class Cancelled(LaminaError):
    """The client gave up: it closed the connection, or asked for the work to stop.

    Nobody is left to read the answer, so the status (nginx's and grpc-gateway's 499,
    "client closed request") is for the log; what matters is that it is not a 500.
    """


class Internal(LaminaError):
    """Something that should not happen did; the message says what."""


@contextlib.contextmanager
def map_errors(
    kinds: Mapping[Foreign, Callable[[str], LaminaError]],
    *,
    what: str,
) -> Iterator[None]:
    """Re-raise a foreign exception of the block as the kind `kinds` maps it to (a
    LaminaError class, or any callable making one from the message).

    The message is `"{what}: {err}"` (`what` names the thing and the action, the foreign
    error says why), and the foreign error stays attached as `__cause__`. The first
    matching entry wins; a LaminaError, or an exception no entry matches, passes through.
    Where an `except` does real work (cleans up, falls back, looks at the errno), write
    the `except`: this is only for the plain translation.
    """
    try:
        yield
    except LaminaError:
        raise
    except Exception as err:
        for foreign, kind in kinds.items():
            if isinstance(err, foreign):
                raise kind(f"{what}: {err}") from err
        raise
