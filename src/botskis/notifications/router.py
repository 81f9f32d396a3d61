from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from botskis.api.dependencies import SessionDep
from botskis.core.auth import CurrentUser
from botskis.core.pagination import Page, PageDep
from botskis.notifications import schemas, service
from botskis.notifications.models import Notification

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("", response_model=Page[schemas.Notification])
async def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    unread: Annotated[bool, Query(description="Only notifications not read yet")] = False,
) -> Page[schemas.Notification]:
    items, total = await service.list_notifications(session, user.id, unread_only=unread, page=page)
    return Page(
        items=[schemas.Notification.model_validate(item) for item in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/read-all", response_model=schemas.ReadAll)
async def mark_all_read(user: CurrentUser, session: SessionDep) -> schemas.ReadAll:
    return schemas.ReadAll(marked_read=await service.mark_all_read(session, user.id))


@router.post("/{notification_id}/read", response_model=schemas.Notification)
async def mark_read(
    notification_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Notification:
    return await service.mark_read(session, user.id, notification_id)
