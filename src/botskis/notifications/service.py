"""Notifications: stored for the inbox and pushed live as a `notification` event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.core.pagination import PageParams, fetch_page
from botskis.notifications.errors import NotificationNotFound
from botskis.notifications.models import NOTIFICATION_LEVELS, Notification
from botskis.realtime.events import emit

TITLE_MAX = 200
MESSAGE_MAX = 10_000


async def create_notification(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    level: str,
    title: str,
    message: str,
    agent_id: uuid.UUID | None = None,
) -> Notification:
    """Callers pass text rendered from user data, so overlong text is cut, not refused."""
    if level not in NOTIFICATION_LEVELS:
        raise ValueError(f"unknown notification level {level!r}")
    notification = Notification(
        user_id=user_id,
        agent_id=agent_id,
        level=level,
        title=title[:TITLE_MAX],
        message=message[:MESSAGE_MAX],
    )
    session.add(notification)
    await session.flush()
    emit(
        session,
        user_id,
        "notification",
        agent_id=agent_id,
        id=notification.id,
        level=notification.level,
        title=notification.title,
        message=notification.message,
    )
    return notification


async def list_notifications(
    session: AsyncSession, user_id: uuid.UUID, *, unread_only: bool, page: PageParams
) -> tuple[list[Notification], int]:
    condition = [Notification.user_id == user_id]
    if unread_only:
        condition.append(Notification.read_at.is_(None))
    return await fetch_page(
        session,
        select(Notification).where(*condition),
        (Notification.created_at.desc(), Notification.id),
        page,
    )


async def mark_read(
    session: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID
) -> Notification:
    """Idempotent: a notification read twice keeps its first read time."""
    notification = await session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
    )
    if notification is None:
        raise NotificationNotFound()
    if notification.read_at is None:
        notification.read_at = datetime.now(UTC)
        await session.flush()
    return notification


async def mark_all_read(session: AsyncSession, user_id: uuid.UUID) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)
