from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

PlanName = Literal["starter", "professional", "enterprise"]


class Limits(BaseModel):
    """`None` means unlimited."""

    agents: int | None
    runs_per_month: int | None


class Usage(BaseModel):
    plan: str
    limits: Limits
    agents_used: int
    runs_this_month: int
    period_start: datetime
    period_end: datetime


class PlanChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: PlanName
