"""Statuses are StrEnums end to end: the database hands back enum members, so
code comparing or assigning a status is checked by mypy, while the wire format
stays the plain string."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from botskis.agents.models import AgentStatus
from botskis.runs.models import RunStatus, StepStatus
from tests.runs.factories import THREE_STEPS, create_agent, load_agent, load_steps, queue_run
from tests.runs.helpers import wait_for_run
from tests.users.factories import sign_up


async def test_statuses_load_as_enum_members(client: httpx.AsyncClient, app: FastAPI) -> None:
    database = app.state.database
    account = await sign_up(client)
    agent = await create_agent(database, account.id)
    run_id = await queue_run(database, agent, THREE_STEPS, input={"n": 2})
    run = await wait_for_run(database, run_id)
    assert run.status is RunStatus.SUCCEEDED
    assert (await load_agent(database, agent.id)).status is AgentStatus.ACTIVE
    steps = await load_steps(database, run_id)
    assert steps and all(type(step.status) is StepStatus for step in steps)
    body = (await client.get(f"/api/v1/runs/{run_id}", headers=account.headers)).json()
    assert body["status"] == "succeeded"
    assert {step["status"] for step in body["steps"]} <= {"succeeded", "skipped"}
