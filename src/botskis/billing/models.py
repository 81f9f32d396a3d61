"""Billing tables: the usage ledger, each user's Stripe subscription state, their
invoices, and the Stripe events received and applied."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from botskis.database.base import Base, TimestampMixin, utcnow


class MonthlyUsage(Base):
    """What a user consumed in one calendar month (UTC).

    A row is counted up in the transaction that queues a run and never derived
    from runs or agents, so deleting those cannot lower it. Tokens and cost are
    carried for metering; runs are what the plan limits."""

    __tablename__ = "monthly_usage"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # The first day of the month.
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    runs: Mapped[int] = mapped_column(default=0)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    # Millionths of a US dollar: exact on every backend.
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class SubscriptionStatus(StrEnum):
    """What the API shows of a subscription; Stripe's other statuses map onto these."""

    ACTIVE = "active"
    TRIALING = "trialing"
    PAST_DUE = "past_due"
    CANCELED = "canceled"


class BillingAccount(TimestampMixin, Base):
    """A user's Stripe customer and the newest subscription state applied to it.

    `state_created`, `state_terminal` and `state_period_end` are Stripe's ordering
    of that state (the event's `created`, then a terminal status, then the period
    end): an older event is not applied, so late deliveries never bring back an
    older state."""

    __tablename__ = "billing_accounts"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    subscription_id: Mapped[str | None] = mapped_column(String(255))
    # Stripe's own status text (active, trialing, past_due, unpaid, canceled, ...).
    stripe_status: Mapped[str | None] = mapped_column(String(32))
    # The plan the subscription pays for (from its price).
    subscription_plan: Mapped[str | None] = mapped_column(String(32))
    current_period_end: Mapped[datetime | None] = mapped_column()
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    past_due_since: Mapped[datetime | None] = mapped_column()
    state_created: Mapped[int] = mapped_column(BigInteger, default=0)
    state_terminal: Mapped[bool] = mapped_column(default=False)
    state_period_end: Mapped[int] = mapped_column(BigInteger, default=0)


class BillingInvoice(Base):
    """An invoice as its latest paid / payment_failed event described it."""

    __tablename__ = "billing_invoices"
    __table_args__ = (Index("ix_billing_invoices_user_id_created", "user_id", "created"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    number: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32))
    amount_due: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    hosted_invoice_url: Mapped[str | None] = mapped_column(String(2048))
    created: Mapped[datetime] = mapped_column()
    event_created: Mapped[int] = mapped_column(BigInteger, default=0)


class StripeEvent(Base):
    """A verified webhook event, stored before the webhook's 2xx and applied by a
    worker exactly once: `applied_at` is set in the transaction that applies it."""

    __tablename__ = "stripe_events"
    __table_args__ = (Index("ix_stripe_events_pending", "applied_at", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    # Stripe's `created` (seconds since the epoch).
    created: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
