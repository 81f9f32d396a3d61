"""Agents and runs for runtime tests, written straight to the database so each
test controls the exact workflow, limits and trigger it needs."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from sqlalchemy import select

from botskis.agents.models import Agent
from botskis.database.connection import Database
from botskis.runs import service
from botskis.runs.models import Run, RunStep

THREE_STEPS: dict[str, Any] = {
    "steps": [
        {"id": "double", "kind": "transform", "params": {"values": {"n": "{{ input.n * 2 }}"}}},
        {
            "id": "gate",
            "kind": "filter",
            "params": {"condition": "{{ steps.double.output.n >= 0 }}", "reason": "negative"},
        },
        {
            "id": "label",
            "kind": "transform",
            "params": {"values": {"text": "n={{ steps.double.output.n }}"}},
        },
    ]
}


def http_workflow(base_url: str, *paths: str, max_attempts: int = 3) -> dict[str, Any]:
    """One http POST step per path, each step posting the previous step's status."""
    return {
        "steps": [
            {
                "id": f"call_{index}",
                "kind": "http",
                "params": {"method": "POST", "url": f"{base_url}{path}", "json": {"n": index}},
                "retry": {"max_attempts": max_attempts, "backoff_seconds": 0.05},
            }
            for index, path in enumerate(paths)
        ]
    }


async def create_agent(
    database: Database,
    owner_id: str | uuid.UUID,
    *,
    template_slug: str = "zapier-alternative",
    config: dict[str, Any] | None = None,
    trigger: dict[str, Any] | None = None,
    webhook_token: str | None = None,
    **columns: Any,
) -> Agent:
    async with database.transaction() as session:
        agent = Agent(
            id=uuid.uuid4(),
            owner_id=uuid.UUID(str(owner_id)),
            template_slug=template_slug,
            name=columns.pop("name", f"agent-{secrets.token_hex(3)}"),
            config=config or {},
            trigger=trigger or {"type": "manual"},
            webhook_token_hash=(
                hashlib.sha256(webhook_token.encode()).hexdigest() if webhook_token else None
            ),
            **columns,
        )
        session.add(agent)
    return agent


async def queue_run(
    database: Database,
    agent: Agent,
    workflow: dict[str, Any],
    *,
    input: dict[str, Any] | None = None,
    trigger: str = "manual",
) -> uuid.UUID:
    async with database.transaction() as session:
        fresh = await session.get(Agent, agent.id)
        assert fresh is not None
        run = await service.enqueue_run(
            session, fresh, trigger=trigger, input=input or {}, workflow=workflow
        )
        return run.id


async def load_run(database: Database, run_id: uuid.UUID) -> Run:
    async with database.transaction() as session:
        run = await session.get(Run, run_id)
        assert run is not None
        return run


async def load_steps(database: Database, run_id: uuid.UUID) -> list[RunStep]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.position)
        )
        return list(rows)


async def load_agent(database: Database, agent_id: uuid.UUID) -> Agent:
    async with database.transaction() as session:
        agent = await session.get(Agent, agent_id)
        assert agent is not None
        return agent
