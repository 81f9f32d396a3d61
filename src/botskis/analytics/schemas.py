from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from botskis.analytics.models import Granularity


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class RunFigures(BaseModel):
    """Runs that finished in a range (or one bucket of it)."""

    runs: int
    succeeded: int
    failed: int
    cancelled: int
    auto_healed: int
    # Succeeded / (succeeded + failed); None without such runs.
    success_rate: float | None
    avg_duration_ms: int | None
    p50_duration_ms: int | None
    p95_duration_ms: int | None
    p99_duration_ms: int | None
    tokens: int
    cost_usd: float


class SeriesPoint(RunFigures):
    bucket: datetime


class FailingAgent(BaseModel):
    agent_id: uuid.UUID
    name: str
    failed: int
    runs: int
    success_rate: float | None


class TopError(BaseModel):
    fingerprint: str
    error_kind: str | None
    message: str
    step: str | None
    template_slug: str
    count: int
    # The same fingerprint's count in the equally long range just before.
    previous_count: int
    trend: Literal["new", "rising", "falling", "steady"]
    last_seen: datetime
    # The latest failed run in the range with this fingerprint, and its agent.
    sample_run_id: uuid.UUID | None
    sample_agent_id: uuid.UUID | None


class TimeSaved(BaseModel):
    """Succeeded runs times each agent's minutes-saved figure (agents that still exist)."""

    minutes: float
    hours: float


class Analytics(BaseModel):
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    granularity: Granularity
    totals: RunFigures
    series: list[SeriesPoint]
    top_errors: list[TopError]
    time_saved: TimeSaved


class Overview(Analytics):
    top_failing_agents: list[FailingAgent]


class AgentAnalytics(Analytics):
    agent_id: uuid.UUID
    minutes_saved_per_run: float
