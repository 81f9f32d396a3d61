from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from botskis.api.dependencies import SessionDep, SettingsDep
from botskis.billing import schemas, service, subscriptions
from botskis.billing.stripe_api import StripeApi
from botskis.core.auth import CurrentUser, Superuser

router = APIRouter(tags=["billing"])
# Stripe calls it; the signature, not a user, authenticates each delivery.
webhook_router = APIRouter(tags=["billing"])


async def get_stripe(request: Request) -> StripeApi:
    """The process's Stripe client; 503 problem+json when billing is not configured."""
    return subscriptions.configured(request.app.state.stripe)


StripeDep = Annotated[StripeApi, Depends(get_stripe)]


@router.get("/users/me/usage", response_model=schemas.Usage)
async def read_usage(user: CurrentUser, session: SessionDep) -> schemas.Usage:
    return await service.usage(session, user.id, user.plan)


@router.put("/users/{user_id}/plan", response_model=schemas.Usage)
async def set_plan(
    user_id: uuid.UUID, body: schemas.PlanChange, _admin: Superuser, session: SessionDep
) -> schemas.Usage:
    return await service.set_plan(session, user_id, body.plan)


@router.get("/billing", response_model=schemas.Billing)
async def read_billing(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, _stripe: StripeDep
) -> schemas.Billing:
    return await subscriptions.overview(session, settings, user.id)


@router.post("/billing/checkout", response_model=schemas.RedirectUrl)
async def start_checkout(
    body: schemas.CheckoutRequest,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    stripe: StripeDep,
) -> schemas.RedirectUrl:
    url = await subscriptions.start_checkout(session, stripe, settings, user.id, body.plan)
    return schemas.RedirectUrl(url=url)


@router.post("/billing/portal", response_model=schemas.RedirectUrl)
async def open_portal(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, stripe: StripeDep
) -> schemas.RedirectUrl:
    url = await subscriptions.open_portal(session, stripe, settings, user.id)
    return schemas.RedirectUrl(url=url)


@webhook_router.post("/billing/webhook", response_model=schemas.WebhookReceived)
async def receive_webhook(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    stripe: StripeDep,
    signature: Annotated[str | None, Header(alias="Stripe-Signature", max_length=2000)] = None,
) -> schemas.WebhookReceived:
    """Stored (committed) before the 200; a worker applies it. A redelivery is a 200 no-op."""
    payload = await request.body()
    await subscriptions.receive_event(session, stripe, settings, payload, signature)
    return schemas.WebhookReceived()
