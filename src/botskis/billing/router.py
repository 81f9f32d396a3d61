from __future__ import annotations

from fastapi import APIRouter

from botskis.api.dependencies import SessionDep
from botskis.billing import schemas, service
from botskis.core.auth import CurrentUser

router = APIRouter(tags=["billing"])


@router.get("/users/me/usage", response_model=schemas.Usage)
async def read_usage(user: CurrentUser, session: SessionDep) -> schemas.Usage:
    return await service.usage(session, user)
