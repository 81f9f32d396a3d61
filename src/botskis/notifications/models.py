from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from botskis.agents.models import Agent
from botskis.database.base import Base, IdMixin, utcnow
from botskis.users.models import User

NOTIFICATION_LEVELS = ("info", "success", "warning", "error")


class Notification(IdMixin, Base):
    """A message to a user's inbox, also pushed live to their sockets."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey(User.id, ondelete="CASCADE"))
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey(Agent.id, ondelete="SET NULL"), index=True
    )
    level: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    read_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
