from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from botskis.agents.models import AgentStatus

AgentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MaxConcurrentRuns = Annotated[int, Field(strict=True, ge=1, le=10)]
TimeoutSeconds = Annotated[int, Field(strict=True, ge=10, le=3600)]
# The owner's estimate of the manual work one successful run saves (analytics' time saved).
MinutesSaved = Annotated[float, Field(ge=0, le=1440, allow_inf_nan=False)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentDeploy(StrictModel):
    template_id: Annotated[str, Field(min_length=1, max_length=100)]
    name: AgentName | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    # Omitted: the template's default trigger.
    trigger: dict[str, Any] | None = None
    max_concurrent_runs: MaxConcurrentRuns = 1
    timeout_seconds: TimeoutSeconds = 900
    # Omitted: the template's figure.
    minutes_saved_per_run: MinutesSaved | None = None


class AgentUpdate(StrictModel):
    name: AgentName | None = None
    # Replaces the whole config; it is re-validated and defaults are applied again.
    config: dict[str, Any] | None = None
    trigger: dict[str, Any] | None = None
    max_concurrent_runs: MaxConcurrentRuns | None = None
    timeout_seconds: TimeoutSeconds | None = None
    minutes_saved_per_run: MinutesSaved | None = None


class Agent(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    template_slug: str
    category: str | None = None
    config: dict[str, Any]
    trigger: dict[str, Any]
    status: AgentStatus
    status_reason: str | None
    max_concurrent_runs: int
    timeout_seconds: int
    minutes_saved_per_run: float
    total_runs: int
    successful_runs: int
    failed_runs: int
    consecutive_failures: int
    last_run_at: datetime | None
    last_error: str | None
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # Credential kinds the template needs that the owner has not stored yet.
    needs_credentials: list[str] = Field(default_factory=list)
    # Only in the response that created or rotated the token; never retrievable later.
    webhook_url: str | None = None
    webhook_token: str | None = None
