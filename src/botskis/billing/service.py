"""Plan quotas: how many agents a user may have and runs a user may start per month."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents.models import Agent
from botskis.billing.errors import AgentQuotaExceeded, RunQuotaExceeded, UserNotFound
from botskis.billing.models import MonthlyUsage
from botskis.billing.plans import plan_of
from botskis.billing.schemas import Limits, Usage
from botskis.database.base import utcnow
from botskis.users.models import User


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) containing `now`: [start, next month's start)."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        return start, start.replace(year=start.year + 1, month=1)
    return start, start.replace(month=start.month + 1)


async def lock_user(session: AsyncSession, user_id: uuid.UUID) -> User:
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


def month_of(now: datetime) -> date:
    """The ledger's key for the month containing `now` (UTC): its first day."""
    return month_bounds(now)[0].date()


async def runs_this_month(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Runs started this month, from the ledger (never from the runs that remain)."""
    query = select(MonthlyUsage.runs).where(
        MonthlyUsage.user_id == user_id, MonthlyUsage.month == month_of(utcnow())
    )
    return await session.scalar(query) or 0


async def _ensure_usage_row(session: AsyncSession, user_id: uuid.UUID, month: date) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(MonthlyUsage)
        .values(user_id=user_id, month=month, runs=0, tokens=0, cost_micros=0)
        .on_conflict_do_nothing(index_elements=[MonthlyUsage.user_id, MonthlyUsage.month])
    )


async def check_agent_quota(session: AsyncSession, user_id: uuid.UUID, *, adding: int = 1) -> None:
    """Raise AgentQuotaExceeded unless the user may own `adding` more agents."""
    user = await lock_user(session, user_id)
    plan = plan_of(user.plan)
    if plan.max_agents is None:
        return
    if await count_agents(session, user_id) + adding > plan.max_agents:
        raise AgentQuotaExceeded(plan.name, plan.max_agents)


async def admit_run(session: AsyncSession, user_id: uuid.UUID, *, enforce: bool = True) -> int:
    """Count one run started by this user this month and return the new count.

    The limit check and the increment are one conditional UPDATE (`... WHERE runs <
    limit RETURNING runs`), atomic on SQLite and PostgreSQL alike; the user's quota
    lock (taken first) also serialises it with plan changes. With `enforce` off the
    run is counted without being refused (the platform's own healing probes).
    Raises RunQuotaExceeded when the month's runs are used up."""
    user = await lock_user(session, user_id)
    plan = plan_of(user.plan)
    month = month_of(utcnow())
    await _ensure_usage_row(session, user_id, month)
    statement = (
        update(MonthlyUsage)
        .where(MonthlyUsage.user_id == user_id, MonthlyUsage.month == month)
        .values(runs=MonthlyUsage.runs + 1)
        .returning(MonthlyUsage.runs)
        .execution_options(synchronize_session=False)
    )
    limit = plan.max_runs_per_month if enforce else None
    if limit is not None:
        statement = statement.where(MonthlyUsage.runs < limit)
    counted = await session.scalar(statement)
    if counted is None:
        assert limit is not None
        raise RunQuotaExceeded(plan.name, limit)
    return counted


async def usage(session: AsyncSession, user_id: uuid.UUID, plan_name: str) -> Usage:
    plan = plan_of(plan_name)
    start, end = month_bounds(utcnow())
    return Usage(
        plan=plan.name,
        limits=Limits(agents=plan.max_agents, runs_per_month=plan.max_runs_per_month),
        agents_used=await count_agents(session, user_id),
        runs_this_month=await runs_this_month(session, user_id),
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
