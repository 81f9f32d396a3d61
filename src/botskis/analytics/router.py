from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from botskis.agents.service import get_owned_agent
from botskis.analytics import schemas, service
from botskis.analytics.export import series_csv
from botskis.analytics.models import Granularity
from botskis.api.dependencies import SessionDep
from botskis.core.auth import CurrentUser
from botskis.database.base import utcnow

router = APIRouter(tags=["analytics"])

From = Annotated[AwareDatetime | None, Query(alias="from", description="ISO 8601, with offset")]
To = Annotated[
    AwareDatetime | None, Query(alias="to", description="ISO 8601, with offset; default now")
]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with ?format=csv"}
}


def _csv(points: list[schemas.SeriesPoint], name: str) -> Response:
    return Response(
        series_csv(points),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/analytics/overview", response_model=schemas.Overview, responses=CSV_RESPONSE)
async def analytics_overview(
    user: CurrentUser,
    session: SessionDep,
    start: From = None,
    end: To = None,
    granularity: Granularity = Granularity.DAY,
    format: schemas.ExportFormat = schemas.ExportFormat.JSON,
) -> schemas.Overview | Response:
    """Your account's runs over a range (default the last 7 days): totals, a time
    series, failing agents, top error groups with their trend, and time saved.
    `?format=csv` exports the time series."""
    window = service.checked_range(start, end, granularity, utcnow())
    result = await service.overview(session, user.id, window)
    if format is schemas.ExportFormat.CSV:
        return _csv(result.series, "analytics")
    return result


@router.get(
    "/agents/{agent_id}/analytics", response_model=schemas.AgentAnalytics, responses=CSV_RESPONSE
)
async def agent_analytics(
    agent_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    start: From = None,
    end: To = None,
    granularity: Granularity = Granularity.DAY,
    format: schemas.ExportFormat = schemas.ExportFormat.JSON,
) -> schemas.AgentAnalytics | Response:
    """One of your agents' runs over a range; the same figures as the overview."""
    window = service.checked_range(start, end, granularity, utcnow())
    agent = await get_owned_agent(session, user.id, agent_id)
    result = await service.agent_analytics(session, agent, window)
    if format is schemas.ExportFormat.CSV:
        return _csv(result.series, f"agent-{agent.id}")
    return result
