from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from botskis.database.base import Base, IdMixin, TimestampMixin


class OnboardingSession(IdMixin, TimestampMixin, Base):
    """The wizard's state for one user: answers so far and what was recommended."""

    __tablename__ = "onboarding_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recommendations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    completed_at: Mapped[datetime | None] = mapped_column()
