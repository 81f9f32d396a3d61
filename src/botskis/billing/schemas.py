from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


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
