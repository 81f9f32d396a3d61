"""Plan quotas: how many agents a user may have and runs a user may start per month."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents.models import Agent
from botskis.billing.errors import AgentQuotaExceeded, RunQuotaExceeded, UserNotFound
from botskis.billing.plans import plan_of
from botskis.billing.schemas import Limits, Usage
from botskis.database.base import utcnow
from botskis.runs.models import Run
from botskis.users.models import User


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) containing `now`: [start, next month's start)."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        return start, start.replace(year=start.year + 1, month=1)
    return start, start.replace(month=start.month + 1)


async def _locked_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    # Row lock on PostgreSQL: concurrent deploys/runs of one user count one after another.
    # FOR NO KEY UPDATE, not FOR UPDATE: rows referencing the user (runs, the replay
    # log) take KEY SHARE on it, and a full FOR UPDATE would make a worker's event
    # insert wait on this lock while this transaction waits on the worker's cursor
    # row at commit, a deadlock.
    statement = select(User).where(User.id == user_id).with_for_update(key_share=True)
    user = await session.scalar(statement)
    if user is None:
        raise LookupError(f"user {user_id} does not exist")
    return user


async def count_agents(session: AsyncSession, user_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(Agent).where(Agent.owner_id == user_id)
    return await session.scalar(query) or 0


async def count_runs_this_month(session: AsyncSession, user_id: uuid.UUID) -> int:
    start, end = month_bounds(utcnow())
    query = (
        select(func.count())
        .select_from(Run)
        .where(Run.owner_id == user_id, Run.created_at >= start, Run.created_at < end)
    )
    return await session.scalar(query) or 0


async def check_agent_quota(session: AsyncSession, user_id: uuid.UUID, *, adding: int = 1) -> None:
    """Raise AgentQuotaExceeded unless the user may own `adding` more agents."""
    user = await _locked_user(session, user_id)
    plan = plan_of(user.plan)
    if plan.max_agents is None:
        return
    if await count_agents(session, user_id) + adding > plan.max_agents:
        raise AgentQuotaExceeded(plan.name, plan.max_agents)


async def check_run_quota(session: AsyncSession, user_id: uuid.UUID) -> None:
    """May this user start another run? Raises RunQuotaExceeded when not."""
    user = await _locked_user(session, user_id)
    plan = plan_of(user.plan)
    if plan.max_runs_per_month is None:
        return
    if await count_runs_this_month(session, user_id) >= plan.max_runs_per_month:
        raise RunQuotaExceeded(plan.name, plan.max_runs_per_month)


async def usage(session: AsyncSession, user_id: uuid.UUID, plan_name: str) -> Usage:
    plan = plan_of(plan_name)
    start, end = month_bounds(utcnow())
    return Usage(
        plan=plan.name,
        limits=Limits(agents=plan.max_agents, runs_per_month=plan.max_runs_per_month),
        agents_used=await count_agents(session, user_id),
        runs_this_month=await count_runs_this_month(session, user_id),
        period_start=start,
        period_end=end,
    )


async def set_plan(session: AsyncSession, user_id: uuid.UUID, plan: str) -> Usage:
    """An operator's plan change. A downgrade keeps existing agents; new ones are refused."""
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    user.plan = plan
    await session.flush()
    return await usage(session, user.id, user.plan)
