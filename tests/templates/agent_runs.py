"""Deploying a template and running it the way its trigger says, through the API
(and, for schedules, through the scheduler every worker ticks)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from botskis.agents.models import Agent
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.execution.scheduler import fire_due_schedules
from tests.fakes.smtp_server import FakeSmtpServer
from tests.users.factories import Account, sign_up
from tests.users.mailbox import mails_to

FINISHED = ("succeeded", "failed", "cancelled")


async def sign_up_quietly(client: httpx.AsyncClient, smtp: FakeSmtpServer) -> Account:
    """Sign up, then take the account's verification mail out of the fake's inbox,
    so that what a test reads there is only what its agent sent."""
    account = await sign_up(client)
    await mails_to(smtp, account.email)
    smtp.reset()
    return account


async def store_credential(
    client: httpx.AsyncClient, account: Account, kind: str, secret: dict[str, Any]
) -> None:
    response = await client.post(
        "/api/v1/credentials",
        headers=account.headers,
        json={"kind": kind, "name": f"{kind} for tests", "secret": secret},
    )
    assert response.status_code == 201, response.text


async def deploy(
    client: httpx.AsyncClient, account: Account, slug: str, config: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/agents/deploy",
        headers=account.headers,
        json={"template_id": slug, "config": config},
    )
    assert response.status_code == 201, response.text
    agent: dict[str, Any] = response.json()
    assert agent["needs_credentials"] == [], agent["needs_credentials"]
    return agent


async def wait_for_run(
    client: httpx.AsyncClient, account: Account, run_id: str, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/api/v1/runs/{run_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        run: dict[str, Any] = response.json()
        if run["status"] in FINISHED:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} stayed {run['status']}")
        await asyncio.sleep(0.05)


async def run_manually(
    client: httpx.AsyncClient, account: Account, agent: dict[str, Any], payload: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/agents/{agent['id']}/run", headers=account.headers, json={"input": payload}
    )
    assert response.status_code == 202, response.text
    return await wait_for_run(client, account, response.json()["run_id"])


async def deliver_webhook(
    client: httpx.AsyncClient, account: Account, agent: dict[str, Any], payload: dict[str, Any]
) -> dict[str, Any]:
    """POST to the hook URL returned on deploy, as the sending service would."""
    assert agent["trigger"]["type"] == "webhook"
    url = httpx.URL(agent["webhook_url"])
    response = await client.post(url.path, json=payload)
    assert response.status_code == 202, response.text
    return await wait_for_run(client, account, response.json()["run_id"])


async def fire_schedule(
    app: FastAPI, client: httpx.AsyncClient, account: Account, agent: dict[str, Any]
) -> dict[str, Any]:
    """Make the agent's schedule due now and tick the scheduler, as a worker does."""
    assert agent["trigger"]["type"] == "schedule"
    database: Database = app.state.database
    async with database.transaction() as session:
        row = await session.get(Agent, uuid.UUID(agent["id"]))
        assert row is not None
        row.next_run_at = utcnow() - timedelta(seconds=1)
    await fire_due_schedules(database, app.state.settings)
    deadline = time.monotonic() + 10
    while True:
        listed = await client.get(f"/api/v1/agents/{agent['id']}/runs", headers=account.headers)
        assert listed.status_code == 200, listed.text
        runs = listed.json()["items"]
        if runs:
            assert len(runs) == 1, runs
            assert runs[0]["trigger"] == "schedule"
            return await wait_for_run(client, account, runs[0]["id"])
        if time.monotonic() > deadline:
            raise AssertionError("the schedule did not fire")
        await asyncio.sleep(0.05)


def step_statuses(run: dict[str, Any]) -> dict[str, str]:
    return {step["step_id"]: step["status"] for step in run["steps"]}
