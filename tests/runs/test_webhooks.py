from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.agents.models import Agent
from botskis.config import Settings
from botskis.runs.models import Run
from tests.conftest import make_settings
from tests.databases import on_postgres
from tests.fakes.vendor_server import FakeVendorServer
from tests.runs.conftest import FAST_WORKER
from tests.runs.factories import create_agent
from tests.runs.helpers import wait_for_api_run
from tests.users.factories import Account, sign_up


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url, tmp_path / "logs", **FAST_WORKER, webhook_rate_limit_per_minute=5
    )


FORWARD_CONFIG = {
    "method": "POST",
    "headers": {},
    "include_fields": ["order"],
    "extra_fields": {},
    "required_fields": [],
    "match_field": "",
    "match_value": "",
    "notify_on_delivery": False,
}


async def _webhook_agent(
    app: FastAPI, client: httpx.AsyncClient, vendor: FakeVendorServer
) -> tuple[Account, Agent, str]:
    account = await sign_up(client)
    token = secrets.token_urlsafe(24)
    agent = await create_agent(
        app.state.database,
        account.id,
        config={**FORWARD_CONFIG, "target_url": f"{vendor.url}/hook-target"},
        trigger={"type": "webhook"},
        webhook_token=token,
    )
    return account, agent, token


async def test_webhook_is_stored_then_run_with_the_payload_as_input(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    response = await client.post(f"/api/v1/hooks/{token}", json={"order": 42, "secret": "x"})
    assert response.status_code == 202, response.text
    run = await wait_for_api_run(client, account.headers, response.json()["run_id"])
    assert run["status"] == "succeeded" and run["trigger"] == "webhook"
    assert run["input"] == {"order": 42, "secret": "x"}
    (delivered,) = fake_vendor.requests_to("/hook-target")
    assert delivered.json == {"order": 42}


async def test_repeated_event_id_returns_the_same_run(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    _account, agent, token = await _webhook_agent(app, client, fake_vendor)
    headers = {"X-Event-Id": "evt_123"}
    first = await client.post(f"/api/v1/hooks/{token}", json={"order": 1}, headers=headers)
    second = await client.post(f"/api/v1/hooks/{token}", json={"order": 1}, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["run_id"] == second.json()["run_id"]
    async with app.state.database.transaction() as session:
        count = await session.scalar(
            sa.select(sa.func.count()).select_from(Run).where(Run.agent_id == agent.id)
        )
    assert count == 1


async def test_unknown_token_is_404_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    await _webhook_agent(app, client, fake_vendor)
    response = await client.post(f"/api/v1/hooks/{secrets.token_urlsafe(24)}", json={"a": 1})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    async with app.state.database.transaction() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Run)) == 0


async def test_token_of_an_agent_no_longer_on_webhooks_is_404(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    _account, agent, token = await _webhook_agent(app, client, fake_vendor)
    async with app.state.database.transaction() as session:
        await session.execute(
            sa.update(Agent).where(Agent.id == agent.id).values(trigger={"type": "manual"})
        )
    assert (await client.post(f"/api/v1/hooks/{token}", json={})).status_code == 404


async def test_oversized_and_malformed_bodies_are_refused(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    _account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    big = b'{"x": "' + b"a" * (256 * 1024) + b'"}'
    too_big = await client.post(
        f"/api/v1/hooks/{token}", content=big, headers={"Content-Type": "application/json"}
    )
    assert too_big.status_code == 413
    broken = await client.post(
        f"/api/v1/hooks/{token}", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    just_fits = b'{"x": "' + b"a" * (256 * 1024 - 20) + b'"}'
    accepted = await client.post(
        f"/api/v1/hooks/{token}", content=just_fits, headers={"Content-Type": "application/json"}
    )
    assert accepted.status_code == 202


async def test_non_object_payload_is_wrapped_under_body(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    response = await client.post(f"/api/v1/hooks/{token}", json=[1, 2, 3])
    assert response.status_code == 202
    run = await wait_for_api_run(client, account.headers, response.json()["run_id"])
    assert run["input"] == {"body": [1, 2, 3]}


async def test_paused_agent_refuses_deliveries(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    _account, agent, token = await _webhook_agent(app, client, fake_vendor)
    async with app.state.database.transaction() as session:
        await session.execute(sa.update(Agent).where(Agent.id == agent.id).values(status="paused"))
    assert (await client.post(f"/api/v1/hooks/{token}", json={})).status_code == 409


@pytest.mark.skipif(not on_postgres(), reason="concurrent writers need PostgreSQL")
async def test_per_agent_rate_limit_holds_for_concurrent_deliveries(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    """Twenty deliveries at once against a limit of five: exactly five runs."""
    limit = app.state.settings.webhook_rate_limit_per_minute
    _account, agent, token = await _webhook_agent(app, client, fake_vendor)
    responses = await asyncio.gather(
        *(client.post(f"/api/v1/hooks/{token}", json={"i": index}) for index in range(20))
    )
    assert sorted(r.status_code for r in responses) == [202] * limit + [429] * (20 - limit)
    async with app.state.database.transaction() as session:
        stored = await session.scalar(
            sa.select(sa.func.count()).select_from(Run).where(Run.agent_id == agent.id)
        )
    assert stored == limit


async def test_per_agent_rate_limit_is_429(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    limit = app.state.settings.webhook_rate_limit_per_minute
    assert limit == 5
    _account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    _other_account, _other, other_token = await _webhook_agent(app, client, fake_vendor)
    for index in range(limit):
        accepted = await client.post(f"/api/v1/hooks/{token}", json={"i": index})
        assert accepted.status_code == 202, (index, accepted.text)
    limited = await client.post(f"/api/v1/hooks/{token}", json={"i": "over"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
    assert (await client.post(f"/api/v1/hooks/{other_token}", json={})).status_code == 202
