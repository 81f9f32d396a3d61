"""The API's route tree. Private routers are mounted under a parent router that
depends on the caller, so a forgotten dependency cannot expose a route; public
ones are listed apart on purpose (tests/api/test_route_tree.py checks both).

Each private router is listed with the access an API key needs for it: a pair of
scopes (users/scopes.py: `read` for GET and HEAD, `write` for the rest) or
account management, which no key reaches. A route added to a router inherits
its router's access; a router cannot be listed without one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from botskis.agents import router as agents
from botskis.analytics import router as analytics
from botskis.billing import router as billing
from botskis.core.auth import AccessCheck, account_management, current_user, scoped
from botskis.credentials import router as credentials
from botskis.marketplace import router as marketplace
from botskis.monitoring import router as monitoring
from botskis.notifications import router as notifications
from botskis.onboarding import router as onboarding
from botskis.runs import router as runs
from botskis.users import router as users
from botskis.users.scopes import Scope

API_PREFIX = "/api/v1"
PUBLIC: list[APIRouter] = [
    users.public_router,
    runs.hooks_router,
    billing.webhook_router,
    marketplace.router,
]
AGENTS = scoped(Scope.AGENTS_READ, Scope.AGENTS_WRITE)
RUNS = scoped(Scope.RUNS_READ, Scope.RUNS_WRITE)
CREDENTIALS = scoped(Scope.CREDENTIALS_READ, Scope.CREDENTIALS_WRITE)
PRIVATE: list[tuple[APIRouter, AccessCheck]] = [
    (users.router, account_management),
    (credentials.router, CREDENTIALS),
    (runs.router, RUNS),
    (monitoring.router, AGENTS),
    (analytics.router, RUNS),
    (notifications.router, RUNS),
    (billing.router, account_management),
    (agents.router, AGENTS),
    (onboarding.router, AGENTS),
]


def include_api(
    app: FastAPI,
    private_routers: list[tuple[APIRouter, AccessCheck]] = PRIVATE,
    public_routers: list[APIRouter] = PUBLIC,
) -> None:
    """Add the API to `app`. The private parent router is added to the app itself,
    not under a further `/api/v1` router: FastAPI matches a request once more for
    every router it is nested in."""
    private = APIRouter(prefix=API_PREFIX, dependencies=[Depends(current_user)])
    for router, access in private_routers:
        private.include_router(router, dependencies=[Depends(access)])
    app.include_router(private)
    for router in public_routers:
        app.include_router(router, prefix=API_PREFIX)
