"""Errors that know their HTTP status, rendered by one handler into one JSON shape."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """Base of every error an API answers on purpose."""

    status_code = 500
    error = "internal_error"

    def __init__(self, detail: str, **context: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context


class NotFound(ServiceError):
    status_code = 404
    error = "not_found"


class Conflict(ServiceError):
    status_code = 409
    error = "conflict"


class InvalidInput(ServiceError):
    status_code = 422
    error = "invalid_input"


class Unauthorized(ServiceError):
    status_code = 401
    error = "unauthorized"


class DependencyUnavailable(ServiceError):
    status_code = 503
    error = "dependency_unavailable"


def error_body(error: str, detail: Any, **context: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error, "detail": detail}
    body.update(context)
    return body


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "amount") -> "amount"; ("query", "k") -> "k"; keep list indexes.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "request"


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    if exc.status_code >= 500:
        logger.warning(
            "service_error", extra={"error": exc.error, "detail": exc.detail}
        )
    return JSONResponse(
        error_body(exc.error, exc.detail, **exc.context), status_code=exc.status_code
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": _field_path(item["loc"]), "problem": item["msg"]}
        for item in exc.errors()
    ]
    summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
    return JSONResponse(
        error_body("invalid_input", summary, problems=problems), status_code=422
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    name = {404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error"
    )
    return JSONResponse(
        error_body(name, exc.detail), status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled_error", extra={"path": request.url.path})
    return JSONResponse(
        error_body("internal_error", "unexpected server error; see the service log"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
