from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from botskis.agents.service import get_owned_agent
from botskis.api.dependencies import SessionDep, SettingsDep
from botskis.core.auth import CurrentUser, Superuser
from botskis.monitoring import schemas, service

router = APIRouter(tags=["monitoring"])


@router.get("/monitoring/errors", response_model=schemas.ErrorGroups)
async def list_error_groups(
    user: CurrentUser,
    session: SessionDep,
    agent_id: uuid.UUID | None = None,
    since: Annotated[AwareDatetime | None, Query(description="ISO 8601, with offset")] = None,
    until: Annotated[AwareDatetime | None, Query(description="ISO 8601, with offset")] = None,
) -> schemas.ErrorGroups:
    """Failed runs of your agents grouped by fingerprint (kind, normalised
    message, step, template)."""
    if agent_id is not None:
        await get_owned_agent(session, user.id, agent_id)
    return await service.error_groups(session, user.id, agent_id=agent_id, since=since, until=until)


@router.get("/agents/{agent_id}/health", response_model=schemas.AgentHealth)
async def agent_health(
    agent_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> schemas.AgentHealth:
    agent = await get_owned_agent(session, user.id, agent_id)
    return await service.agent_health(session, agent)


@router.get("/monitoring/health", response_model=schemas.SystemHealth)
async def system_health(
    _admin: Superuser, session: SessionDep, settings: SettingsDep
) -> schemas.SystemHealth:
    """Queue depth, oldest queued run, workers and their heartbeats, scheduler lag."""
    return await service.system_health(session, settings)
