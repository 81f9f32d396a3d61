"""Deploying templates as agents and controlling them; every query is scoped to the owner."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents import triggers
from botskis.agents.configuration import config_errors
from botskis.agents.errors import (
    AgentNotFound,
    AgentStateConflict,
    NotAWebhookAgent,
    TemplateNotFound,
)
from botskis.agents.models import Agent, AgentStatus
from botskis.billing.service import check_agent_quota
from botskis.core.errors import ValidationFailed
from botskis.core.pagination import PageParams, fetch_page
from botskis.credentials.service import stored_kinds
from botskis.database.base import utcnow
from botskis.marketplace.catalog import Template, get_catalog
from botskis.realtime.events import emit
from botskis.runs.locking import lock_running_runs
from botskis.runs.models import Run

WEBHOOK_TOKEN_BYTES = 32


@dataclass(slots=True)
class Deployed:
    """An agent together with the webhook token created for it, shown only once."""

    agent: Agent
    webhook_token: str | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def get_template(template_id: str) -> Template:
    template = get_catalog().get(template_id)
    if template is None:
        raise TemplateNotFound(template_id)
    return template


def _checked_trigger(trigger: dict[str, Any]) -> dict[str, Any]:
    errors = triggers.trigger_errors(trigger)
    if errors:
        raise ValidationFailed("The trigger is not valid", errors)
    return triggers.normalise(trigger)


def _issue_webhook_token(agent: Agent) -> str:
    token = secrets.token_urlsafe(WEBHOOK_TOKEN_BYTES)
    agent.webhook_token_hash = hash_token(token)
    return token


def _schedule(agent: Agent) -> None:
    """Only an active agent is due; paused and failing ones wait (healing probes failing ones)."""
    agent.next_run_at = (
        triggers.next_run_at(agent.trigger, utcnow())
        if agent.status == AgentStatus.ACTIVE
        else None
    )


def _announce(session: AsyncSession, agent: Agent, *, status: str | None = None) -> None:
    """`status` overrides the agent's own for events it has no status for ("deleted")."""
    emit(
        session,
        agent.owner_id,
        "agent_update",
        agent_id=agent.id,
        data={
            "status": status or agent.status,
            "name": agent.name,
            "status_reason": agent.status_reason,
            "template_slug": agent.template_slug,
            "trigger": agent.trigger,
            "next_run_at": agent.next_run_at.isoformat() if agent.next_run_at else None,
        },
    )


async def deploy_agent(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    template_id: str,
    name: str | None,
    config: dict[str, Any],
    trigger: dict[str, Any] | None,
    max_concurrent_runs: int = 1,
    timeout_seconds: int = 900,
    minutes_saved_per_run: float | None = None,
) -> Deployed:
    template = get_template(template_id)
    # Validated once: the same pass fills the schema's defaults into what is stored.
    filled, errors = config_errors(template.config_schema, config)
    if trigger is not None:
        errors += triggers.trigger_errors(trigger)
    if errors:
        raise ValidationFailed("The agent cannot be deployed as given", errors)
    await check_agent_quota(session, owner_id)
    agent = Agent(
        owner_id=owner_id,
        template_slug=template.slug,
        name=name or template.name,
        config=filled,
        trigger=_checked_trigger(trigger if trigger is not None else template.trigger),
        status=AgentStatus.ACTIVE,
        max_concurrent_runs=max_concurrent_runs,
        timeout_seconds=timeout_seconds,
        minutes_saved_per_run=(
            template.minutes_saved_per_run
            if minutes_saved_per_run is None
            else minutes_saved_per_run
        ),
    )
    token = _issue_webhook_token(agent) if agent.trigger["type"] == "webhook" else None
    _schedule(agent)
    session.add(agent)
    await session.flush()
    _announce(session, agent)
    return Deployed(agent, token)


async def get_owned_agent(session: AsyncSession, owner_id: uuid.UUID, agent_id: uuid.UUID) -> Agent:
    agent = await session.scalar(
        select(Agent).where(Agent.id == agent_id, Agent.owner_id == owner_id)
    )
    if agent is None:
        raise AgentNotFound()
    return agent


async def list_agents(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    status: AgentStatus | None,
    category: str | None,
    page: PageParams,
) -> tuple[list[Agent], int]:
    where = [Agent.owner_id == owner_id]
    if status is not None:
        where.append(Agent.status == status)
    if category is not None:
        slugs = [t.slug for t in get_catalog().all() if t.category == category]
        where.append(Agent.template_slug.in_(slugs))
    return await fetch_page(
        session, select(Agent).where(*where), (Agent.created_at.desc(), Agent.id), page
    )


async def update_agent(
    session: AsyncSession,
    owner_id: uuid.UUID,
    agent_id: uuid.UUID,
    *,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    trigger: dict[str, Any] | None = None,
    max_concurrent_runs: int | None = None,
    timeout_seconds: int | None = None,
    minutes_saved_per_run: float | None = None,
) -> Deployed:
    agent = await get_owned_agent(session, owner_id, agent_id)
    template = get_template(agent.template_slug)
    filled, errors = (
        config_errors(template.config_schema, config) if config is not None else (None, [])
    )
    if trigger is not None:
        errors += triggers.trigger_errors(trigger)
    if errors:
        raise ValidationFailed("The agent cannot be updated as given", errors)
    token = None
    if name is not None:
        agent.name = name
    if filled is not None:
        agent.config = filled
    if max_concurrent_runs is not None:
        agent.max_concurrent_runs = max_concurrent_runs
    if timeout_seconds is not None:
        agent.timeout_seconds = timeout_seconds
    if minutes_saved_per_run is not None:
        agent.minutes_saved_per_run = minutes_saved_per_run
    if trigger is not None:
        agent.trigger = _checked_trigger(trigger)
        if agent.trigger["type"] != "webhook":
            agent.webhook_token_hash = None
        elif agent.webhook_token_hash is None:
            token = _issue_webhook_token(agent)
        _schedule(agent)
    await session.flush()
    _announce(session, agent)
    return Deployed(agent, token)


async def pause_agent(session: AsyncSession, owner_id: uuid.UUID, agent_id: uuid.UUID) -> Agent:
    agent = await get_owned_agent(session, owner_id, agent_id)
    if agent.status == AgentStatus.PAUSED:
        raise AgentStateConflict(AgentStatus.PAUSED)
    agent.status = AgentStatus.PAUSED
    agent.status_reason = "paused by the owner"
    _schedule(agent)
    await session.flush()
    _announce(session, agent)
    return agent


async def resume_agent(session: AsyncSession, owner_id: uuid.UUID, agent_id: uuid.UUID) -> Agent:
    """Paused or failing → active; a failing agent starts over with a clean failure count."""
    agent = await get_owned_agent(session, owner_id, agent_id)
    if agent.status == AgentStatus.ACTIVE:
        raise AgentStateConflict(AgentStatus.ACTIVE)
    agent.status = AgentStatus.ACTIVE
    agent.status_reason = None
    agent.consecutive_failures = 0
    _schedule(agent)
    await session.flush()
    _announce(session, agent)
    return agent


async def rotate_webhook_token(
    session: AsyncSession, owner_id: uuid.UUID, agent_id: uuid.UUID
) -> Deployed:
    agent = await get_owned_agent(session, owner_id, agent_id)
    if agent.trigger.get("type") != "webhook":
        raise NotAWebhookAgent()
    token = _issue_webhook_token(agent)
    await session.flush()
    return Deployed(agent, token)


async def delete_agent(session: AsyncSession, owner_id: uuid.UUID, agent_id: uuid.UUID) -> None:
    """Its runs and their step records go with it (ON DELETE CASCADE)."""
    agent = await get_owned_agent(session, owner_id, agent_id)
    await lock_running_runs(session, Run.agent_id == agent.id)
    _announce(session, agent, status="deleted")
    await session.delete(agent)
    await session.flush()


LLM_CREDENTIAL = "openai"


async def missing_credentials(
    session: AsyncSession,
    owner_id: uuid.UUID,
    agents: list[Agent],
    *,
    default_llm: bool,
) -> dict[uuid.UUID, list[str]]:
    """Per agent, the credential kinds its template needs that the owner has not
    stored. An agent whose config lets an `llm` step run needs an `openai`
    credential unless the operator's default LLM (`default_llm`) serves it."""
    catalog = get_catalog()
    needs: dict[uuid.UUID, list[str]] = {}
    for agent in agents:
        template = catalog.get(agent.template_slug)
        needed = list(template.credentials) if template is not None else []
        if (
            template is not None
            and not default_llm
            and LLM_CREDENTIAL not in needed
            and template.uses_llm_with(agent.config)
        ):
            needed.append(LLM_CREDENTIAL)
        needs[agent.id] = needed
    # Agents that need no credential at all do not need the query.
    have = await stored_kinds(session, owner_id) if any(needs.values()) else set()
    return {
        agent_id: [kind for kind in needed if kind not in have]
        for agent_id, needed in needs.items()
    }
