"""Waiting for runs to reach a state, through the API or the database."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from botskis.database.connection import Database
from botskis.runs.models import Run
from tests.runs.factories import load_run

FINISHED = ("succeeded", "failed", "cancelled")


async def wait_for_api_run(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    run_id: str,
    statuses: tuple[str, ...] = FINISHED,
    timeout: float = 20.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/api/v1/runs/{run_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in statuses:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} stayed {body['status']}")
        await asyncio.sleep(0.02)


async def wait_for_run(
    database: Database,
    run_id: uuid.UUID,
    statuses: tuple[str, ...] = FINISHED,
    timeout: float = 20.0,
) -> Run:
    deadline = time.monotonic() + timeout
    while True:
        run = await load_run(database, run_id)
        if run.status in statuses:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} stayed {run.status}")
        await asyncio.sleep(0.02)
