"""Self-service plans through Stripe: Checkout, the Customer Portal, the billing
overview, and Stripe's events turned into a user's plan.

The plan follows the subscription: while it is active or trialing, the plan its
price pays for (an upgrade applies at once; a downgrade or cancellation set for
the period end applies when Stripe changes or ends the subscription then);
past_due keeps the plan for BILLING_GRACE_DAYS, with a notification, and then
falls back to starter; any other status is starter. Agents are never removed:
past the limit new ones are refused.

Events are verified and stored by the webhook, and applied later, by a worker
(`billing.workflows`), exactly once each."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
from loguru import logger
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.billing.errors import (
    AlreadySubscribed,
    BillingNotConfigured,
    InvalidWebhookSignature,
    NoBillingAccount,
    PaymentProviderUnavailable,
)
from botskis.billing.models import BillingAccount, BillingInvoice, StripeEvent, SubscriptionStatus
from botskis.billing.plans import DEFAULT_PLAN
from botskis.billing.schemas import Billing, Invoice
from botskis.billing.service import lock_user
from botskis.billing.stripe_api import StripeApi
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.notifications.service import create_notification
from botskis.users.models import User

SIGNATURE_TOLERANCE_SECONDS = 300
INVOICES_SHOWN = 12
# Statuses under which Stripe still bills the subscription.
LIVE = frozenset({"active", "trialing", "past_due", "unpaid"})
IN_GRACE = frozenset({"past_due", "unpaid"})
PAYING = frozenset({"active", "trialing"})
# Stripe never revives a subscription in these.
TERMINAL = frozenset({"canceled", "incomplete_expired"})
SHOWN_STATUS = {
    "active": SubscriptionStatus.ACTIVE,
    "trialing": SubscriptionStatus.TRIALING,
    "past_due": SubscriptionStatus.PAST_DUE,
    "unpaid": SubscriptionStatus.PAST_DUE,
}

EventHandler = Callable[[AsyncSession, Settings, dict[str, Any]], Awaitable[None]]


def price_of(settings: Settings, plan: str) -> str | None:
    return {
        "professional": settings.stripe_price_professional,
        "enterprise": settings.stripe_price_enterprise,
    }.get(plan)


def plan_of_price(settings: Settings, price_id: str | None) -> str | None:
    prices = {
        settings.stripe_price_professional: "professional",
        settings.stripe_price_enterprise: "enterprise",
    }
    return prices.get(price_id) if price_id else None


def configured(api: StripeApi | None) -> StripeApi:
    if api is None:
        raise BillingNotConfigured()
    return api


async def get_account(session: AsyncSession, user_id: uuid.UUID) -> BillingAccount | None:
    return await session.get(BillingAccount, user_id)


async def _ensure_customer(session: AsyncSession, api: StripeApi, user: User) -> BillingAccount:
    """The user's Stripe customer, created once: a concurrent second request gets
    the same customer back from Stripe (same idempotency key) and the same row."""
    account = await get_account(session, user.id)
    if account is not None:
        return account
    try:
        customer = await api.client.v1.customers.create_async(
            params={
                "email": user.email,
                "name": user.full_name,
                "metadata": {"user_id": str(user.id)},
            },
            options={"idempotency_key": f"botskis-customer-{user.id}"},
        )
    except stripe.StripeError as error:
        logger.bind(user_id=str(user.id), error=type(error).__name__).warning(
            "stripe customer create failed"
        )
        raise PaymentProviderUnavailable() from error
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    await session.execute(
        insert(BillingAccount)
        .values(
            user_id=user.id,
            stripe_customer_id=customer.id,
            cancel_at_period_end=False,
            state_created=0,
            state_terminal=False,
            state_period_end=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[BillingAccount.user_id])
    )
    account = await session.get(BillingAccount, user.id, populate_existing=True)
    assert account is not None
    return account


async def start_checkout(
    session: AsyncSession, api: StripeApi, settings: Settings, user_id: uuid.UUID, plan: str
) -> str:
    """A Checkout Session in subscription mode for `plan`; returns its URL."""
    price = price_of(settings, plan)
    if price is None:
        raise BillingNotConfigured(f"billing is not configured for the {plan} plan")
    user = await session.get(User, user_id)
    assert user is not None
    account = await _ensure_customer(session, api, user)
    if account.stripe_status in LIVE:
        raise AlreadySubscribed()
    try:
        checkout = await api.client.v1.checkout.sessions.create_async(
            params={
                "mode": "subscription",
                "customer": account.stripe_customer_id,
                "line_items": [{"price": price, "quantity": 1}],
                "success_url": settings.billing_return_url,
                "cancel_url": settings.billing_return_url,
                "client_reference_id": str(user_id),
                "metadata": {"user_id": str(user_id)},
                "subscription_data": {"metadata": {"user_id": str(user_id)}},
            }
        )
    except stripe.StripeError as error:
        logger.bind(user_id=str(user_id), error=type(error).__name__).warning(
            "stripe checkout failed"
        )
        raise PaymentProviderUnavailable() from error
    if not checkout.url:
        raise PaymentProviderUnavailable()
    return checkout.url


async def open_portal(
    session: AsyncSession, api: StripeApi, settings: Settings, user_id: uuid.UUID
) -> str:
    """A Customer Portal session for the user's Stripe customer; returns its URL."""
    account = await get_account(session, user_id)
    if account is None:
        raise NoBillingAccount()
    try:
        portal = await api.client.v1.billing_portal.sessions.create_async(
            params={
                "customer": account.stripe_customer_id,
                "return_url": settings.billing_return_url,
            }
        )
    except stripe.StripeError as error:
        logger.bind(user_id=str(user_id), error=type(error).__name__).warning(
            "stripe portal failed"
        )
        raise PaymentProviderUnavailable() from error
    return portal.url


def grace_ends_at(settings: Settings, account: BillingAccount) -> datetime | None:
    if account.stripe_status not in IN_GRACE or account.past_due_since is None:
        return None
    return account.past_due_since + timedelta(days=settings.billing_grace_days)


async def overview(session: AsyncSession, settings: Settings, user_id: uuid.UUID) -> Billing:
    """The plan is read from the user row: a subscription change shows at once."""
    plan = await session.scalar(select(User.plan).where(User.id == user_id))
    account = await get_account(session, user_id)
    invoices = await session.scalars(
        select(BillingInvoice)
        .where(BillingInvoice.user_id == user_id)
        .order_by(BillingInvoice.created.desc(), BillingInvoice.id)
        .limit(INVOICES_SHOWN)
    )
    status: SubscriptionStatus | None = None
    if account is not None and account.stripe_status is not None:
        status = SHOWN_STATUS.get(account.stripe_status, SubscriptionStatus.CANCELED)
    return Billing(
        plan=plan or DEFAULT_PLAN,
        status=status,
        current_period_end=account.current_period_end if account else None,
        cancel_at_period_end=account.cancel_at_period_end if account else False,
        grace_ends_at=grace_ends_at(settings, account) if account else None,
        invoices=[Invoice.model_validate(invoice) for invoice in invoices],
    )


async def receive_event(
    session: AsyncSession, api: StripeApi, settings: Settings, payload: bytes, signature: str | None
) -> bool:
    """Verify a delivery with the library and store it; True when it is new.

    Nothing is read or written before the signature verifies. An event of a type
    not handled here is acknowledged and not stored; a redelivery is a no-op."""
    secret = settings.stripe_webhook_secret
    if not secret:
        raise BillingNotConfigured("billing is not configured: no webhook secret is set")
    try:
        event = api.client.construct_event(
            payload, signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
        body: dict[str, Any] = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as error:
        logger.bind(error=type(error).__name__).warning("stripe webhook refused")
        raise InvalidWebhookSignature() from error
    if event.type not in EVENT_HANDLERS:
        return False
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    stored = await session.execute(
        insert(StripeEvent)
        .values(
            id=event.id,
            type=event.type,
            created=int(event.created),
            payload=body,
            received_at=now,
            attempts=0,
            next_attempt_at=now,
        )
        .on_conflict_do_nothing(index_elements=[StripeEvent.id])
        .returning(StripeEvent.id)
    )
    return stored.scalar() is not None


async def apply_event(session: AsyncSession, settings: Settings, event: dict[str, Any]) -> None:
    await EVENT_HANDLERS[event["type"]](session, settings, event)


def _object_id(value: Any) -> str | None:
    """An id Stripe gives either as a string or as an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


async def _owner(session: AsyncSession, obj: dict[str, Any]) -> tuple[User, BillingAccount] | None:
    """The user an object belongs to, both locked (user first, as a run start does).

    Found by the Stripe customer; a customer not linked yet is linked through the
    user id our checkout put in the metadata."""
    customer = _object_id(obj.get("customer"))
    if customer is None:
        return None
    user_id = await session.scalar(
        select(BillingAccount.user_id).where(BillingAccount.stripe_customer_id == customer)
    )
    if user_id is None:
        claimed = (obj.get("metadata") or {}).get("user_id") or obj.get("client_reference_id")
        try:
            user_id = uuid.UUID(str(claimed))
        except ValueError:
            return None
    try:
        user = await lock_user(session, user_id)
    except LookupError:
        return None
    account = await session.scalar(
        select(BillingAccount)
        .where(BillingAccount.user_id == user_id)
        .with_for_update(key_share=True)
    )
    if account is None:
        account = BillingAccount(user_id=user_id, stripe_customer_id=customer)
        session.add(account)
        await session.flush()
    elif account.stripe_customer_id != customer:
        return None
    return user, account


async def _checkout_completed(
    session: AsyncSession, settings: Settings, event: dict[str, Any]
) -> None:
    """Links the customer to the user; the plan comes with the subscription's events."""
    checkout = event["data"]["object"]
    if await _owner(session, checkout) is None:
        logger.bind(event_id=event["id"]).warning("checkout for an unknown customer ignored")


def _period_end(subscription: dict[str, Any]) -> int:
    """Stripe keeps the period on the subscription's items (and once kept it on
    the subscription itself)."""
    items = (subscription.get("items") or {}).get("data") or []
    ends = [item.get("current_period_end") for item in items]
    ends.append(subscription.get("current_period_end"))
    return max((end for end in ends if isinstance(end, int)), default=0)


def _price_id(subscription: dict[str, Any]) -> str | None:
    items = (subscription.get("items") or {}).get("data") or []
    for item in items:
        price = _object_id(item.get("price"))
        if price is not None:
            return price
    return None


async def _subscription_changed(
    session: AsyncSession, settings: Settings, event: dict[str, Any]
) -> None:
    subscription = event["data"]["object"]
    owner = await _owner(session, subscription)
    if owner is None:
        logger.bind(event_id=event["id"]).warning("subscription of an unknown customer ignored")
        return
    user, account = owner
    status = str(subscription.get("status"))
    order = (int(event["created"]), status in TERMINAL, _period_end(subscription))
    applied = (account.state_created, account.state_terminal, account.state_period_end)
    log = logger.bind(event_id=event["id"], user_id=str(user.id))
    # Within one second Stripe's `created` cannot order two states; the later
    # delivery wins such a tie.
    if order < applied:
        log.info("older subscription state ignored")
        return
    other = account.subscription_id not in (None, subscription["id"])
    if other and status in TERMINAL and account.stripe_status in LIVE:
        log.info("an earlier subscription ended; the current one stays")
        return
    account.subscription_id = subscription["id"]
    account.stripe_status = status
    account.subscription_plan = plan_of_price(settings, _price_id(subscription))
    account.current_period_end = _timestamp(order[2] or None)
    account.cancel_at_period_end = bool(subscription.get("cancel_at_period_end"))
    account.state_created, account.state_terminal, account.state_period_end = order
    await follow_subscription(session, settings, user, account)
    log.bind(status=status, plan=user.plan).info("subscription applied")


async def follow_subscription(
    session: AsyncSession, settings: Settings, user: User, account: BillingAccount
) -> None:
    """Set the user's plan from the subscription state (see the module docstring)."""
    paid_plan = account.subscription_plan or DEFAULT_PLAN
    if account.stripe_status in PAYING:
        account.past_due_since = None
        user.plan = paid_plan
    elif account.stripe_status in IN_GRACE:
        if account.past_due_since is None:
            account.past_due_since = utcnow()
            ends = grace_ends_at(settings, account)
            assert ends is not None
            await create_notification(
                session,
                user.id,
                level="warning",
                title="Payment failed",
                message=(
                    f"Your {paid_plan} plan continues until {ends:%Y-%m-%d}. Update the "
                    "payment method in the billing portal to keep it."
                ),
            )
        ends = grace_ends_at(settings, account)
        user.plan = paid_plan if ends is not None and utcnow() < ends else DEFAULT_PLAN
    else:
        account.past_due_since = None
        user.plan = DEFAULT_PLAN
    await session.flush()


async def _invoice_changed(
    session: AsyncSession, settings: Settings, event: dict[str, Any]
) -> None:
    invoice = event["data"]["object"]
    owner = await _owner(session, invoice)
    if owner is None:
        logger.bind(event_id=event["id"]).warning("invoice of an unknown customer ignored")
        return
    user, _account = owner
    created = int(event["created"])
    row = await session.get(BillingInvoice, invoice["id"], with_for_update=True)
    if row is not None and (row.status == "paid" or row.event_created > created):
        return
    status = "paid" if event["type"] == "invoice.paid" else str(invoice.get("status") or "open")
    if row is None:
        row = BillingInvoice(id=invoice["id"], user_id=user.id)
        session.add(row)
    row.number = invoice.get("number")
    row.status = status
    row.amount_due = int(invoice.get("amount_due") or 0)
    row.amount_paid = int(invoice.get("amount_paid") or 0)
    row.currency = str(invoice.get("currency") or "usd")[:3]
    row.hosted_invoice_url = invoice.get("hosted_invoice_url")
    row.created = _timestamp(invoice.get("created")) or utcnow()
    row.event_created = created
    await session.flush()


async def expire_grace_periods(session: AsyncSession, settings: Settings) -> int:
    """Past-due users whose grace period is over fall back to starter; returns how many."""
    cutoff = utcnow() - timedelta(days=settings.billing_grace_days)
    due = await session.scalars(
        select(BillingAccount.user_id)
        .join(User, User.id == BillingAccount.user_id)
        .where(
            BillingAccount.stripe_status.in_(IN_GRACE),
            BillingAccount.past_due_since <= cutoff,
            User.plan != DEFAULT_PLAN,
        )
        .limit(100)
    )
    expired = 0
    for user_id in list(due):
        user = await lock_user(session, user_id)
        account = await session.get(BillingAccount, user_id, with_for_update=True)
        if account is None or user.plan == DEFAULT_PLAN:
            continue
        await follow_subscription(session, settings, user, account)
        if user.plan == DEFAULT_PLAN:
            expired += 1
            await create_notification(
                session,
                user_id,
                level="error",
                title="Plan moved to starter",
                message=(
                    "The subscription stayed unpaid past the grace period. Existing agents "
                    "are kept; starter's limits apply until a payment goes through."
                ),
            )
    return expired


EVENT_HANDLERS: dict[str, EventHandler] = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "invoice.paid": _invoice_changed,
    "invoice.payment_failed": _invoice_changed,
}
