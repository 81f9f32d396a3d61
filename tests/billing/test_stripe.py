"""Stripe billing against a local fake Stripe server, through the official library:
checkout, portal, the overview, signed webhooks stored before their 200 and
applied once by the worker, in Stripe's order, with a grace period on past_due."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.billing.models import BillingAccount, StripeEvent
from botskis.billing.workflows import apply_pending_events, expire_grace
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.notifications.models import Notification
from botskis.users.models import User
from tests.agents.factories import REPORT_CONFIG, deploy
from tests.conftest import make_settings
from tests.fakes.stripe_server import (
    PRICE_ENTERPRISE,
    PRICE_PROFESSIONAL,
    SECRET_KEY,
    WEBHOOK_SECRET,
    FakeStripeServer,
    SignedEvent,
    sign,
)
from tests.live_server import BOTSKIS, server_env
from tests.users.factories import Account, sign_up

WEBHOOK = "/api/v1/billing/webhook"


def stripe_settings(database_url: str, tmp_path: Path, stripe_url: str, **extra: Any) -> Settings:
    return make_settings(
        database_url,
        tmp_path / "logs",
        worker_embedded=False,
        redis_url=None,
        stripe_secret_key=SECRET_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_price_professional=PRICE_PROFESSIONAL,
        stripe_price_enterprise=PRICE_ENTERPRISE,
        stripe_api_base=stripe_url,
        **extra,
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fake_stripe: FakeStripeServer) -> Settings:
    # No embedded worker: each test applies stored events when it chooses to.
    return stripe_settings(database_url, tmp_path, fake_stripe.url)


async def deliver(client: httpx.AsyncClient, *events: SignedEvent) -> None:
    for event in events:
        response = await client.post(WEBHOOK, content=event.payload, headers=event.headers)
        assert response.status_code == 200, response.text


async def subscribe(
    client: httpx.AsyncClient, app: FastAPI, stripe: FakeStripeServer, plan: str = "professional"
) -> tuple[Account, str]:
    """A user who went through Checkout; returns the account and subscription id."""
    account = await sign_up(client)
    started = await client.post(
        "/api/v1/billing/checkout", headers=account.headers, json={"plan": plan}
    )
    assert started.status_code == 200, started.text
    session_id = started.json()["url"].rsplit("/", 1)[1]
    events = stripe.complete_checkout(session_id)
    await deliver(client, *events)
    assert await apply_pending_events(app.state.database, app.state.settings) == 3
    subscription_id = json.loads(events[1].payload)["data"]["object"]["id"]
    return account, subscription_id


async def billing(client: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    response = await client.get("/api/v1/billing", headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def stored_events(app: FastAPI) -> list[StripeEvent]:
    async with app.state.database.transaction() as session:
        return list(await session.scalars(sa.select(StripeEvent)))


async def plan_of(app: FastAPI, account: Account) -> str:
    async with app.state.database.transaction() as session:
        plan = await session.scalar(sa.select(User.plan).where(User.id == uuid.UUID(account.id)))
    assert plan is not None
    return plan


async def test_checkout_then_events_put_the_user_on_the_paid_plan(
    app: FastAPI, client: httpx.AsyncClient, fake_stripe: FakeStripeServer
) -> None:
    account, _subscription = await subscribe(client, app, fake_stripe)
    (customer_call,) = fake_stripe.requests_to_path("/v1/customers")
    assert customer_call.form["metadata[user_id]"] == account.id
    (checkout_call,) = fake_stripe.requests_to_path("/v1/checkout/sessions")
    assert checkout_call.form["mode"] == "subscription"
    assert checkout_call.form["line_items[0][price]"] == PRICE_PROFESSIONAL
    assert checkout_call.form["client_reference_id"] == account.id
    body = await billing(client, account)
    assert body["plan"] == "professional" and body["status"] == "active"
    assert body["current_period_end"] is not None and body["grace_ends_at"] is None
    (invoice,) = body["invoices"]
    assert invoice["status"] == "paid" and invoice["amount_paid"] == 4900
    usage = (await client.get("/api/v1/users/me/usage", headers=account.headers)).json()
    assert usage["limits"] == {"agents": 20, "runs_per_month": 10000}
    again = await client.post(
        "/api/v1/billing/checkout", headers=account.headers, json={"plan": "enterprise"}
    )
    assert again.status_code == 409


async def test_portal_needs_a_customer_then_returns_the_portal_url(
    app: FastAPI, client: httpx.AsyncClient, fake_stripe: FakeStripeServer
) -> None:
    account = await sign_up(client)
    before = await client.post("/api/v1/billing/portal", headers=account.headers)
    assert before.status_code == 409
    assert before.headers["content-type"].startswith("application/problem+json")
    subscriber, _ = await subscribe(client, app, fake_stripe)
    portal = await client.post("/api/v1/billing/portal", headers=subscriber.headers)
    assert portal.status_code == 200, portal.text
    assert portal.json()["url"].startswith("https://billing.stripe.test/")
    assert (await client.post("/api/v1/billing/portal")).status_code == 401


async def test_a_stripe_outage_is_502_and_a_retry_reuses_the_customer(
    app: FastAPI, client: httpx.AsyncClient, fake_stripe: FakeStripeServer
) -> None:
    account = await sign_up(client)
    fake_stripe.fail_next(500, 500, 500, 500, 500, 500)
    failed = await client.post(
        "/api/v1/billing/checkout", headers=account.headers, json={"plan": "professional"}
    )
    assert failed.status_code == 502
    assert failed.headers["content-type"].startswith("application/problem+json")
    fake_stripe.failures.clear()
    for _ in range(2):
        started = await client.post(
            "/api/v1/billing/checkout", headers=account.headers, json={"plan": "professional"}
        )
        assert started.status_code == 200, started.text
    assert len(fake_stripe.customers) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"plan": "starter"}, 422),
        ({"plan": "platinum"}, 422),
        ({"plan": 5}, 422),
        ({"plan": "professional", "extra": 1}, 422),
        ({}, 422),
        ([], 422),
    ],
)
async def test_checkout_refuses_bad_bodies(
    client: httpx.AsyncClient, fake_stripe: FakeStripeServer, body: Any, status: int
) -> None:
    account = await sign_up(client)
    response = await client.post("/api/v1/billing/checkout", headers=account.headers, json=body)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert fake_stripe.requests == []


async def test_billing_routes_need_auth_and_bounded_bodies(
    client: httpx.AsyncClient, fake_stripe: FakeStripeServer
) -> None:
    assert (await client.get("/api/v1/billing")).status_code == 401
    assert (
        await client.post("/api/v1/billing/checkout", json={"plan": "enterprise"})
    ).status_code == 401
    account = await sign_up(client)
    huge = b'{"plan": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/api/v1/billing/checkout",
        headers={**account.headers, "Content-Type": "application/json"},
        content=huge,
    )
    assert response.status_code == 413
    big_hook = await client.post(WEBHOOK, content=huge, headers={"Stripe-Signature": sign(huge)})
    assert big_hook.status_code == 413


async def test_forged_stale_and_unsigned_events_are_400_and_store_nothing(
    app: FastAPI, client: httpx.AsyncClient, fake_stripe: FakeStripeServer
) -> None:
    account = await sign_up(client)
    real = fake_stripe.event("customer.subscription.updated", {"id": "sub_x", "customer": "c"})
    forged = fake_stripe.event(
        "customer.subscription.updated", {"id": "sub_x", "customer": "c"}, secret="whsec_other"
    )
    stale = fake_stripe.event(
        "customer.subscription.updated",
        {"id": "sub_x", "customer": "c"},
        timestamp=int(time.time()) - 301,
    )
    tampered = real.payload.replace(b"sub_x", b"sub_y")
    attempts = [
        (forged.payload, forged.headers),
        (stale.payload, stale.headers),
        (tampered, real.headers),
        (real.payload, {"Content-Type": "application/json"}),
        (real.payload, {"Stripe-Signature": "garbage"}),
        (b"not json", {"Stripe-Signature": sign(b"not json")}),
        (b"\xff\xfe", {"Stripe-Signature": sign(b"\xff\xfe")}),
    ]
    for payload, headers in attempts:
        response = await client.post(WEBHOOK, content=payload, headers=headers)
        assert response.status_code == 400, (payload[:40], response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await stored_events(app) == []
    assert (await billing(client, account))["status"] is None


async def test_unknown_types_are_acknowledged_and_not_stored(
    app: FastAPI, client: httpx.AsyncClient, fake_stripe: FakeStripeServer
) -> None:
    await deliver(client, fake_stripe.event("charge.refunded", {"id": "ch_1"}))
    assert await stored_events(app) == []


async def test_a_redelivered_event_is_stored_and_applied_once(
    app: FastAPI, client: httpx.AsyncClient, fake_stripe: FakeStripeServer
) -> None:
    account, subscription = await subscribe(client, app, fake_stripe)
    failed = fake_stripe.fail_payment(subscription)
    await deliver(client, *failed, *failed)
    await asyncio.gather(*(deliver(client, failed[1]) for _ in range(5)))
    assert len(await stored_events(app)) == 5
    assert await apply_pending_events(app.state.database, app.state.settings) == 2
    assert await apply_pending_events(app.state.database, app.state.settings) == 0
    assert all(event.attempts == 1 for event in await stored_events(app))
    async with app.state.database.transaction() as session:
        warnings = await session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.user_id == uuid.UUID(account.id))
        )
    assert warnings == 1


async def test_out_of_order_events_never_apply_an_older_state(
    app: FastAPI, client: httpx.AsyncClient, fake_stripe: FakeStripeServer
) -> None:
    account, subscription = await subscribe(client, app, fake_stripe)
    now = int(time.time())
    upgrade = fake_stripe.change_subscription(
        subscription, created=now + 20, price=PRICE_ENTERPRISE
    )
    older = fake_stripe.event(
        "customer.subscription.updated",
        {**fake_stripe.subscriptions[subscription], "status": "past_due"},
        created=now + 10,
    )
    await deliver(client, upgrade)
    await apply_pending_events(app.state.database, app.state.settings)
    await deliver(client, older)
    await apply_pending_events(app.state.database, app.state.settings)
    body = await billing(client, account)
    assert body["plan"] == "enterprise" and body["status"] == "active"
    ended = fake_stripe.change_subscription(subscription, created=now + 40, status="canceled")
    late = fake_stripe.change_subscription(subscription, created=now + 30, status="active")
    await deliver(client, ended, late)
    await apply_pending_events(app.state.database, app.state.settings)
    body = await billing(client, account)
    assert body["plan"] == "starter" and body["status"] == "canceled"


async def test_cancel_at_period_end_keeps_the_plan_until_stripe_ends_it(
    app: FastAPI, client: httpx.AsyncClient, fake_stripe: FakeStripeServer
) -> None:
    account, subscription = await subscribe(client, app, fake_stripe)
    for _ in range(6):
        await deploy(client, account)
    now = int(time.time())
    await deliver(
        client,
        fake_stripe.change_subscription(subscription, created=now + 5, cancel_at_period_end=True),
    )
    await apply_pending_events(app.state.database, app.state.settings)
    body = await billing(client, account)
    assert body["plan"] == "professional" and body["cancel_at_period_end"] is True
    await deliver(
        client, fake_stripe.change_subscription(subscription, created=now + 10, status="canceled")
    )
    await apply_pending_events(app.state.database, app.state.settings)
    assert await plan_of(app, account) == "starter"
    listed = await client.get("/api/v1/agents", headers=account.headers)
    assert listed.json()["total"] == 6
    refused = await client.post(
        "/api/v1/agents/deploy",
        headers=account.headers,
        json={"template_id": "report-generator", "config": REPORT_CONFIG},
    )
    assert refused.status_code == 403


async def test_past_due_keeps_the_plan_for_the_grace_period_then_starter(
    app: FastAPI, client: httpx.AsyncClient, fake_stripe: FakeStripeServer
) -> None:
    account, subscription = await subscribe(client, app, fake_stripe)
    await deliver(client, *fake_stripe.fail_payment(subscription, created=int(time.time()) + 5))
    await apply_pending_events(app.state.database, app.state.settings)
    body = await billing(client, account)
    assert body["plan"] == "professional" and body["status"] == "past_due"
    assert body["grace_ends_at"] is not None
    assert await expire_grace(app.state.database, app.state.settings) == 0
    async with app.state.database.transaction() as session:
        await session.execute(
            sa.update(BillingAccount)
            .where(BillingAccount.user_id == uuid.UUID(account.id))
            .values(past_due_since=utcnow() - timedelta(days=7, minutes=1))
        )
    assert await expire_grace(app.state.database, app.state.settings) == 1
    assert await plan_of(app, account) == "starter"
    async with app.state.database.transaction() as session:
        titles = set(
            await session.scalars(
                sa.select(Notification.title).where(Notification.user_id == uuid.UUID(account.id))
            )
        )
    assert titles == {"Payment failed", "Plan moved to starter"}
    paid = fake_stripe.change_subscription(
        subscription, created=int(time.time()) + 10, status="active"
    )
    await deliver(client, paid)
    await apply_pending_events(app.state.database, app.state.settings)
    assert await plan_of(app, account) == "professional"


async def test_an_event_that_fails_to_apply_stays_stored_for_a_retry(
    app: FastAPI, client: httpx.AsyncClient, fake_stripe: FakeStripeServer
) -> None:
    _account, subscription = await subscribe(client, app, fake_stripe)
    customer = fake_stripe.subscriptions[subscription]["customer"]
    # A subscription without an id: applying it fails, every time.
    broken = fake_stripe.event(
        "customer.subscription.updated", {"customer": customer}, created=int(time.time()) + 60
    )
    await deliver(client, broken)
    assert await apply_pending_events(app.state.database, app.state.settings) == 0
    (event,) = [e for e in await stored_events(app) if e.id == broken.id]
    assert event.applied_at is None and event.attempts == 1
    assert event.last_error and event.next_attempt_at > utcnow()


async def test_without_a_key_billing_answers_503(
    database_url: str, tmp_path: Path, fake_stripe: FakeStripeServer
) -> None:
    from asgi_lifespan import LifespanManager

    from botskis.app import create_app

    plain = create_app(make_settings(database_url, tmp_path / "logs", worker_embedded=False))
    async with LifespanManager(plain):
        transport = httpx.ASGITransport(app=plain)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            account = await sign_up(client)
            calls = [
                client.get("/api/v1/billing", headers=account.headers),
                client.post(
                    "/api/v1/billing/checkout", headers=account.headers, json={"plan": "enterprise"}
                ),
                client.post("/api/v1/billing/portal", headers=account.headers),
            ]
            event = fake_stripe.event("invoice.paid", {"id": "in_1"})
            calls.append(client.post(WEBHOOK, content=event.payload, headers=event.headers))
            for response in await asyncio.gather(*calls):
                assert response.status_code == 503
                assert response.json()["title"] == "Billing is not configured"
            usage = await client.get("/api/v1/users/me/usage", headers=account.headers)
            assert usage.status_code == 200
    assert fake_stripe.requests == []


async def test_events_stored_while_no_worker_runs_are_applied_by_a_worker_process(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_stripe: FakeStripeServer,
    database_url: str,
    tmp_path: Path,
) -> None:
    """The API stores; a `botskis worker` killed with SIGKILL at some point of its
    work, then a fresh one, apply every event exactly once."""
    account = await sign_up(client)
    started = await client.post(
        "/api/v1/billing/checkout", headers=account.headers, json={"plan": "enterprise"}
    )
    events = fake_stripe.complete_checkout(started.json()["url"].rsplit("/", 1)[1])
    subscription = json.loads(events[1].payload)["data"]["object"]["id"]
    events += fake_stripe.fail_payment(subscription, created=int(time.time()) + 5)
    await deliver(client, *events)
    assert [e.applied_at for e in await stored_events(app)] == [None] * 5
    env = server_env(
        database_url,
        tmp_path / "worker-logs",
        STRIPE_SECRET_KEY=SECRET_KEY,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_PRICE_PROFESSIONAL=PRICE_PROFESSIONAL,
        STRIPE_PRICE_ENTERPRISE=PRICE_ENTERPRISE,
        STRIPE_API_BASE=fake_stripe.url,
        WORKER_POLL_SECONDS="0.2",
    )
    first = subprocess.Popen(
        [*BOTSKIS, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    await asyncio.sleep(1.0)
    first.kill()
    first.wait(timeout=30)
    second = subprocess.Popen(
        [*BOTSKIS, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while any(e.applied_at is None for e in await stored_events(app)):
            assert time.monotonic() < deadline, "the worker never applied the stored events"
            await asyncio.sleep(0.1)
    finally:
        second.terminate()
        second.wait(timeout=30)
    body = await billing(client, account)
    assert body["plan"] == "enterprise" and body["status"] == "past_due"
    assert sorted(i["status"] for i in body["invoices"]) == ["open", "paid"]
    async with app.state.database.transaction() as session:
        warnings = await session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.user_id == uuid.UUID(account.id))
        )
    assert warnings == 1
