from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from botskis.billing.models import SubscriptionStatus

PlanName = Literal["starter", "professional", "enterprise"]
PaidPlanName = Literal["professional", "enterprise"]


class Limits(BaseModel):
    """`None` means unlimited."""

    agents: int | None
    runs_per_month: int | None


class Usage(BaseModel):
    plan: str
    limits: Limits
    agents_used: int
    runs_this_month: int
    period_start: datetime
    period_end: datetime


class PlanChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: PlanName


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: PaidPlanName


class RedirectUrl(BaseModel):
    """Where to send the browser: a Stripe-hosted Checkout or Customer Portal page."""

    url: str


class Invoice(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    number: str | None
    status: str
    amount_due: int
    amount_paid: int
    currency: str
    hosted_invoice_url: str | None
    created: datetime


class Billing(BaseModel):
    """`status` is None until the user has subscribed; `grace_ends_at` is set while
    a past_due subscription keeps its plan."""

    plan: str
    status: SubscriptionStatus | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    grace_ends_at: datetime | None
    invoices: list[Invoice]


class WebhookReceived(BaseModel):
    received: bool = True
