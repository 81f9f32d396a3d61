"""The API's route tree. Private routes sit under a parent that requires a user;
public ones are mounted on `public` on purpose, so a forgotten dependency cannot
expose a route."""

from __future__ import annotations

from fastapi import APIRouter, Depends

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

public = APIRouter()
public.include_router(users.public_router)
public.include_router(runs.hooks_router)
public.include_router(marketplace.router)

private = APIRouter(dependencies=[Depends(current_user)])
private.include_router(users.router)
private.include_router(credentials.router)
private.include_router(runs.router)
private.include_router(monitoring.router)
private.include_router(notifications.router)
private.include_router(billing.router)
private.include_router(agents.router)
private.include_router(onboarding.router)

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(public)
api_router.include_router(private)
