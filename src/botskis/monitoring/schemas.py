from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from botskis.agents.models import AgentStatus


class ErrorGroup(BaseModel):
    fingerprint: str
    error_kind: str | None
    message: str
    step: str | None
    template_slug: str
    count: int
    first_seen: datetime
    last_seen: datetime
    sample_run_id: uuid.UUID
    sample_agent_id: uuid.UUID
    sample_message: str | None


class ErrorGroups(BaseModel):
    items: list[ErrorGroup]
    total_failed_runs: int


class AgentHealth(BaseModel):
    agent_id: uuid.UUID
    status: AgentStatus
    status_reason: str | None
    # Succeeded / (succeeded + failed) over the last 7 days; None without finished runs.
    success_rate: float | None
    runs_24h: int
    runs_7d: int
    succeeded_7d: int
    failed_7d: int
    p50_duration_ms: int | None
    p95_duration_ms: int | None
    consecutive_failures: int
    last_error: str | None
    last_run_at: datetime | None
    next_run_at: datetime | None
    next_probe_at: datetime | None


class WorkerHealth(BaseModel):
    id: str
    hostname: str
    pid: int
    started_at: datetime
    last_heartbeat: datetime
    running: int
    stale: bool


class SystemHealth(BaseModel):
    queue_depth: int
    running: int
    oldest_queued_at: datetime | None
    oldest_queued_age_seconds: float | None
    workers: list[WorkerHealth]
    # How late the most overdue schedule is (0 when none is overdue).
    scheduler_lag_seconds: float
    overdue_schedules: int
