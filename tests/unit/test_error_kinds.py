"""Every error lamina raises is a kind with an explicit status."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import lamina
from lamina import errors
from lamina.api.errors import STATUS, status_of
from lamina.build.runinstr import StepFailed
from lamina.containers.runtime import RuntimeFailure
from lamina.errors import Cancelled, LaminaError


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
