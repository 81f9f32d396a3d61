"""The API's route tree. Private routers are mounted under a parent router that
depends on the caller, so a forgotten dependency cannot expose a route; public
ones are listed apart on purpose (tests/api/test_route_tree.py checks both)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from botskis.agents import router as agents
from botskis.analytics import router as analytics
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
PUBLIC: list[APIRouter] = [
    users.public_router,
    runs.hooks_router,
    billing.webhook_router,
    marketplace.router,
]
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


def api_router(
    private_routers: list[APIRouter] = PRIVATE, public_routers: list[APIRouter] = PUBLIC
) -> APIRouter:
    private = APIRouter(dependencies=[Depends(current_user)])
    for router in private_routers:
        private.include_router(router)
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(private)
    for router in public_routers:
        api.include_router(router)
    return api


def include_api(app: FastAPI) -> None:
    app.include_router(api_router())
