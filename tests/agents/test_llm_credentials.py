"""An agent whose template needs an LLM reports `openai` in needs_credentials
while neither the owner's `openai` credential nor the operator's default LLM
(OPENAI_API_KEY / OPENAI_BASE_URL) can serve it, before its first run fails."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from botskis.config import Settings
from botskis.marketplace.catalog import get_catalog
from tests.agents.factories import deploy
from tests.conftest import make_settings
from tests.users.factories import Account, sign_up

NO_OPERATOR_LLM = {"openai_api_key": None, "openai_base_url": None}


@pytest.fixture(
    params=[
        pytest.param(NO_OPERATOR_LLM, id="no-operator-llm"),
        pytest.param({**NO_OPERATOR_LLM, "openai_api_key": "sk-operator"}, id="operator-key"),
        pytest.param(
            {**NO_OPERATOR_LLM, "openai_base_url": "http://127.0.0.1:11434/v1"},
            id="operator-base-url",
        ),
    ]
)
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "logs", **request.param)


async def _needs(client: httpx.AsyncClient, account: Account, agent_id: str) -> list[str]:
    shown = await client.get(f"/api/v1/agents/{agent_id}", headers=account.headers)
    listed = await client.get("/api/v1/agents", headers=account.headers)
    (item,) = [a for a in listed.json()["items"] if a["id"] == agent_id]
    assert shown.json()["needs_credentials"] == item["needs_credentials"]
    needs: list[str] = shown.json()["needs_credentials"]
    return needs


async def test_an_llm_agent_needs_openai_unless_the_operator_or_a_credential_serves_it(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account, "report-generator")
    expected = [] if settings.default_llm_configured else ["openai"]
    assert agent["needs_credentials"] == expected
    assert await _needs(client, account, agent["id"]) == expected
    stored = await client.post(
        "/api/v1/credentials",
        headers=account.headers,
        json={"kind": "openai", "name": "My OpenAI", "secret": {"api_key": "sk-user"}},
    )
    assert stored.status_code == 201, stored.text
    assert await _needs(client, account, agent["id"]) == []


async def test_an_agent_without_llm_steps_never_needs_openai(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account, "payment-reminder-bot", config={})
    assert agent["needs_credentials"] == ["stripe"]


def test_an_llm_step_behind_a_config_switch_counts_only_when_switched_on() -> None:
    catalog = get_catalog()
    digest = catalog.get("slack-digest")
    assert digest is not None
    assert not digest.uses_llm_with({"ai_summary": False})
    assert digest.uses_llm_with({"ai_summary": True})
    report = catalog.get("report-generator")
    assert report is not None and report.uses_llm_with({})
    reminders = catalog.get("payment-reminder-bot")
    assert reminders is not None and not reminders.uses_llm_with({})


async def test_the_template_detail_says_whether_deploying_needs_an_openai_credential(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """What the deploy page shows before the deploy: only for an llm step that
    runs with the config's defaults, only without the operator's default LLM."""

    async def needed(slug: str) -> bool:
        response = await client.get(f"/api/v1/marketplace/templates/{slug}")
        assert response.status_code == 200, response.text
        flag: bool = response.json()["llm_credential_needed"]
        return flag

    without_operator = not settings.default_llm_configured
    assert await needed("report-generator") is without_operator
    assert await needed("slack-digest") is False  # its AI summary is off by default
    assert await needed("payment-reminder-bot") is False
