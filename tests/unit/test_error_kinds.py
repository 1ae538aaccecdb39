"""Every error lamina raises is a kind with an explicit status; foreign errors are
translated with their cause attached; a streaming answer reports errors in one shape."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sqlite3

import pytest

import lamina
from lamina import errors
from lamina.api.errors import STATUS, status_of, stream_error
from lamina.build.steps.run import StepFailed
from lamina.errors import Cancelled, Internal, LaminaError, map_errors
from lamina.runtime.runc import RuntimeFailure


def _all_modules() -> None:
    for info in pkgutil.walk_packages(lamina.__path__, "lamina."):
        if not info.name.endswith("__main__"):  # those run a program when imported
            importlib.import_module(info.name)


def _subclasses(kind: type[LaminaError]) -> set[type[LaminaError]]:
    found = set(kind.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def _kinds_in_errors_module() -> list[type[LaminaError]]:
    return [
        value
        for value in vars(errors).values()
        if inspect.isclass(value) and issubclass(value, LaminaError) and value is not LaminaError
    ]


def test_every_kind_in_errors_has_its_own_row() -> None:
    missing = [kind.__name__ for kind in _kinds_in_errors_module() if kind not in STATUS]
    assert missing == []


def test_every_error_anywhere_maps_through_a_row_not_a_default() -> None:
    _all_modules()
    every = _subclasses(LaminaError)
    assert {RuntimeFailure, StepFailed, Cancelled} <= every
    unmapped = [
        f"{kind.__module__}.{kind.__qualname__}"
        for kind in every
        if not any(parent in STATUS for parent in kind.__mro__)
    ]
    assert unmapped == []


@pytest.mark.parametrize(
    ("err", "status"),
    [
        (RuntimeFailure("OCI runtime create failed: x: unknown", exit_code=127), 500),
        (StepFailed("The command 'false' returned a non-zero code: 1", 1), 400),
        (Cancelled("build cancelled"), 499),
    ],
)
def test_module_errors_take_their_kinds_status(err: LaminaError, status: int) -> None:
    assert status_of(err) == status


def test_map_errors_names_the_thing_and_keeps_the_cause() -> None:
    full = pytest.raises(Internal, match=r"^writing /x/y: \[Errno 28\] No space")
    with full as caught, map_errors({OSError: Internal}, what="writing /x/y"):
        raise OSError(28, "No space left on device")
    assert isinstance(caught.value.__cause__, OSError)


def test_map_errors_takes_tuples_and_callables_first_match_wins() -> None:
    def corrupt(message: str) -> LaminaError:
        return errors.DataCorruption(message.upper())

    kinds = {(ValueError, sqlite3.Error): corrupt, Exception: Internal}
    with pytest.raises(errors.DataCorruption, match=r"^META: BAD$"), map_errors(kinds, what="meta"):
        raise ValueError("bad")


def test_map_errors_passes_lamina_errors_and_unmapped_ones_through() -> None:
    not_found = pytest.raises(errors.NotFound, match=r"^no such image: x$")
    with not_found, map_errors({Exception: Internal}, what="never"):
        raise errors.NotFound("no such image: x")
    with pytest.raises(KeyError), map_errors({OSError: Internal}, what="never"):
        raise KeyError("k")


def test_stream_error_is_dockers_json_message() -> None:
    assert stream_error(errors.NotFound("no such image: x")) == {
        "error": "no such image: x",
        "errorDetail": {"message": "no such image: x", "code": 404},
    }


def test_stream_error_gives_a_failed_run_its_exit_code() -> None:
    message = "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    assert stream_error(StepFailed(message, 3))["errorDetail"] == {"message": message, "code": 3}


def test_stream_error_names_a_bug_by_its_type() -> None:
    text = "internal error: KeyError: 'k'"
    assert stream_error(KeyError("k")) == {"error": text, "errorDetail": {"message": text}}
