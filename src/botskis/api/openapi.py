"""The OpenAPI document tells the truth about errors.

Every error this service sends is an RFC 9457 problem (`application/problem+json`,
core/errors.py), so every documented error response points at one `Problem`
schema. Which statuses an operation can answer follows from what it is, the same
rules the edge and the handlers apply to every route, so a new route is documented
without its author doing anything:

* any operation: 422 (NUL in the query, invalid parameters), 429 (the per-IP
  limit, except on the probes), 503 (the database cannot serve), 400 (a value
  the handlers refuse) when it takes parameters or a body;
* one that takes the caller (marked as secured): 401, 403 (disabled account,
  superuser routes), and 429 for the per-user limit;
* one with path parameters or an `..._id` query parameter: 404 (someone
  else's object is not found too);
* POST, PUT, PATCH: 400 (malformed JSON), 409 (a conflict with stored rows),
  413 (body too large), 415 (not JSON where JSON is expected);
* DELETE: 409.

A route declares a status these rules cannot know (a 402, a 409 on a GET) with
FastAPI's own `responses={402: {"description": "..."}}`; any 4xx or 5xx it
declares without content gets the problem schema here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from botskis.core.errors import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem; some carry more members (plan, limit, checks, ...).",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "request_id": {"type": ["string", "null"], "description": "quote it for support"},
        "errors": {
            "type": "array",
            "description": "each invalid field (422, and 400 for malformed JSON)",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "Malformed JSON (the error names line and column) or a refused value",
    401: "Missing, invalid, expired or revoked access token",
    403: "Not allowed: disabled account, superuser only, a plan limit, or a session cookie without its X-CSRF-Token",
    404: "No such object for this caller",
    409: "Conflicts with the current state or stored data",
    413: "The request body is too large",
    415: "The body is not JSON where JSON is expected",
    422: "Invalid parameters or body; `errors` names each field",
    429: "Rate limited; see Retry-After",
    503: "The database cannot serve right now; see Retry-After",
}
WRITE_METHODS = frozenset({"post", "put", "patch"})
# Paths outside the per-IP limit and without a database (api/middleware.py, health.py).
UNLIMITED_PATHS = frozenset({"/health", "/ready", "/metrics"})
NO_DATABASE_PATHS = frozenset({"/health"})
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The problem statuses an operation can answer, from the rules in this module."""
    statuses = {422}
    if path not in UNLIMITED_PATHS or operation.get("security"):
        statuses.add(429)
    if path not in NO_DATABASE_PATHS:
        statuses.add(503)
    if operation.get("parameters") or "requestBody" in operation:
        statuses.add(400)
    if operation.get("security"):
        statuses |= {401, 403}
    if any(_names_an_object(p) for p in operation.get("parameters", ())):
        statuses.add(404)
    if method in WRITE_METHODS:
        statuses |= {400, 409, 413, 415}
    if method == "delete":
        statuses.add(409)
    return statuses


def _names_an_object(parameter: dict[str, Any]) -> bool:
    """A path parameter, or a query parameter naming an object by id (`agent_id`)."""
    location = parameter.get("in")
    return location == "path" or (location == "query" and parameter.get("name", "").endswith("_id"))


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or DESCRIPTIONS.get(status, "Error"),
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER
    return response


def document_errors_in(schema: dict[str, Any]) -> None:
    """Add the problem responses to every operation of a generated document."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status in error_statuses(path, method, operation):
                declared = responses.get(str(status), {})
                responses[str(status)] = problem_response(status, declared.get("description"))
            for code, declared in responses.items():
                # What a route declared itself: the problem schema when it gave none.
                if code[:1] in {"4", "5"} and "content" not in declared:
                    responses[code] = problem_response(int(code), declared.get("description"))
            if responses.get("422", {}).get("description") == "Validation Error":
                responses["422"]["description"] = DESCRIPTIONS[422]
    # FastAPI's default validation-error models describe a body this service never
    # sends; dropped once nothing refers to them.
    for unused in ("HTTPValidationError", "ValidationError"):
        model = components.pop(unused, None)
        if model is not None and f'"#/components/schemas/{unused}"' in json.dumps(schema):
            components[unused] = model


def document_errors(app: FastAPI) -> None:
    """Wrap the app's OpenAPI generator (whatever it is) so the document it caches
    carries the problem responses; called by the app factory after every route."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    documented: list[int] = []

    def openapi() -> dict[str, Any]:
        schema = generate()
        if id(schema) not in documented:
            document_errors_in(schema)
            documented.append(id(schema))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
