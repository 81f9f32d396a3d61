from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status

from botskis.api.dependencies import SessionDep, SettingsDep
from botskis.core.auth import CurrentUser, VerifiedUser
from botskis.core.pagination import Page, PageDep
from botskis.runs import schemas, service
from botskis.runs.models import Run, RunStatus
from botskis.runs.webhook_payloads import read_webhook_payload

router = APIRouter(tags=["runs"])
hooks_router = APIRouter(tags=["webhooks"])

IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
]


@router.post(
    "/agents/{agent_id}/run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.RunAccepted,
)
async def run_agent(
    agent_id: uuid.UUID,
    user: VerifiedUser,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
    body: schemas.RunCreate | None = None,
) -> schemas.RunAccepted:
    run = await service.request_run(
        session,
        user.id,
        agent_id,
        input=body.input if body else {},
        idempotency_key=idempotency_key,
    )
    return schemas.RunAccepted(run_id=run.id, status=run.status)  # type: ignore[arg-type]


@router.get("/agents/{agent_id}/runs", response_model=Page[schemas.Run])
async def list_agent_runs(
    agent_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    run_status: Annotated[RunStatus | None, Query(alias="status")] = None,
) -> Page[schemas.Run]:
    runs, total = await service.list_runs(session, user.id, agent_id, page, status=run_status)
    return Page[schemas.Run](
        items=[schemas.Run.model_validate(r) for r in runs],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/runs/{run_id}", response_model=schemas.RunDetail)
async def get_run(run_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> schemas.RunDetail:
    run = await service.get_owned_run(session, user.id, run_id)
    steps = await service.run_steps(session, run.id)
    return schemas.RunDetail.model_validate(
        {
            **schemas.Run.model_validate(run).model_dump(),
            "steps": [schemas.RunStep.model_validate(s) for s in steps],
        }
    )


@router.post("/runs/{run_id}/cancel", response_model=schemas.Run)
async def cancel_run(
    run_id: uuid.UUID, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Run:
    return await service.cancel_run(session, settings, user.id, run_id)


@router.post(
    "/runs/{run_id}/retry", status_code=status.HTTP_202_ACCEPTED, response_model=schemas.RunAccepted
)
async def retry_run(
    run_id: uuid.UUID, user: VerifiedUser, session: SessionDep
) -> schemas.RunAccepted:
    run = await service.retry_run(session, user.id, run_id)
    return schemas.RunAccepted(run_id=run.id, status=run.status)  # type: ignore[arg-type]


@hooks_router.post(
    "/hooks/{token}", status_code=status.HTTP_202_ACCEPTED, response_model=schemas.RunAccepted
)
async def receive_webhook(
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    event_id: Annotated[
        str | None, Header(alias="X-Event-Id", min_length=1, max_length=200)
    ] = None,
) -> schemas.RunAccepted:
    """Stored as a queued run before the 202 is sent; a repeated X-Event-Id
    returns the run of the first delivery. The body is JSON, a form or a
    multipart form (files as attachment metadata)."""
    payload = await read_webhook_payload(request)
    run = await service.accept_webhook(session, settings, token[:200], payload, event_id=event_id)
    return schemas.RunAccepted(run_id=run.id, status=run.status)  # type: ignore[arg-type]
