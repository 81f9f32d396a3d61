"""Runs are rows: the queue, the record and the checkpoint store in one place.

A run carries a snapshot of the workflow it executes, so a template edited
while a run is queued or half-done never changes the steps it resumes with.
`run_steps` holds one row per finished step; a resumed run skips them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, literal, text
from sqlalchemy.orm import Mapped, mapped_column

from botskis.database.base import Base, IdMixin, StatusColumn, TimestampMixin, utcnow


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    # A filter step ended the run early; the run itself succeeded.
    STOPPED = "stopped"


FINISHED_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
RUN_TRIGGERS = ("manual", "schedule", "webhook", "retry", "probe")
# The statuses the partial indexes below cover, rendered into the SQL: a bound
# value hides from SQLite (and from a generic PostgreSQL plan) that they apply.
QUEUED = literal(RunStatus.QUEUED.value, literal_execute=True)
RUNNING = literal(RunStatus.RUNNING.value, literal_execute=True)


class Run(IdMixin, TimestampMixin, Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_agent_id_created_at", "agent_id", "created_at"),
        # An agent's runs of one status, newest first (GET /agents/{id}/runs?status=).
        Index("ix_runs_agent_id_status_created_at", "agent_id", "status", "created_at"),
        Index("ix_runs_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_runs_worker_id_status", "worker_id", "status"),
        # Pruning a run sets its retries' retry_of_id to NULL: found by index.
        Index(
            "ix_runs_retry_of_id",
            "retry_of_id",
            postgresql_where=text("retry_of_id IS NOT NULL"),
            sqlite_where=text("retry_of_id IS NOT NULL"),
        ),
        # An account's runs not yet in the rollups (the dashboard metrics count
        # them live; an agent's use ix_runs_agent_id_status_created_at).
        Index(
            "ix_runs_owner_id_unfinished",
            "owner_id",
            "status",
            postgresql_where=text("status IN ('queued', 'running')"),
            sqlite_where=text("status IN ('queued', 'running')"),
        ),
        # Partial indexes over the few queued and running runs, never the history:
        # the claim's exact order, and the running counts its limits read
        # (queue.claims). Queries must name the status as a literal to use them.
        Index(
            "ix_runs_queue",
            "queued_at",
            "id",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
        Index(
            "ix_runs_running",
            "owner_id",
            "agent_id",
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
        UniqueConstraint("agent_id", "idempotency_key", name="uq_runs_agent_idempotency_key"),
        UniqueConstraint("agent_id", "event_id", name="uq_runs_agent_event_id"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    template_slug: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[RunStatus] = mapped_column(StatusColumn(RunStatus), default=RunStatus.QUEUED)
    input: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    workflow: Mapped[dict[str, Any]] = mapped_column(JSON)
    # How many times a worker picked the run up (a recovered run counts again).
    attempts: Mapped[int] = mapped_column(default=0)
    error_kind: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_step: Mapped[str | None] = mapped_column(String(40))
    error_fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    # Set when a step failed transiently and a retry rescued it.
    auto_healed: Mapped[bool] = mapped_column(default=False)
    # Why a filter step ended the run early (the run still succeeded).
    stopped_reason: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    event_id: Mapped[str | None] = mapped_column(String(200))
    retry_of_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL")
    )
    # The worker holding the run and until when; an expired lease is reclaimed.
    worker_id: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    duration_ms: Mapped[int | None] = mapped_column()


class RunStep(IdMixin, Base):
    """One finished step of a run: its checkpoint and its record."""

    __tablename__ = "run_steps"
    __table_args__ = (UniqueConstraint("run_id", "step_id", name="uq_run_steps_run_step"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step_id: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[StepStatus] = mapped_column(StatusColumn(StepStatus))
    attempts: Mapped[int] = mapped_column(default=1)
    output: Mapped[Any] = mapped_column(JSON, nullable=True)
    error_kind: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    tokens: Mapped[int | None] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_ms: Mapped[int] = mapped_column(default=0)


class Worker(Base):
    """A live executor; a stale heartbeat means its runs may be reclaimed."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_heartbeat: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    running: Mapped[int] = mapped_column(default=0)


class AgentHealing(Base):
    """Healing state of a failing agent: when the next probe runs and the cool-down."""

    __tablename__ = "agent_healing"

    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    probe_at: Mapped[datetime] = mapped_column(index=True)
    cooldown_seconds: Mapped[int] = mapped_column()
    probe_run_id: Mapped[uuid.UUID | None] = mapped_column()
