from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents import schemas, service
from botskis.agents.models import Agent, AgentStatus
from botskis.api.dependencies import SessionDep
from botskis.config import Settings
from botskis.core.auth import CurrentUser, VerifiedUser
from botskis.core.pagination import Page, PageDep
from botskis.marketplace.catalog import get_catalog

router = APIRouter(prefix="/agents", tags=["agents"])

WEBHOOK_PATH = "/api/v1/hooks/{token}"


async def present_agents(
    request: Request,
    session: AsyncSession,
    agents: list[Agent],
    *,
    webhook_token: str | None = None,
) -> list[schemas.Agent]:
    """The API view of agents: category, missing credentials and, once, the hook URL."""
    settings: Settings = request.app.state.settings
    missing = (
        await service.missing_credentials(
            session, agents[0].owner_id, agents, default_llm=settings.default_llm_configured
        )
        if agents
        else {}
    )
    catalog = get_catalog()
    shown = []
    for agent in agents:
        template = catalog.get(agent.template_slug)
        item = schemas.Agent.model_validate(agent).model_copy(
            update={
                "category": template.category if template else None,
                "needs_credentials": missing.get(agent.id, []),
            }
        )
        if webhook_token is not None:
            path = WEBHOOK_PATH.format(token=webhook_token)
            item.webhook_token = webhook_token
            item.webhook_url = str(request.base_url).rstrip("/") + path
        shown.append(item)
    return shown


async def _one(
    request: Request, session: AsyncSession, agent: Agent, token: str | None = None
) -> schemas.Agent:
    return (await present_agents(request, session, [agent], webhook_token=token))[0]


@router.post(
    "/deploy",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Agent,
    responses={404: {"description": "No such template"}},
)
async def deploy_agent(
    body: schemas.AgentDeploy, user: VerifiedUser, session: SessionDep, request: Request
) -> schemas.Agent:
    deployed = await service.deploy_agent(
        session,
        user.id,
        template_id=body.template_id,
        name=body.name,
        config=body.config,
        trigger=body.trigger,
        max_concurrent_runs=body.max_concurrent_runs,
        timeout_seconds=body.timeout_seconds,
        minutes_saved_per_run=body.minutes_saved_per_run,
    )
    return await _one(request, session, deployed.agent, deployed.webhook_token)


@router.get("", response_model=Page[schemas.Agent])
async def list_agents(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    request: Request,
    status: AgentStatus | None = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[schemas.Agent]:
    agents, total = await service.list_agents(
        session, user.id, status=status, category=category, page=page
    )
    return Page[schemas.Agent](
        items=await present_agents(request, session, agents),
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{agent_id}", response_model=schemas.Agent)
async def read_agent(
    agent_id: uuid.UUID, user: CurrentUser, session: SessionDep, request: Request
) -> schemas.Agent:
    agent = await service.get_owned_agent(session, user.id, agent_id)
    return await _one(request, session, agent)


@router.patch("/{agent_id}", response_model=schemas.Agent)
async def update_agent(
    agent_id: uuid.UUID,
    body: schemas.AgentUpdate,
    user: CurrentUser,
    session: SessionDep,
    request: Request,
) -> schemas.Agent:
    updated = await service.update_agent(
        session,
        user.id,
        agent_id,
        name=body.name,
        config=body.config,
        trigger=body.trigger,
        max_concurrent_runs=body.max_concurrent_runs,
        timeout_seconds=body.timeout_seconds,
        minutes_saved_per_run=body.minutes_saved_per_run,
    )
    return await _one(request, session, updated.agent, updated.webhook_token)


@router.post("/{agent_id}/pause", response_model=schemas.Agent)
async def pause_agent(
    agent_id: uuid.UUID, user: CurrentUser, session: SessionDep, request: Request
) -> schemas.Agent:
    agent = await service.pause_agent(session, user.id, agent_id)
    return await _one(request, session, agent)


@router.post("/{agent_id}/resume", response_model=schemas.Agent)
async def resume_agent(
    agent_id: uuid.UUID, user: CurrentUser, session: SessionDep, request: Request
) -> schemas.Agent:
    agent = await service.resume_agent(session, user.id, agent_id)
    return await _one(request, session, agent)


@router.post("/{agent_id}/webhook/rotate", response_model=schemas.Agent)
async def rotate_webhook(
    agent_id: uuid.UUID, user: CurrentUser, session: SessionDep, request: Request
) -> schemas.Agent:
    rotated = await service.rotate_webhook_token(session, user.id, agent_id)
    return await _one(request, session, rotated.agent, rotated.webhook_token)


@router.delete("/{agent_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_agent(agent_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    await service.delete_agent(session, user.id, agent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
