"""Rollups: per agent and per account, per hour and per day, what runs that
finished in that bucket add up to. They are written in the transaction that
writes a run's final state, so they outlive the run rows that retention prunes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from botskis.database.base import Base

# Upper bounds (ms, inclusive) of the duration histogram's buckets, a 1-2-5
# series; the last bucket holds everything slower than 1,000 s.
DURATION_BOUNDS_MS: tuple[int, ...] = (
    1, 2, 5, 10, 20, 50, 100, 200, 500,
    1_000, 2_000, 5_000, 10_000, 20_000, 50_000,
    100_000, 200_000, 500_000, 1_000_000,
)  # fmt: skip
HISTOGRAM_COLUMNS: tuple[str, ...] = tuple(
    f"d{index:02d}" for index in range(len(DURATION_BOUNDS_MS) + 1)
)
COUNTER_COLUMNS: tuple[str, ...] = (
    "succeeded",
    "failed",
    "cancelled",
    "auto_healed",
    "duration_count",
    "duration_sum_ms",
    "tokens",
    "cost_micros",
    *HISTOGRAM_COLUMNS,
)


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"


def _counter() -> Mapped[int]:
    return mapped_column(BigInteger, default=0)


class RollupCounters:
    """The summable columns every run rollup carries."""

    succeeded: Mapped[int] = _counter()
    failed: Mapped[int] = _counter()
    cancelled: Mapped[int] = _counter()
    auto_healed: Mapped[int] = _counter()
    # Durations of succeeded and failed runs (a cancelled run may never have started).
    duration_count: Mapped[int] = _counter()
    duration_sum_ms: Mapped[int] = _counter()
    duration_max_ms: Mapped[int] = _counter()
    tokens: Mapped[int] = _counter()
    # An estimate in millionths of a US dollar (tokens at LLM_PRICE_PER_MILLION_TOKENS).
    cost_micros: Mapped[int] = _counter()
    d00: Mapped[int] = _counter()
    d01: Mapped[int] = _counter()
    d02: Mapped[int] = _counter()
    d03: Mapped[int] = _counter()
    d04: Mapped[int] = _counter()
    d05: Mapped[int] = _counter()
    d06: Mapped[int] = _counter()
    d07: Mapped[int] = _counter()
    d08: Mapped[int] = _counter()
    d09: Mapped[int] = _counter()
    d10: Mapped[int] = _counter()
    d11: Mapped[int] = _counter()
    d12: Mapped[int] = _counter()
    d13: Mapped[int] = _counter()
    d14: Mapped[int] = _counter()
    d15: Mapped[int] = _counter()
    d16: Mapped[int] = _counter()
    d17: Mapped[int] = _counter()
    d18: Mapped[int] = _counter()
    d19: Mapped[int] = _counter()


class AgentRollup(RollupCounters, Base):
    __tablename__ = "agent_rollups"
    __table_args__ = (
        Index("ix_agent_rollups_owner_id_granularity_bucket", "owner_id", "granularity", "bucket"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    granularity: Mapped[str] = mapped_column(String(4), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class AccountRollup(RollupCounters, Base):
    """The account's totals; they keep the history of agents deleted since."""

    __tablename__ = "account_rollups"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    granularity: Mapped[str] = mapped_column(String(4), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)


class ErrorRollup(Base):
    """Failed runs of one agent with one error fingerprint in one bucket."""

    __tablename__ = "error_rollups"
    __table_args__ = (
        Index("ix_error_rollups_owner_id_granularity_bucket", "owner_id", "granularity", "bucket"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    granularity: Mapped[str] = mapped_column(String(4), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen: Mapped[datetime] = mapped_column()
    last_seen: Mapped[datetime] = mapped_column()
    # The latest failure in the bucket; the run itself may have been pruned since.
    sample_run_id: Mapped[uuid.UUID] = mapped_column()
    sample_message: Mapped[str | None] = mapped_column(Text)


class ErrorFingerprint(Base):
    """What a fingerprint stands for. The fingerprint is a hash of exactly these
    values, so the row is the same for every account that meets it."""

    __tablename__ = "error_fingerprints"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    error_kind: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    step: Mapped[str | None] = mapped_column(String(40))
    template_slug: Mapped[str] = mapped_column(String(100))
