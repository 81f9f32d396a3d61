"""The API's route tree. Every route of a private router must take the caller
(`CurrentUser` or anything built on `current_user`), or the app refuses to start;
public ones are listed apart on purpose, so a forgotten dependency cannot expose
a route."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from botskis.agents import router as agents
from botskis.analytics import router as analytics
from botskis.billing import router as billing
from botskis.core.auth import bearer_scheme, current_user
from botskis.credentials import router as credentials
from botskis.marketplace import router as marketplace
from botskis.monitoring import router as monitoring
from botskis.notifications import router as notifications
from botskis.onboarding import router as onboarding
from botskis.runs import router as runs
from botskis.users import router as users

API_PREFIX = "/api/v1"
PUBLIC: list[APIRouter] = [users.public_router, runs.hooks_router, marketplace.router]
PRIVATE: list[APIRouter] = [
    users.router,
    credentials.router,
    runs.router,
    monitoring.router,
    analytics.router,
    notifications.router,
    billing.router,
    agents.router,
    onboarding.router,
]


def include_api(app: FastAPI) -> None:
    """The API routers' routes, added to the app itself (see `add_routes`).

    Routes are matched in order, in Python, so where a router sits is a cost: the
    authenticated routers, which carry the dashboard's traffic, come first (`users`
    first of all: every client calls /users/me). No method and path is in both lists,
    so the order never changes which route answers (tests/users/test_login.py
    checks the public ones stay public)."""
    for router in PRIVATE:
        require_caller(router)
        add_routes(app, router, API_PREFIX)
    for router in PUBLIC:
        add_routes(app, router, API_PREFIX)
    document_bearer_auth(app)


def add_routes(app: FastAPI, router: APIRouter, prefix: str) -> None:
    """The router's routes, re-created on the app itself under `prefix`, as FastAPI
    before 0.16x's `include_router` did. Its `include_router` now keeps the router
    nested and matches the path twice through it (once to choose the router, again
    inside it), about a tenth of a small request's work. The router has already
    folded its own tags, dependencies and responses into each route."""
    if router.on_startup or router.on_shutdown:
        raise TypeError(f"{router.prefix}: a router with event handlers must be included")
    for route in router.routes:
        # A subclass (a custom route_class) could carry behaviour this copy drops.
        if type(route) is not APIRoute:
            raise TypeError(f"{route!r}: only plain HTTP routes can be added to the app directly")
        app.router.add_api_route(
            prefix + route.path,
            route.endpoint,
            response_model=route.response_model,
            status_code=route.status_code,
            tags=route.tags,
            dependencies=route.dependencies,
            summary=route.summary,
            description=route.description,
            response_description=route.response_description,
            responses=route.responses,
            deprecated=route.deprecated,
            methods=route.methods,
            operation_id=route.operation_id,
            response_model_include=route.response_model_include,
            response_model_exclude=route.response_model_exclude,
            response_model_by_alias=route.response_model_by_alias,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_model_exclude_defaults=route.response_model_exclude_defaults,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=route.include_in_schema,
            response_class=route.response_class,
            name=route.name,
            callbacks=route.callbacks,
            openapi_extra=route.openapi_extra,
            generate_unique_id_function=route.generate_unique_id_function,
            strict_content_type=route.strict_content_type,
            max_body_size=route.max_body_size,
            form_limits=route.form_limits,
        )


class UnauthenticatedRoute(RuntimeError):
    """A private router has a route that does not take the caller."""


def require_caller(router: APIRouter) -> None:
    """Every route of a private router must depend on `current_user`, directly or
    through another dependency. Checked at start-up instead of adding the
    dependency to the whole router: the route's own `CurrentUser` would then be a
    second dependency node, which every private request pays for."""
    for route in router.routes:
        if isinstance(route, APIRoute) and not _takes_caller(route.dependant):
            methods = ",".join(sorted(route.methods or ()))
            raise UnauthenticatedRoute(
                f"{methods} {route.path} is in a private router but does not take the "
                "caller: add a CurrentUser parameter or move it to a public router"
            )


def _takes_caller(dependant: Dependant) -> bool:
    return dependant.call is current_user or any(
        _takes_caller(sub) for sub in dependant.dependencies
    )


def _private_operations() -> set[tuple[str, str]]:
    return {
        # An APIRouter's route paths already carry the router's own prefix.
        (API_PREFIX + route.path, method.lower())
        for router in PRIVATE
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }


def document_bearer_auth(app: FastAPI) -> None:
    """Mark every private operation as needing the bearer token in OpenAPI, so
    /docs offers "Authorize". `current_user` reads the header itself instead of
    depending on `bearer_scheme`, which is what would otherwise document it."""
    private = _private_operations()

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            name = bearer_scheme.scheme_name
            model = bearer_scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)
            schema.setdefault("components", {}).setdefault("securitySchemes", {})[name] = model
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    if (path, method) in private:
                        operation["security"] = [{name: []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
