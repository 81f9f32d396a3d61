"""Healing: counting an agent's outcomes, marking it failing, probing it back.

After `AGENT_FAILURE_THRESHOLD` consecutive failed runs an active agent goes
`failing`: its schedule stops firing, the owner is notified, and a probe run is
queued after a cool-down that doubles after each failed probe (capped). Any
successful run of a failing agent (the probe, a manual run after the owner
fixed the cause, or a webhook delivery) makes it active again.

A failing webhook agent keeps accepting deliveries and runs each one: a sender
that meets a 4xx drops the delivery for good (SendGrid's inbound parse does),
so refusing would lose the very input the owner needs once the cause is fixed,
while a stored run that failed can be retried.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from loguru import logger
from sqlalchemy import case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents.models import Agent, AgentStatus
from botskis.agents.triggers import next_run_at
from botskis.billing.service import admit_run
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.notifications.service import create_notification
from botskis.realtime.events import emit
from botskis.runs.models import AgentHealing, Run, RunStatus
from botskis.runs.service import enqueue_run


async def notify_owner(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    level: str,
    title: str,
    message: str,
    agent_id: uuid.UUID | None = None,
) -> None:
    await create_notification(
        session, user_id, level=level, title=title, message=message, agent_id=agent_id
    )


def _agent_update(session: AsyncSession, agent: Agent) -> None:
    emit(
        session,
        agent.owner_id,
        "agent_update",
        agent_id=agent.id,
        data={"status": agent.status, "name": agent.name, "status_reason": agent.status_reason},
    )


async def record_outcomes(session: AsyncSession, settings: Settings, runs: list[Run]) -> None:
    """Update the agents' counters for finished runs and apply the healing rules,
    with one UPDATE per round.

    A round holds at most one run per agent, so an agent's runs still count in
    order, each seeing the counters its predecessor left (as one UPDATE per run
    would); usually every run of a worker's batch belongs to another agent and
    the whole batch is a single round.
    """
    rounds: list[dict[uuid.UUID, Run]] = []
    for run in runs:
        if run.status not in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            continue
        for round_ in rounds:
            if run.agent_id not in round_:
                round_[run.agent_id] = run
                break
        else:
            rounds.append({run.agent_id: run})
    for round_ in rounds:
        await _count_round(session, settings, round_)


async def _count_round(
    session: AsyncSession, settings: Settings, runs: dict[uuid.UUID, Run]
) -> None:
    succeeded = [agent_id for agent_id, run in runs.items() if run.status == RunStatus.SUCCEEDED]
    errors = {
        agent_id: f"{run.error_kind}: {run.error_message}"[:2000]
        for agent_id, run in runs.items()
        if run.status != RunStatus.SUCCEEDED
    }
    is_success = Agent.id.in_(succeeded)
    values: dict[str, object] = {
        "total_runs": Agent.total_runs + 1,
        "last_run_at": utcnow(),
        "successful_runs": Agent.successful_runs + case((is_success, 1), else_=0),
        "failed_runs": Agent.failed_runs + case((is_success, 0), else_=1),
        "consecutive_failures": case((is_success, 0), else_=Agent.consecutive_failures + 1),
    }
    if errors:
        values["last_error"] = case(errors, value=Agent.id, else_=Agent.last_error)
    if len(runs) > 1:
        # Lock in id order first: an UPDATE locks in plan order, and two workers'
        # batches sharing agents must not wait on each other in a cycle.
        await session.execute(
            select(Agent.id)
            .where(Agent.id.in_(list(runs)))
            .order_by(Agent.id)
            .with_for_update(key_share=True)
        )
    counted = await session.execute(
        update(Agent)
        .where(Agent.id.in_(list(runs)))
        .values(**values)
        .returning(Agent.id, Agent.status, Agent.consecutive_failures)
        .execution_options(synchronize_session=False)
    )
    for agent_id, status, failures in counted.all():
        run = runs[agent_id]
        ok = run.status == RunStatus.SUCCEEDED
        changes = (
            (ok and status == AgentStatus.FAILING)
            or (status == AgentStatus.ACTIVE and failures >= settings.agent_failure_threshold)
            or (status == AgentStatus.FAILING and run.trigger == "probe")
        )
        if changes:
            await _apply_rules(session, settings, run)


async def _apply_rules(session: AsyncSession, settings: Settings, run: Run) -> None:
    """The agent's status changes with this outcome: failing, recovered or probed."""
    agent = await session.scalar(
        select(Agent).where(Agent.id == run.agent_id).execution_options(populate_existing=True)
    )
    if agent is None:
        return
    if run.status == RunStatus.SUCCEEDED:
        await _recovered(session, agent)
    elif (
        agent.status == AgentStatus.ACTIVE
        and agent.consecutive_failures >= settings.agent_failure_threshold
    ):
        await _mark_failing(session, settings, agent)
    elif agent.status == AgentStatus.FAILING and run.trigger == "probe":
        await _probe_failed(session, settings, agent)


async def _mark_failing(session: AsyncSession, settings: Settings, agent: Agent) -> None:
    cooldown = _whole_seconds(settings.agent_probe_cooldown_seconds)
    agent.status = AgentStatus.FAILING
    agent.next_run_at = None
    agent.status_reason = (
        f"{agent.consecutive_failures} consecutive runs failed; last error: {agent.last_error}"
    )[:500]
    await session.execute(delete(AgentHealing).where(AgentHealing.agent_id == agent.id))
    session.add(
        AgentHealing(
            agent_id=agent.id,
            probe_at=utcnow() + timedelta(seconds=cooldown),
            cooldown_seconds=cooldown,
        )
    )
    await session.flush()
    _agent_update(session, agent)
    await notify_owner(
        session,
        agent.owner_id,
        level="error",
        title=f"{agent.name} is failing",
        message=(
            f"{agent.status_reason}. {while_failing(agent.trigger)} A test run will be "
            f"tried in {int(cooldown)} s and the agent is active again when any run succeeds."
        ),
        agent_id=agent.id,
    )
    logger.bind(agent_id=str(agent.id)).warning("agent marked failing")


async def _probe_failed(session: AsyncSession, settings: Settings, agent: Agent) -> None:
    healing = await session.get(AgentHealing, agent.id)
    current = healing.cooldown_seconds if healing else settings.agent_probe_cooldown_seconds
    cooldown = _whole_seconds(min(settings.agent_probe_max_cooldown_seconds, current * 2))
    if healing is None:
        healing = AgentHealing(agent_id=agent.id, cooldown_seconds=0, probe_at=utcnow())
        session.add(healing)
    healing.cooldown_seconds = cooldown
    healing.probe_at = utcnow() + timedelta(seconds=cooldown)
    healing.probe_run_id = None


def while_failing(trigger: dict[str, object]) -> str:
    """What still runs a failing agent, by its trigger type."""
    kind = trigger.get("type")
    if kind == "schedule":
        return "Its schedule is stopped."
    if kind == "webhook":
        return (
            "Its webhook still accepts deliveries and runs each one; "
            "failed runs can be retried once the cause is fixed."
        )
    return "It still runs when you start it."


def _resumed(trigger: dict[str, object]) -> str:
    return " and its schedule resumed" if trigger.get("type") == "schedule" else " again"


def _whole_seconds(seconds: float) -> int:
    return max(1, round(seconds))


async def _recovered(session: AsyncSession, agent: Agent) -> None:
    await session.execute(delete(AgentHealing).where(AgentHealing.agent_id == agent.id))
    if agent.status != AgentStatus.FAILING:
        return
    agent.status = AgentStatus.ACTIVE
    agent.status_reason = None
    agent.next_run_at = next_run_at(agent.trigger, utcnow())
    _agent_update(session, agent)
    await notify_owner(
        session,
        agent.owner_id,
        level="success",
        title=f"{agent.name} recovered",
        message=f"A run succeeded again; the agent is active{_resumed(agent.trigger)}.",
        agent_id=agent.id,
    )
    logger.bind(agent_id=str(agent.id)).info("agent recovered")


async def queue_due_probes(database: Database) -> int:
    """Queue one probe run per failing agent whose cool-down has passed.

    The probe slot is claimed with a conditional update, so however many
    workers run this, each due probe is queued once."""
    now = utcnow()
    async with database.transaction() as session:
        due = list(
            await session.scalars(
                select(AgentHealing.agent_id)
                .join(Agent, Agent.id == AgentHealing.agent_id)
                .where(
                    AgentHealing.probe_at <= now,
                    AgentHealing.probe_run_id.is_(None),
                    Agent.status == AgentStatus.FAILING,
                )
                .limit(100)
            )
        )
    queued = 0
    for agent_id in due:
        async with database.transaction() as session:
            run_id = uuid.uuid4()
            claimed = await session.execute(
                update(AgentHealing)
                .where(AgentHealing.agent_id == agent_id, AgentHealing.probe_run_id.is_(None))
                .values(probe_run_id=run_id)
                .execution_options(synchronize_session=False)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                continue
            agent = await session.get(Agent, agent_id)
            if agent is None:
                continue
            # The probe repeats the last failure: same input, same workflow snapshot.
            last_failed = await session.scalar(
                select(Run)
                .where(Run.agent_id == agent_id, Run.status == RunStatus.FAILED)
                .order_by(Run.created_at.desc())
                .limit(1)
            )
            # Counted in the ledger, never refused: the probe is the platform's
            # check on whether the agent recovered, and one per cool-down at most.
            await admit_run(session, agent.owner_id, enforce=False)
            run = await enqueue_run(
                session,
                agent,
                trigger="probe",
                input=dict(last_failed.input) if last_failed else {},
                workflow=last_failed.workflow if last_failed else None,
            )
            await session.execute(
                update(AgentHealing)
                .where(AgentHealing.agent_id == agent_id)
                .values(probe_run_id=run.id)
                .execution_options(synchronize_session=False)
            )
            queued += 1
    return queued
