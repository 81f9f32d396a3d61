"""The replay log: every event a user was sent, numbered per user."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from botskis.database.base import Base, utcnow
from botskis.users.models import User


class EventCursor(Base):
    """The last `seq` handed out for a user. Its row lock orders concurrent
    emitters, so seq order is commit order."""

    __tablename__ = "event_cursors"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey(User.id, ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class LoggedEvent(Base):
    """One event as a socket receives it; kept for `resume` (last 1,000 / 24 h)."""

    __tablename__ = "event_log"
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey(User.id, ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(40))
    # No foreign key: the log outlives a deleted agent, like any history.
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
