from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from botskis.runs.models import RunStatus, StepStatus

MAX_INPUT_BYTES = 256 * 1024


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any] = Field(default_factory=dict)

    @field_validator("input")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, separators=(",", ":"))) > MAX_INPUT_BYTES:
            raise ValueError(f"input must be at most {MAX_INPUT_BYTES} bytes of JSON")
        return value


class RunAccepted(BaseModel):
    run_id: uuid.UUID
    status: RunStatus


class RunStep(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step_id: str
    position: int
    kind: str
    status: StepStatus
    attempts: int
    output: Any
    error_kind: str | None
    error_message: str | None
    tokens: int | None
    started_at: datetime
    finished_at: datetime
    duration_ms: int


class Run(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    agent_id: uuid.UUID
    template_slug: str
    trigger: str
    status: RunStatus
    input: dict[str, Any]
    attempts: int
    error_kind: str | None
    error_message: str | None
    error_step: str | None
    auto_healed: bool
    stopped_reason: str | None
    retry_of_id: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None


class RunDetail(Run):
    steps: list[RunStep]
