"""Billing state for tests: a month's ledger row, written as the ledger keeps it."""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa

from botskis.billing.models import MonthlyUsage
from botskis.billing.service import month_of
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.users.models import User


async def set_plan(database: Database, user_id: str | uuid.UUID, plan: str) -> None:
    async with database.transaction() as session:
        await session.execute(
            sa.update(User).where(User.id == uuid.UUID(str(user_id))).values(plan=plan)
        )


async def set_runs_used(
    database: Database, user_id: str | uuid.UUID, runs: int, month: date | None = None
) -> None:
    key = {"user_id": uuid.UUID(str(user_id)), "month": month or month_of(utcnow())}
    async with database.transaction() as session:
        await session.execute(sa.delete(MonthlyUsage).filter_by(**key))
        session.add(MonthlyUsage(**key, runs=runs, tokens=0, cost_micros=0))


async def runs_used(database: Database, user_id: str | uuid.UUID) -> int:
    async with database.transaction() as session:
        value = await session.scalar(
            sa.select(MonthlyUsage.runs).where(
                MonthlyUsage.user_id == uuid.UUID(str(user_id)),
                MonthlyUsage.month == month_of(utcnow()),
            )
        )
    return value or 0
