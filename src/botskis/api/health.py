"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import hmac
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from loguru import logger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from botskis.api.dependencies import DatabaseDep, SettingsDep
from botskis.core import metrics
from botskis.core.errors import PROBLEM_JSON, NotFound, Unauthorized, request_id_of
from botskis.database import migrate
from botskis.database.connection import Database

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_SECONDS = 3.0


@lru_cache(maxsize=1)
def _head_revisions() -> frozenset[str]:
    return frozenset(migrate.head_revisions())


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers. No I/O, so it stays fast under load."""
    return {"status": "ok"}


async def _database_check(connection: AsyncConnection) -> None:
    await connection.execute(text("SELECT 1"))


async def _check_database(database: Database) -> str | None:
    async with database.engine.connect() as connection:
        await _database_check(connection)
        current = await connection.run_sync(migrate.current_revisions)
    heads = _head_revisions()
    if current != heads:
        return f"migrations: at {sorted(current) or 'none'}, head is {sorted(heads)}"
    return None


async def _check_redis(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_timeout=CHECK_TIMEOUT_SECONDS)
    try:
        await client.ping()
    finally:
        await client.aclose()


@router.get("/ready", response_model=None)
async def ready(request: Request, database: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    """Readiness: a database round trip, migrations at head, Redis when configured.
    503 names the failed check, so a load balancer's log says what is wrong."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            behind = await _check_database(database)
        checks["database"] = "ok"
        checks["migrations"] = "ok" if behind is None else behind.removeprefix("migrations: ")
    except Exception as exc:
        checks["database"] = f"failed: {type(exc).__name__}"
        checks["migrations"] = "unknown"
    if settings.redis_url:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                await _check_redis(settings.redis_url)
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"failed: {type(exc).__name__}"
    failed = [name for name, state in checks.items() if state != "ok"]
    if not failed:
        return JSONResponse({"status": "ready", "checks": checks})
    logger.bind(checks=checks).warning("not ready")
    return JSONResponse(
        {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": "not ready: " + ", ".join(failed),
            "request_id": request_id_of(request),
            "checks": checks,
        },
        status_code=503,
        media_type=PROBLEM_JSON,
    )


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def prometheus_metrics(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Prometheus text; needs Authorization: Bearer METRICS_TOKEN, and does not
    exist at all (404) when no token is configured."""
    token = settings.metrics_token
    if not token:
        raise NotFound("No route matches GET /metrics")
    supplied = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(supplied.encode(), token.encode()):
        raise Unauthorized("Send Authorization: Bearer <METRICS_TOKEN>")
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
