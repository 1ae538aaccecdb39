"""Routes and API version prefixes; errors become statuses through `lamina.api.errors`."""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from lamina import errors
from lamina.api.errors import error_response, status_of
from lamina.api.http import Request, Response
from lamina.api.wire import check_text

Handler = Callable[..., Any]

_VERSION_PREFIX = re.compile(r"^/v(\d+\.\d+)(/.*)$")


class Router:
    def __init__(self, *, max_version: str, log: Callable[[str], None]) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._max = _version_tuple(max_version)
        self._max_text = max_version
        self._log = log

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Register a handler; `{name}` in the pattern matches one path segment,
        `{name:path}` the rest of the path (image names contain slashes)."""
        regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", pattern)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        compiled = re.compile(f"^{regex}$")

        def register(handler: Handler) -> Handler:
            self._routes.append((method, compiled, handler))
            if method == "GET":
                self._routes.append(("HEAD", compiled, handler))
            return handler

        return register

    def dispatch(self, request: Request) -> Response:
        try:
            self._strip_version(request)
            handler, params = self._match(request)
            args = {k: check_text(unquote(v), f"path parameter {k}") for k, v in params.items()}
            result = handler(request, **args)
        except errors.LaminaError as err:
            return error_response(status_of(err), str(err))
        except Exception as err:  # a bug: log it whole, tell the client briefly
            self._log(f"{request.method} {request.path}: {traceback.format_exc()}")
            return error_response(500, f"internal error: {type(err).__name__}: {err}")
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(204)
        return Response.json(result)

    def _strip_version(self, request: Request) -> None:
        match = _VERSION_PREFIX.match(request.path)
        if not match:
            return
        version, request.path = match.group(1), match.group(2)
        if _version_tuple(version) > self._max:
            raise errors.InvalidArgument(
                f"client version {version} is too new. Maximum supported API version is "
                f"{self._max_text}"
            )
        request.api_version = version

    def _match(self, request: Request) -> tuple[Handler, dict[str, str]]:
        path_matched = False
        for method, pattern, handler in self._routes:
            found = pattern.match(request.path)
            if found:
                path_matched = True
                if method == request.method:
                    return handler, found.groupdict()
        if path_matched:
            raise errors.InvalidArgument(f"method {request.method} not allowed for {request.path}")
        raise errors.NotFound(f"page not found: {request.path}")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))
