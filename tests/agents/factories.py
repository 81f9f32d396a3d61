"""Agents for tests, deployed through the API like a real client would."""

from __future__ import annotations

from typing import Any

import httpx

from tests.users.factories import Account

REPORT_CONFIG = {"data_url": "https://example.com/figures.json", "recipients": ["boss@example.com"]}


async def deploy(
    client: httpx.AsyncClient,
    account: Account,
    template_id: str = "report-generator",
    *,
    config: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body = {"template_id": template_id, "config": REPORT_CONFIG if config is None else config}
    body.update(fields)
    response = await client.post("/api/v1/agents/deploy", headers=account.headers, json=body)
    assert response.status_code == 201, response.text
    agent: dict[str, Any] = response.json()
    return agent
