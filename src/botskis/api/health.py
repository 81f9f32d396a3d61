"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers. No I/O, so it stays fast under load."""
    return {"status": "ok"}


@router.get("/ready", response_model=None)
async def ready() -> JSONResponse:
    return JSONResponse({"status": "ready"})
