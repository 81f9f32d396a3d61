from __future__ import annotations

import uuid

from fastapi import APIRouter

from botskis.api.dependencies import SessionDep
from botskis.billing import schemas, service
from botskis.core.auth import CurrentUser, Superuser

router = APIRouter(tags=["billing"])


@router.get("/users/me/usage", response_model=schemas.Usage)
async def read_usage(user: CurrentUser, session: SessionDep) -> schemas.Usage:
    return await service.usage(session, user.id, user.plan)


@router.put("/users/{user_id}/plan", response_model=schemas.Usage)
async def set_plan(
    user_id: uuid.UUID, body: schemas.PlanChange, _admin: Superuser, session: SessionDep
) -> schemas.Usage:
    return await service.set_plan(session, user_id, body.plan)
