"""One error hierarchy, one place that turns errors into problem+json (RFC 9457)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from botskis.database.availability import (
    RETRY_AFTER_SECONDS,
    Availability,
    Unavailability,
    unavailability,
)
from botskis.database.write_turn import WriteTurnTimeout

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    """A failure a client can act on. Domains subclass it with a fixed status."""

    status: int = 400
    title: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.headers = headers or {}
        self.extra = extra


class NotFound(AppError):
    status = 404


class Conflict(AppError):
    status = 409


class Forbidden(AppError):
    status = 403


class Unauthorized(AppError):
    status = 401

    def __init__(self, detail: str = "Not authenticated", **extra: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extra)


class ValidationFailed(AppError):
    """A 422 whose `errors` list names each field, like request validation does."""

    status = 422

    def __init__(self, detail: str, errors: list[dict[str, str]]) -> None:
        super().__init__(detail, errors=errors)


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail,
        "request_id": request_id_of(request),
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:] or parts
    return ".".join(parts)


def _validation_message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem(
        request, exc.status, exc.detail, title=exc.title, headers=exc.headers, **exc.extra
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route matches {request.method} {request.url.path}"
    return problem(request, exc.status_code, detail, headers=dict(exc.headers or {}))


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _expects_json_body(request: Request) -> bool:
    """The matched route takes a JSON body (not a form or a file upload)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not dependant.body_params:
        return False
    return not any(
        isinstance(p.field_info, (params.Form, params.File)) for p in dependant.body_params
    )


def _json_error_position(document: Any, error: dict[str, Any]) -> dict[str, str]:
    """Where the JSON parser stopped, as line and column (1-based) of the body text:
    FastAPI reports only the character offset."""
    loc = error.get("loc", ())
    offset = loc[-1] if loc and isinstance(loc[-1], int) else 0
    reason = str(error.get("ctx", {}).get("error", "invalid JSON"))
    if not isinstance(document, str):
        return {"message": f"{reason} (at character {offset + 1})"}
    line = document.count("\n", 0, offset) + 1
    column = offset - (document.rfind("\n", 0, offset) + 1) + 1
    return {"message": f"{reason} at line {line}, column {column}"}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field_name(e.get("loc", ())), "message": _validation_message(e)}
        for e in exc.errors()
    ]
    invalid = [e for e in exc.errors() if e.get("type") == "json_invalid"]
    if invalid:
        where = _json_error_position(exc.body, invalid[0])
        return problem(
            request, 400, "The request body is not valid JSON", errors=[{"field": "body", **where}]
        )
    content_type = request.headers.get("content-type", "")
    has_body = (
        request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    )
    if has_body and not _is_json(content_type) and _expects_json_body(request):
        return problem(
            request,
            415,
            f"Send the body as application/json, not {content_type or 'without a content type'}",
        )
    return problem(request, 422, "The request is not valid", errors=errors)


async def _value_error(request: Request, exc: Exception) -> JSONResponse:
    logger.bind(request_id=request_id_of(request)).info("value error: {}", type(exc).__name__)
    return problem(request, 400, "The request could not be processed: invalid value")


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    logger.bind(request_id=request_id_of(request)).info("integrity conflict")
    return problem(request, 409, "The request conflicts with existing data")


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    logger.bind(request_id=request_id_of(request)).info("database refused a value")
    return problem(request, 400, "The request could not be processed: invalid value")


UNAVAILABLE_DETAIL = {
    Unavailability.UNREACHABLE: "The database is unreachable; retry later",
    Unavailability.POOL_TIMEOUT: "The service is busy (no database connection was free); retry later",
    Unavailability.CONTENTION: "The request collided with a concurrent change; retry it",
    Unavailability.READ_ONLY: "The database is read-only right now; retry later",
    Unavailability.STORAGE: "The database cannot store data right now; retry later",
}


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """503 with Retry-After when the database cannot serve (no traceback: the
    outage is logged once by `Availability`); any other database error is a bug."""
    availability: Availability = request.app.state.database.availability
    reason = availability.report(exc)
    if reason is None:
        return await _unexpected_error(request, exc)
    return problem(
        request,
        503,
        UNAVAILABLE_DETAIL[reason],
        headers={"Retry-After": str(RETRY_AFTER_SECONDS[reason])},
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    if unavailability(exc) is not None:
        # A database outage met outside the route (in middleware) is still a 503.
        return await _database_error(request, exc)
    logger.bind(request_id=request_id_of(request)).opt(exception=exc).error(
        "unhandled error on {} {}", request.method, request.url.path
    )
    return problem(request, 500, "An unexpected error occurred; quote the request id for support")


def unexpected_error_response(scope: Scope, exc: Exception) -> JSONResponse:
    """The generic 500 for the edge middleware: the trace goes to error.log only."""
    request = Request(scope)
    logger.opt(exception=exc).error("unhandled error on {} {}", request.method, request.url.path)
    return problem(request, 500, "An unexpected error occurred; quote the request id for support")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValueError, _value_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(WriteTurnTimeout, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
