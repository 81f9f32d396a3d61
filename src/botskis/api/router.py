"""The API's route tree. Private routes are included with a dependency that
requires a user; public ones are listed apart on purpose, so a forgotten
dependency cannot expose a route."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from botskis.agents import router as agents
from botskis.billing import router as billing
from botskis.core.auth import current_user
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
    notifications.router,
    billing.router,
    agents.router,
    onboarding.router,
]


def include_api(app: FastAPI) -> None:
    """One level of inclusion: FastAPI re-walks nested routers on every request."""
    for router in PUBLIC:
        app.include_router(router, prefix=API_PREFIX)
    for router in PRIVATE:
        app.include_router(router, prefix=API_PREFIX, dependencies=[Depends(current_user)])
