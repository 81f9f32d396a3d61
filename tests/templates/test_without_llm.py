"""Templates that need no LLM run on a server with no LLM and no SMTP configured,
as after `./run.sh`; only outbound http to the local fakes is allowed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from botskis.config import Settings
from botskis.marketplace.catalog import get_catalog
from tests.conftest import make_settings
from tests.fakes.threaded_http import Reply
from tests.fakes.vendor_server import FakeVendorServer
from tests.live_server import free_port
from tests.templates.agent_runs import deliver_webhook, deploy, fire_schedule
from tests.users.factories import sign_up


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "logs", http_allowlist="127.0.0.1")


def test_these_templates_have_no_llm_step() -> None:
    for slug in ("system-health-monitor", "zapier-alternative", "inventory-monitor"):
        template = get_catalog().get(slug)
        assert template is not None
        assert all(step.kind != "llm" for step in template.workflow.steps), slug


async def test_health_monitor_and_zapier_alternative_run_with_no_llm_configured(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    assert app.state.settings.openai_base_url is None and app.state.settings.smtp_host is None
    account = await sign_up(client)
    monitor = await deploy(
        client, account, "system-health-monitor", {"url": f"{fake_vendor.url}/status"}
    )
    fake_vendor.respond("/status", Reply(500, body="down"))
    probed = await fire_schedule(app, client, account, monitor)
    assert probed["status"] == "succeeded", probed
    listed = await client.get("/api/v1/notifications", headers=account.headers)
    assert [n["title"] for n in listed.json()["items"]] == [
        f"{fake_vendor.url}/status is unhealthy"
    ]

    closed = free_port()
    down = await deploy(
        client, account, "system-health-monitor", {"url": f"http://127.0.0.1:{closed}/"}
    )
    unreachable = await fire_schedule(app, client, account, down)
    assert unreachable["status"] == "succeeded", unreachable
    listed = await client.get("/api/v1/notifications", headers=account.headers)
    alert = next(n for n in listed.json()["items"] if str(closed) in n["title"])
    assert alert["message"].startswith("unreachable: cannot reach 127.0.0.1")

    forwarder = await deploy(
        client, account, "zapier-alternative", {"target_url": f"{fake_vendor.url}/in"}
    )
    forwarded = await deliver_webhook(client, account, forwarder, {"id": 1})
    assert forwarded["status"] == "succeeded", forwarded
    assert fake_vendor.requests_to("/in", "POST")[0].json == {"id": 1}
