"""The onboarding wizard: one session per user, answers checked against the
questions, recommendations from the rules (optionally an LLM), and deployment
of the chosen templates in one unit of work."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents import service as agents
from botskis.agents.configuration import config_errors
from botskis.billing.service import check_agent_quota
from botskis.config import Settings
from botskis.core.errors import ValidationFailed
from botskis.database.base import utcnow
from botskis.marketplace.catalog import Template, get_catalog
from botskis.onboarding.errors import QuestionsUnanswered
from botskis.onboarding.models import OnboardingSession
from botskis.onboarding.questions import QUESTIONS, QUESTIONS_BY_ID, answer_error
from botskis.onboarding.recommendations import Recommendation, rank, rerank_with_llm


async def get_or_create_session(session: AsyncSession, user_id: uuid.UUID) -> OnboardingSession:
    found = await session.scalar(
        select(OnboardingSession).where(OnboardingSession.user_id == user_id)
    )
    if found is not None:
        return found
    created = OnboardingSession(user_id=user_id, answers={})
    try:
        async with session.begin_nested():
            session.add(created)
            # Flushed here, through the session, so on SQLite the insert waits
            # for its write turn (database/write_turn.py) like every other write.
            await session.flush()
    except IntegrityError:
        # A concurrent first call created it; use that one.
        existing = await session.scalar(
            select(OnboardingSession).where(OnboardingSession.user_id == user_id)
        )
        assert existing is not None
        return existing
    return created


async def save_answers(
    session: AsyncSession, user_id: uuid.UUID, answers: list[tuple[str, Any]]
) -> OnboardingSession:
    """Checks every answer first; stores them only when all are valid."""
    errors = []
    for index, (question_id, answer) in enumerate(answers):
        question = QUESTIONS_BY_ID.get(question_id)
        if question is None:
            known = ", ".join(QUESTIONS_BY_ID)
            message = f"unknown question '{question_id}'; questions are {known}"
        else:
            message = answer_error(question, answer) or ""
        if message:
            errors.append({"field": f"answers.{index}.{question_id}", "message": message})
    if errors:
        names = ", ".join(sorted({e["field"].rsplit(".", 1)[-1] for e in errors}))
        raise ValidationFailed(f"Invalid answer to: {names}", errors)
    onboarding = await get_or_create_session(session, user_id)
    onboarding.answers = {**onboarding.answers, **dict(answers)}
    await session.flush()
    return onboarding


async def recommend(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID
) -> tuple[str, list[Recommendation]]:
    """(source, top 3). The rules always run; an LLM may reorder and reword them."""
    onboarding = await get_or_create_session(session, user_id)
    missing = [q.id for q in QUESTIONS if q.required and not onboarding.answers.get(q.id)]
    if missing:
        raise QuestionsUnanswered(missing)
    ranked = rank(get_catalog().all(), onboarding.answers)
    source, top = "rules", ranked[:3]
    if settings.default_llm_configured:
        picked = await rerank_with_llm(settings, onboarding.answers, ranked)
        if picked is not None:
            source, top = "llm", picked
    onboarding.recommendations = [
        {"slug": r.template.slug, "score": r.score, "reason": r.reason, "source": source}
        for r in top
    ]
    await session.flush()
    return source, top


async def complete(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    template_ids: list[str],
    configs: dict[str, dict[str, Any]],
) -> list[agents.Deployed]:
    """Deploys every chosen template or none: all configs are checked, then the quota."""
    catalog = get_catalog()
    errors: list[dict[str, str]] = []
    chosen: list[tuple[Template, dict[str, Any]]] = []
    for key in template_ids:
        template = catalog.get(key)
        if template is None:
            errors.append({"field": f"template_ids.{key}", "message": "no such template"})
            continue
        if any(t.slug == template.slug for t, _ in chosen):
            errors.append({"field": f"template_ids.{key}", "message": "listed twice"})
            continue
        config = configs.get(key, {})
        for error in config_errors(template.config_schema, config)[1]:
            errors.append({"field": f"configs.{key}.{error['field']}", "message": error["message"]})
        chosen.append((template, config))
    for key in configs:
        if key not in template_ids:
            errors.append({"field": f"configs.{key}", "message": "not one of template_ids"})
    if errors:
        raise ValidationFailed("The chosen templates cannot be deployed as given", errors)
    await check_agent_quota(session, user_id, adding=len(chosen))
    deployed = [
        await agents.deploy_agent(
            session, user_id, template_id=t.slug, name=None, config=config, trigger=None
        )
        for t, config in chosen
    ]
    onboarding = await get_or_create_session(session, user_id)
    onboarding.completed_at = utcnow()
    await session.flush()
    return deployed


async def restart(session: AsyncSession, user_id: uuid.UUID) -> None:
    found = await session.scalar(
        select(OnboardingSession).where(OnboardingSession.user_id == user_id)
    )
    if found is not None:
        await session.delete(found)
        await session.flush()
