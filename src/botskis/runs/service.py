"""Queueing, reading, cancelling and retrying runs; accepting webhooks.

A run is queued by inserting its row; the caller's transaction commits it and
only then are workers woken (see `runtime.wakeup`), so a worker never sees a
run that could still roll back, and a lost wake-up is caught by the poll.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents.models import Agent, AgentStatus
from botskis.agents.service import get_owned_agent, hash_token
from botskis.analytics.rollups import add_finished_runs, finished_run
from botskis.billing.service import admit_run
from botskis.config import Settings
from botskis.core.pagination import PageParams, fetch_page
from botskis.database.base import utcnow
from botskis.marketplace.catalog import get_catalog
from botskis.queue.wakeup import wake_workers_after_commit
from botskis.realtime.events import emit
from botskis.runs.errors import (
    AgentPaused,
    RunNotCancellable,
    RunNotFound,
    RunNotRetryable,
    TemplateUnavailable,
    WebhookNotFound,
    WebhookRateLimited,
)
from botskis.runs.models import Run, RunStatus, RunStep

# A run list's `total` stops counting here (the page itself is never cut).
RUNS_TOTAL_CAP = 1_000
IDEMPOTENCY_WINDOW = timedelta(hours=24)


def workflow_snapshot(template_slug: str) -> dict[str, Any]:
    template = get_catalog().get(template_slug)
    if template is None:
        raise TemplateUnavailable(template_slug)
    snapshot: dict[str, Any] = template.workflow.model_dump(mode="json")
    return snapshot


def run_update(
    session: AsyncSession, run: Run, *, status: RunStatus | None = None, **fields: Any
) -> None:
    emit(
        session,
        run.owner_id,
        "run_update",
        agent_id=run.agent_id,
        run_id=str(run.id),
        status=status or run.status,
        **fields,
    )


async def enqueue_run(
    session: AsyncSession,
    agent: Agent,
    *,
    trigger: str,
    input: dict[str, Any] | None = None,
    workflow: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    event_id: str | None = None,
    retry_of_id: uuid.UUID | None = None,
) -> Run:
    """Insert a queued run; workers are woken when the caller's transaction commits."""
    run = Run(
        id=uuid.uuid4(),
        agent_id=agent.id,
        owner_id=agent.owner_id,
        template_slug=agent.template_slug,
        trigger=trigger,
        status=RunStatus.QUEUED,
        input=input or {},
        workflow=workflow if workflow is not None else workflow_snapshot(agent.template_slug),
        idempotency_key=idempotency_key,
        event_id=event_id,
        retry_of_id=retry_of_id,
        queued_at=utcnow(),
    )
    session.add(run)
    await session.flush()
    run_update(session, run)
    await wake_workers_after_commit(session)
    return run


async def request_run(
    session: AsyncSession,
    owner_id: uuid.UUID,
    agent_id: uuid.UUID,
    *,
    input: dict[str, Any],
    idempotency_key: str | None = None,
) -> Run:
    """A manual run. The same Idempotency-Key within 24 h returns the same run."""
    agent = await get_owned_agent(session, owner_id, agent_id)
    if idempotency_key is not None:
        existing = await session.scalar(
            select(Run)
            .where(Run.agent_id == agent.id, Run.idempotency_key == idempotency_key)
            # NO KEY UPDATE: the worker's step inserts (KEY SHARE on the run) go on.
            .with_for_update(key_share=True)
        )
        if existing is not None:
            if existing.created_at >= utcnow() - IDEMPOTENCY_WINDOW:
                return existing
            existing.idempotency_key = None
            await session.flush()
    if agent.status == AgentStatus.PAUSED:
        raise AgentPaused()
    await admit_run(session, owner_id)
    return await enqueue_run(
        session, agent, trigger="manual", input=input, idempotency_key=idempotency_key
    )


async def get_owned_run(session: AsyncSession, owner_id: uuid.UUID, run_id: uuid.UUID) -> Run:
    run = await session.scalar(select(Run).where(Run.id == run_id, Run.owner_id == owner_id))
    if run is None:
        raise RunNotFound()
    return run


async def run_steps(session: AsyncSession, run_id: uuid.UUID) -> list[RunStep]:
    rows = await session.scalars(
        select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.position)
    )
    return list(rows)


async def list_runs(
    session: AsyncSession,
    owner_id: uuid.UUID,
    agent_id: uuid.UUID,
    page: PageParams,
    *,
    status: RunStatus | None = None,
) -> tuple[list[Run], int]:
    """A page of the agent's runs, newest first, and how many there are, counted
    up to `RUNS_TOTAL_CAP`: the count walks an index, and stopping there keeps
    a page as cheap with 100,000 runs of history as with 10."""
    agent = await get_owned_agent(session, owner_id, agent_id)
    query = select(Run).where(Run.agent_id == agent.id)
    if status is not None:
        query = query.where(Run.status == status)
    return await fetch_page(
        session, query, (Run.created_at.desc(), Run.id.desc()), page, count_cap=RUNS_TOTAL_CAP
    )


async def cancel_run(
    session: AsyncSession, settings: Settings, owner_id: uuid.UUID, run_id: uuid.UUID
) -> Run:
    """Cancel a queued or running run; a running one stops before its next step.
    The conditional UPDATE finishes it once: a second cancel, or the worker's
    own finish, finds it no longer queued or running."""
    run = await get_owned_run(session, owner_id, run_id)
    now = utcnow()
    result = await session.execute(
        update(Run)
        .where(Run.id == run.id, Run.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)))
        .values(status=RunStatus.CANCELLED, finished_at=now, worker_id=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(run)
    if getattr(result, "rowcount", 0) == 0:
        raise RunNotCancellable(run.status)
    if run.started_at is not None:
        run.duration_ms = _millis(now - run.started_at)
    await add_finished_runs(
        session,
        [finished_run(run)],
        price_per_million_tokens=settings.llm_price_per_million_tokens,
    )
    run_update(session, run)
    return run


async def retry_run(session: AsyncSession, owner_id: uuid.UUID, run_id: uuid.UUID) -> Run:
    """A new run with the same input; the failed one stays as it was."""
    run = await get_owned_run(session, owner_id, run_id)
    if run.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
        raise RunNotRetryable(run.status)
    agent = await get_owned_agent(session, owner_id, run.agent_id)
    if agent.status == AgentStatus.PAUSED:
        raise AgentPaused()
    await admit_run(session, owner_id)
    return await enqueue_run(
        session, agent, trigger="retry", input=dict(run.input), retry_of_id=run.id
    )


async def accept_webhook(
    session: AsyncSession,
    settings: Settings,
    token: str,
    payload: dict[str, Any],
    *,
    event_id: str | None = None,
) -> Run:
    """Store a delivery as a queued run. Lookup is by the token's hash, so a
    known and an unknown token cost the same indexed query."""
    # No row lock on the agent: a delivery must not wait behind (or deadlock with)
    # the worker updating the agent's counters. The owner's quota lock (taken
    # first, on PostgreSQL) serialises the owner's deliveries instead, so the
    # per-agent count below is exact; a duplicate X-Event-Id hits the unique key.
    agent = await session.scalar(select(Agent).where(Agent.webhook_token_hash == hash_token(token)))
    if agent is None or agent.trigger.get("type") != "webhook":
        raise WebhookNotFound()
    if event_id is not None:
        existing = await session.scalar(
            select(Run).where(Run.agent_id == agent.id, Run.event_id == event_id)
        )
        if existing is not None:
            return existing
    if agent.status == AgentStatus.PAUSED:
        raise AgentPaused()
    await admit_run(session, agent.owner_id)
    since = utcnow() - timedelta(minutes=1)
    recent = await session.scalar(
        select(func.count())
        .select_from(Run)
        .where(Run.agent_id == agent.id, Run.trigger == "webhook", Run.created_at >= since)
    )
    if (recent or 0) >= settings.webhook_rate_limit_per_minute:
        raise WebhookRateLimited(settings.webhook_rate_limit_per_minute)
    return await enqueue_run(session, agent, trigger="webhook", input=payload, event_id=event_id)


def _millis(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() * 1000))


def elapsed_ms(since: datetime, until: datetime | None = None) -> int:
    return _millis((until or utcnow()) - since)
