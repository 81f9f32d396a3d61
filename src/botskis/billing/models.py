"""Billing tables: the usage ledger, each user's Stripe subscription state, their
invoices, and the Stripe events received and applied."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from botskis.database.base import Base


class MonthlyUsage(Base):
    """What a user consumed in one calendar month (UTC).

    A row is counted up in the transaction that queues a run and never derived
    from runs or agents, so deleting those cannot lower it. Tokens and cost are
    carried for metering; runs are what the plan limits."""

    __tablename__ = "monthly_usage"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # The first day of the month.
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    runs: Mapped[int] = mapped_column(default=0)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    # Millionths of a US dollar: exact on every backend.
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
