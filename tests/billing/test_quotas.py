import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.billing.errors import RunQuotaExceeded
from botskis.billing.service import admit_run, month_bounds, month_of
from botskis.database.base import utcnow
from botskis.realtime.events import emit
from botskis.realtime.models import LoggedEvent
from botskis.users.models import User
from tests.agents.factories import deploy
from tests.billing.factories import runs_used, set_plan, set_runs_used
from tests.databases import on_postgres
from tests.users.factories import Account, sign_up


def test_month_bounds_cover_the_calendar_month_in_utc() -> None:
    start, end = month_bounds(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert start == datetime(2026, 12, 1, tzinfo=UTC) and end == datetime(2027, 1, 1, tzinfo=UTC)
    start, end = month_bounds(datetime(2026, 2, 10, tzinfo=UTC))
    assert (start.month, end.month) == (2, 3)


async def test_new_user_is_on_starter_with_its_limits(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    usage = await client.get("/api/v1/users/me/usage", headers=account.headers)
    assert usage.status_code == 200
    body = usage.json()
    assert body["plan"] == "starter"
    assert body["limits"] == {"agents": 5, "runs_per_month": 1000}
    assert body["agents_used"] == 0 and body["runs_this_month"] == 0


async def test_usage_counts_agents_and_this_months_runs_from_the_ledger(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    other = await sign_up(client)
    await deploy(client, account)
    await deploy(client, other)
    database = app.state.database
    now = utcnow()
    await set_runs_used(database, account.id, 3)
    await set_runs_used(
        database, account.id, 40, month_of(month_bounds(now)[0] - timedelta(days=1))
    )
    await set_runs_used(database, other.id, 4)
    body = (await client.get("/api/v1/users/me/usage", headers=account.headers)).json()
    assert body["agents_used"] == 1
    assert body["runs_this_month"] == 3


async def test_deploying_past_the_agent_limit_is_403(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    for _ in range(5):
        await deploy(client, account)
    response = await client.post(
        "/api/v1/agents/deploy",
        headers=account.headers,
        json={"template_id": "payment-reminder-bot", "config": {}},
    )
    assert response.status_code == 403
    body = response.json()
    assert body["plan"] == "starter" and body["limit"] == 5
    listed = await client.get("/api/v1/agents", headers=account.headers)
    assert listed.json()["total"] == 5


async def test_deleting_an_agent_frees_a_slot(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    agents = [await deploy(client, account) for _ in range(5)]
    await client.delete(f"/api/v1/agents/{agents[0]['id']}", headers=account.headers)
    await deploy(client, account)


@pytest.mark.parametrize(("plan", "limit"), [("professional", 20), ("enterprise", None)])
async def test_bigger_plans_have_bigger_limits(
    client: httpx.AsyncClient, app: FastAPI, plan: str, limit: int | None
) -> None:
    account = await sign_up(client)
    await set_plan(app.state.database, account.id, plan)
    for _ in range(6):
        await deploy(client, account)
    usage = (await client.get("/api/v1/users/me/usage", headers=account.headers)).json()
    assert usage["plan"] == plan and usage["limits"]["agents"] == limit
    assert usage["agents_used"] == 6


async def test_run_quota_stops_at_the_monthly_limit(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    user_id = uuid.UUID(account.id)
    await set_runs_used(app.state.database, account.id, 999)
    async with app.state.database.transaction() as session:
        assert await admit_run(session, user_id) == 1000
    async with app.state.database.transaction() as session:
        with pytest.raises(RunQuotaExceeded) as error:
            await admit_run(session, user_id)
    assert error.value.status == 403
    assert error.value.extra == {"plan": "starter", "limit": 1000}
    assert await runs_used(app.state.database, account.id) == 1000
    await set_plan(app.state.database, account.id, "enterprise")
    async with app.state.database.transaction() as session:
        assert await admit_run(session, user_id) == 1001


async def test_a_run_counted_without_enforcing_passes_the_limit(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    await set_runs_used(app.state.database, account.id, 1000)
    async with app.state.database.transaction() as session:
        assert await admit_run(session, uuid.UUID(account.id), enforce=False) == 1001


async def test_usage_needs_auth(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/users/me/usage")).status_code == 401


async def make_superuser(app: FastAPI, account: Account) -> None:
    async with app.state.database.transaction() as session:
        await session.execute(
            sa.update(User).where(User.id == uuid.UUID(account.id)).values(is_superuser=True)
        )


async def test_superuser_changes_a_users_plan(client: httpx.AsyncClient, app: FastAPI) -> None:
    admin, customer = await sign_up(client), await sign_up(client)
    await make_superuser(app, admin)
    response = await client.put(
        f"/api/v1/users/{customer.id}/plan", headers=admin.headers, json={"plan": "professional"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["limits"] == {"agents": 20, "runs_per_month": 10000}
    usage = (await client.get("/api/v1/users/me/usage", headers=customer.headers)).json()
    assert usage["plan"] == "professional"


async def test_plan_change_needs_a_superuser_a_known_plan_and_user(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    admin, customer = await sign_up(client), await sign_up(client)
    url = f"/api/v1/users/{customer.id}/plan"
    own = await client.put(url, headers=customer.headers, json={"plan": "enterprise"})
    assert own.status_code == 403
    assert (await client.put(url, json={"plan": "enterprise"})).status_code == 401
    await make_superuser(app, admin)
    bad = await client.put(url, headers=admin.headers, json={"plan": "platinum"})
    assert bad.status_code == 422
    missing = await client.put(
        f"/api/v1/users/{uuid.uuid4()}/plan", headers=admin.headers, json={"plan": "starter"}
    )
    assert missing.status_code == 404
    usage = (await client.get("/api/v1/users/me/usage", headers=customer.headers)).json()
    assert usage["plan"] == "starter"


@pytest.mark.skipif(not on_postgres(), reason="row locks between writers are PostgreSQL's")
async def test_a_held_quota_lock_does_not_block_events_for_that_user(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A run request holds the user's quota lock until it commits, and at commit
    takes the user's replay-log cursor. A worker emitting an event for the same
    user meanwhile takes the cursor and then inserts into the log, whose foreign
    key touches the user row: if the quota lock blocked that, the two would
    deadlock. The worker must get through while the quota lock is held."""
    account = await sign_up(client)
    user_id = uuid.UUID(account.id)
    database = app.state.database

    async def worker_emits() -> None:
        async with database.transaction() as session:
            emit(session, user_id, "notification", id="n1", level="info", title="t", message="m")

    async with database.transaction() as request:
        await admit_run(request, user_id)
        await asyncio.wait_for(worker_emits(), timeout=10)
        emit(request, user_id, "run_update", run_id="r1", status="queued")

    async with database.transaction() as session:
        logged = await session.scalars(
            sa.select(LoggedEvent.type)
            .where(LoggedEvent.user_id == user_id)
            .order_by(LoggedEvent.seq)
        )
        assert list(logged)[-2:] == ["notification", "run_update"]
