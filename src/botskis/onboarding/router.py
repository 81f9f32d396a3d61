from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from botskis.agents.router import present_agents
from botskis.api.dependencies import SessionDep, SettingsDep
from botskis.core.auth import CurrentUser, VerifiedUser
from botskis.marketplace.catalog import get_catalog
from botskis.onboarding import schemas, service
from botskis.onboarding.models import OnboardingSession
from botskis.onboarding.questions import QUESTIONS
from botskis.onboarding.recommendations import Recommendation

router = APIRouter(prefix="/onboarding", tags=["onboarding"])

QUESTIONS_OUT = [
    schemas.Question(
        id=q.id,
        text=q.text,
        kind=q.kind,
        required=q.required,
        options=[schemas.Option(id=o.id, label=o.label) for o in q.options],
        max_length=q.max_length,
    )
    for q in QUESTIONS
]


def _recommendation(rec: Recommendation) -> schemas.Recommendation:
    t = rec.template
    return schemas.Recommendation(
        template_id=t.id,
        slug=t.slug,
        name=t.name,
        category=t.category,
        score=rec.score,
        reason=rec.reason,
    )


def _session(onboarding: OnboardingSession) -> schemas.Session:
    catalog = get_catalog()
    stored = None
    if onboarding.recommendations is not None:
        stored = [
            schemas.Recommendation(
                template_id=t.id,
                slug=t.slug,
                name=t.name,
                category=t.category,
                score=item["score"],
                reason=item["reason"],
            )
            for item in onboarding.recommendations
            if (t := catalog.get(item["slug"])) is not None
        ]
    return schemas.Session(
        id=onboarding.id,
        questions=QUESTIONS_OUT,
        answers=onboarding.answers,
        recommendations=stored,
        completed_at=onboarding.completed_at,
        created_at=onboarding.created_at,
        updated_at=onboarding.updated_at,
    )


@router.get("", response_model=schemas.Session)
async def read_session(user: CurrentUser, session: SessionDep) -> schemas.Session:
    return _session(await service.get_or_create_session(session, user.id))


@router.post("/answers", response_model=schemas.Session)
async def save_answers(
    body: schemas.AnswersIn, user: CurrentUser, session: SessionDep
) -> schemas.Session:
    answers = [(a.question_id, a.answer) for a in body.answers]
    return _session(await service.save_answers(session, user.id, answers))


@router.post("/recommendations", response_model=schemas.Recommendations)
async def recommend(
    user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> schemas.Recommendations:
    source, top = await service.recommend(session, settings, user.id)
    return schemas.Recommendations(
        source="llm" if source == "llm" else "rules",
        recommendations=[_recommendation(r) for r in top],
    )


@router.post(
    "/complete",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Completed,
    responses={404: {"description": "No such template"}},
)
async def complete(
    body: schemas.CompleteIn, user: VerifiedUser, session: SessionDep, request: Request
) -> schemas.Completed:
    deployed = await service.complete(
        session, user.id, template_ids=body.template_ids, configs=body.configs
    )
    shown = []
    for item in deployed:
        shown += await present_agents(
            request, session, [item.agent], webhook_token=item.webhook_token
        )
    return schemas.Completed(agents=shown)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def restart(user: CurrentUser, session: SessionDep) -> Response:
    await service.restart(session, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
