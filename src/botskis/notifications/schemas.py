from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Notification(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    agent_id: uuid.UUID | None
    level: Literal["info", "success", "warning", "error"]
    title: str
    message: str
    read_at: datetime | None
    created_at: datetime


class ReadAll(BaseModel):
    marked_read: int
