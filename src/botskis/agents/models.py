from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from botskis.database.base import Base, IdMixin, StatusColumn, TimestampMixin


class AgentStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    # Too many consecutive failed runs: its schedule stops until a run succeeds (a
    # probe is tried after a cool-down); webhook deliveries and manual runs still run it.
    FAILING = "failing"


class Agent(IdMixin, TimestampMixin, Base):
    """A deployed template: its validated config, trigger, state and run counters."""

    __tablename__ = "agents"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    template_slug: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON, default=lambda: {"type": "manual"})
    status: Mapped[AgentStatus] = mapped_column(
        StatusColumn(AgentStatus), default=AgentStatus.ACTIVE, index=True
    )
    status_reason: Mapped[str | None] = mapped_column(String(500))
    # sha256 hex of the webhook secret; the secret itself is shown once and never stored.
    webhook_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    max_concurrent_runs: Mapped[int] = mapped_column(default=1)
    timeout_seconds: Mapped[int] = mapped_column(default=900)
    # Manual work one successful run saves, in minutes: the template's figure
    # unless the owner changes it; analytics multiplies it by successful runs.
    minutes_saved_per_run: Mapped[float] = mapped_column(default=5.0, server_default="5")
    total_runs: Mapped[int] = mapped_column(default=0)
    successful_runs: Mapped[int] = mapped_column(default=0)
    failed_runs: Mapped[int] = mapped_column(default=0)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    last_run_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)
