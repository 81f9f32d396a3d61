"""CR/LF and NUL in what a client controls never split one event into two lines
of the JSON log (each record is one JSON object per line by construction)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from botskis.app import create_app
from tests.conftest import make_settings

FORGED = "%0d%0aFORGED%20|%20INFO%20|%20forged%00"


@pytest.fixture
async def json_client(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(make_settings(database_url, tmp_path / "logs", log_format="json"))
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


async def test_line_breaks_in_path_query_and_login_stay_inside_one_json_line(
    json_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await json_client.get(f"/api/v1/agents/{FORGED}")
    await json_client.get(f"/api/v1/marketplace/search?q={FORGED}")
    await json_client.post(
        "/api/v1/auth/login", json={"email": "a\r\nFORGED | INFO | x@example.com", "password": "p"}
    )
    lines = (tmp_path / "logs" / "app.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one whole object
    assert not any(line.startswith("FORGED") for line in lines)
    paths = [r.get("path", "") for r in records if r.get("message") == "request"]
    assert any("FORGED" in path for path in paths)
