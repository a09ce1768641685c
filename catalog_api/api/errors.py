"""Errors to HTTP answers, in one place: every exception handler of the app.

* the packages' own error classes (``catalog_api.errors.ApiError`` and its discovery and
  governance subclasses with their ``status_code``; ``consent``'s, ``metadata``'s and
  ``harmonise``'s input errors, 400) answer ``{"detail": message}``; a plain
  ``ValueError`` or ``TypeError`` from a bug is not one of them and stays a 500;
* discovery's "retry shortly" errors (index not built yet, audit not committed) add
  ``Retry-After``;
* database conflicts are 409, a busy database 503;
* :class:`DiscoveryRoute`: routes whose invalid bodies are a 400 naming every problem
  (FastAPI's default is a 422 listing pydantic's error objects).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError, OperationalError

from catalog_api.discovery.definition import CRITERION_TYPES
from catalog_api.discovery.errors import AuditFailedError, DiscoveryError, IndexNotReadyError
from catalog_api.errors import ApiError
from consent.errors import ConsentError
from harmonise.errors import HarmoniseError
from metadata.errors import MetadataError

#: The packages' input-error base classes answered as 4xx (their ``status_code``, else 400).
INPUT_ERRORS: tuple[type[Exception], ...] = (ApiError, ConsentError, MetadataError, HarmoniseError)


def error_response(exc: Exception) -> JSONResponse:
    """A package error as its HTTP answer (``detail`` is the message)."""
    status = int(getattr(exc, "status_code", 400))
    headers: dict[str, str] | None = None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, IndexNotReadyError | AuditFailedError):
        headers = {"Retry-After": "5"}
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def _input_error(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(exc)


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {
            "detail": "the change conflicts with existing data (a duplicate or a missing "
            "reference); reload and try again"
        },
        status_code=409,
    )


async def _database_busy(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "the database is busy; retry in a moment"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register every exception handler of the app (see the module doc)."""
    for cls in INPUT_ERRORS:
        app.add_exception_handler(cls, _input_error)
    app.add_exception_handler(DiscoveryError, _input_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OperationalError, _database_busy)


class DiscoveryRoute(APIRoute):
    """Routes whose invalid request bodies are a 400 naming every problem (not a 422)."""

    def get_route_handler(self) -> Any:
        """Wrap FastAPI's handler with the validation-error translation."""
        original = super().get_route_handler()

        async def handler(request: Request) -> Any:
            try:
                return await original(request)
            except RequestValidationError as exc:
                return JSONResponse({"detail": validation_detail(exc)}, status_code=400)

        return handler


def validation_detail(exc: RequestValidationError) -> str:
    """One message naming every problem of a request's validation error, with its place."""
    problems = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        loc = [p for p in loc if p not in CRITERION_TYPES]
        path = ".".join(loc) or "body"
        msg = str(e.get("msg", "")).removeprefix("Value error, ")
        if e.get("type") == "extra_forbidden":
            msg = f"unknown field {loc[-1] if loc else ''!r}; remove it or fix its spelling"
        elif e.get("type") == "union_tag_invalid":
            given = e.get("input", {}).get("type") if isinstance(e.get("input"), dict) else None
            msg = f"unknown criterion type {given!r}; known: {', '.join(CRITERION_TYPES)}"
        elif e.get("type") == "json_invalid":
            msg = "the body is not valid JSON"
        problems.append(f"{path}: {msg}")
    return "; ".join(dict.fromkeys(problems)) or "invalid request"
