import hashlib
import uuid
from datetime import datetime

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents.models import Agent
from botskis.marketplace.catalog import get_catalog
from botskis.realtime.pending import Event, peek_pending
from botskis.runs.models import Run, RunStep
from tests.agents.factories import REPORT_CONFIG, deploy
from tests.users.factories import Account, sign_up


async def test_deploy_applies_defaults_and_template_trigger(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account)
    assert agent["name"] == "Report Generator"
    assert agent["template_slug"] == "report-generator"
    assert agent["category"] == "productivity"
    assert agent["status"] == "active"
    assert agent["config"]["data_url"] == REPORT_CONFIG["data_url"]
    assert agent["config"]["report_title"] == "Weekly report"
    assert agent["config"]["data_headers"] == {}
    assert agent["trigger"] == {"type": "schedule", "cron": "0 8 * * 1", "timezone": "UTC"}
    next_run = datetime.fromisoformat(agent["next_run_at"])
    assert next_run.weekday() == 0 and next_run.hour == 8
    assert agent["webhook_url"] is None and agent["webhook_token"] is None


async def test_deploy_by_template_id_with_name_and_trigger(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    template = get_catalog().get("payment-reminder-bot")
    assert template is not None
    agent = await deploy(
        client,
        account,
        str(template.id),
        config={"grace_days": 7},
        name="  Chase invoices  ",
        trigger={"type": "schedule", "cron": "*/15 * * * *", "timezone": "Europe/Oslo"},
    )
    assert agent["name"] == "Chase invoices"
    assert agent["config"] == {
        "grace_days": 7,
        "max_reminders_per_run": 25,
        "minimum_amount_due": 0,
        "stripe_api_base": "https://api.stripe.com",
    }
    assert agent["trigger"]["timezone"] == "Europe/Oslo"
    assert datetime.fromisoformat(agent["next_run_at"]).minute % 15 == 0


async def test_interval_schedule_is_due_after_the_interval(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account, trigger={"type": "schedule", "interval_seconds": 300})
    created = datetime.fromisoformat(agent["created_at"])
    next_run = datetime.fromisoformat(agent["next_run_at"])
    assert 299 <= (next_run - created).total_seconds() <= 301


async def test_webhook_trigger_returns_hook_url_and_stores_only_a_hash(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account, trigger={"type": "webhook"})
    token = agent["webhook_token"]
    assert len(token) >= 40
    assert agent["webhook_url"] == f"http://testserver/api/v1/hooks/{token}"
    assert agent["next_run_at"] is None
    async with app.state.database.transaction() as session:
        row = await session.get(Agent, uuid.UUID(agent["id"]))
    assert row is not None
    assert row.webhook_token_hash == hashlib.sha256(token.encode()).hexdigest()
    again = await client.get(f"/api/v1/agents/{agent['id']}", headers=account.headers)
    assert again.json()["webhook_token"] is None and token not in again.text


async def test_rotate_replaces_the_webhook_token(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account, trigger={"type": "webhook"})
    rotated = await client.post(
        f"/api/v1/agents/{agent['id']}/webhook/rotate", headers=account.headers
    )
    assert rotated.status_code == 200
    new_token = rotated.json()["webhook_token"]
    assert new_token and new_token != agent["webhook_token"]
    async with app.state.database.transaction() as session:
        row = await session.get(Agent, uuid.UUID(agent["id"]))
    assert row is not None
    assert row.webhook_token_hash == hashlib.sha256(new_token.encode()).hexdigest()


async def test_rotate_without_webhook_trigger_is_409(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account)
    response = await client.post(
        f"/api/v1/agents/{agent['id']}/webhook/rotate", headers=account.headers
    )
    assert response.status_code == 409


async def test_unknown_template_is_404(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    for template_id in ("no-such-template", str(uuid.uuid4())):
        response = await client.post(
            "/api/v1/agents/deploy",
            headers=account.headers,
            json={"template_id": template_id, "config": {}},
        )
        assert response.status_code == 404
        assert template_id in response.json()["detail"]


async def test_invalid_config_lists_every_violation(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    response = await client.post(
        "/api/v1/agents/deploy",
        headers=account.headers,
        json={
            "template_id": "report-generator",
            "config": {"recipients": [], "report_title": 5, "surprise": True},
        },
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"config.data_url", "config.recipients", "config.report_title", "config"} <= fields


async def test_config_formats_are_checked(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    response = await client.post(
        "/api/v1/agents/deploy",
        headers=account.headers,
        json={
            "template_id": "report-generator",
            "config": {"data_url": "https://x.test/a", "recipients": ["not-an-email"]},
        },
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["config.recipients.0"]


async def test_config_and_trigger_errors_come_together(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    response = await client.post(
        "/api/v1/agents/deploy",
        headers=account.headers,
        json={
            "template_id": "report-generator",
            "config": {},
            "trigger": {"type": "schedule", "interval_seconds": 10},
        },
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"config.data_url", "config.recipients", "trigger.interval_seconds"} <= fields


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        ({"type": "schedule", "cron": "99 * * * *"}, "trigger.cron"),
        ({"type": "schedule", "cron": "0 9 * * *", "timezone": "Nowhere/City"}, "trigger.timezone"),
        ({"type": "schedule", "interval_seconds": 30}, "trigger.interval_seconds"),
        ({"type": "sometimes"}, "trigger.type"),
    ],
)
async def test_bad_trigger_is_422(
    client: httpx.AsyncClient, trigger: dict[str, object], field: str
) -> None:
    account = await sign_up(client)
    response = await client.post(
        "/api/v1/agents/deploy",
        headers=account.headers,
        json={"template_id": "report-generator", "config": REPORT_CONFIG, "trigger": trigger},
    )
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_oversized_config_is_422(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    config = {**REPORT_CONFIG, "data_headers": {f"h{i}": "x" * 1000 for i in range(70)}}
    response = await client.post(
        "/api/v1/agents/deploy",
        headers=account.headers,
        json={"template_id": "report-generator", "config": config},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "config"
    assert "65536" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"config": {}},
        {"template_id": "report-generator", "config": []},
        {"template_id": 5, "config": {}},
        {"template_id": "report-generator", "config": {}, "owner_id": str(uuid.uuid4())},
        {"template_id": "report-generator", "name": "", "config": {}},
        {"template_id": "report-generator", "config": {}, "trigger": "manual"},
    ],
)
async def test_malformed_deploy_body_is_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    account = await sign_up(client)
    response = await client.post("/api/v1/agents/deploy", headers=account.headers, json=body)
    assert response.status_code == 422


async def test_list_filters_by_status_and_category(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    report = await deploy(client, account)
    payment = await deploy(client, account, "payment-reminder-bot", config={})
    await client.post(f"/api/v1/agents/{payment['id']}/pause", headers=account.headers)
    everything = await client.get("/api/v1/agents", headers=account.headers)
    assert everything.json()["total"] == 2
    paused = await client.get("/api/v1/agents?status=paused", headers=account.headers)
    assert [a["id"] for a in paused.json()["items"]] == [payment["id"]]
    productivity = await client.get("/api/v1/agents?category=productivity", headers=account.headers)
    assert [a["id"] for a in productivity.json()["items"]] == [report["id"]]
    page = await client.get("/api/v1/agents?limit=1&offset=1", headers=account.headers)
    assert page.json()["total"] == 2 and len(page.json()["items"]) == 1
    bad = await client.get("/api/v1/agents?status=sleeping", headers=account.headers)
    assert bad.status_code == 422


async def test_patch_revalidates_config_and_changes_trigger(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account)
    url = f"/api/v1/agents/{agent['id']}"
    bad = await client.patch(url, headers=account.headers, json={"config": {"recipients": []}})
    assert bad.status_code == 422
    new_config = {**REPORT_CONFIG, "report_title": "Daily numbers"}
    response = await client.patch(
        url,
        headers=account.headers,
        json={"name": "Numbers", "config": new_config, "trigger": {"type": "webhook"}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Numbers"
    assert body["config"]["report_title"] == "Daily numbers"
    assert body["config"]["instructions"].startswith("Lead with")
    assert body["trigger"] == {"type": "webhook"}
    assert body["next_run_at"] is None and body["webhook_token"]
    manual = await client.patch(url, headers=account.headers, json={"trigger": {"type": "manual"}})
    assert manual.json()["trigger"] == {"type": "manual"}
    rotate = await client.post(f"{url}/webhook/rotate", headers=account.headers)
    assert rotate.status_code == 409


async def test_patch_with_bad_trigger_changes_nothing(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account)
    url = f"/api/v1/agents/{agent['id']}"
    response = await client.patch(
        url,
        headers=account.headers,
        json={"name": "Renamed", "trigger": {"type": "schedule", "cron": "bad"}},
    )
    assert response.status_code == 422
    assert (await client.get(url, headers=account.headers)).json()["name"] == agent["name"]


async def test_pause_and_resume_with_conflicts(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account)
    url = f"/api/v1/agents/{agent['id']}"
    conflict = await client.post(f"{url}/resume", headers=account.headers)
    assert conflict.status_code == 409
    paused = await client.post(f"{url}/pause", headers=account.headers)
    assert paused.status_code == 200
    assert paused.json()["status"] == "paused" and paused.json()["next_run_at"] is None
    assert (await client.post(f"{url}/pause", headers=account.headers)).status_code == 409
    resumed = await client.post(f"{url}/resume", headers=account.headers)
    assert resumed.json()["status"] == "active" and resumed.json()["next_run_at"] is not None
    assert resumed.json()["status_reason"] is None


async def test_resume_brings_back_a_failing_agent(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account)
    async with app.state.database.transaction() as session:
        await session.execute(
            sa.update(Agent)
            .where(Agent.id == uuid.UUID(agent["id"]))
            .values(status="failing", status_reason="5 runs failed", consecutive_failures=5)
        )
    url = f"/api/v1/agents/{agent['id']}"
    shown = (await client.get(url, headers=account.headers)).json()
    assert shown["status"] == "failing" and shown["status_reason"] == "5 runs failed"
    resumed = await client.post(f"{url}/resume", headers=account.headers)
    assert resumed.json()["status"] == "active"
    assert resumed.json()["consecutive_failures"] == 0


async def test_delete_is_204_then_404(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account)
    url = f"/api/v1/agents/{agent['id']}"
    assert (await client.delete(url, headers=account.headers)).status_code == 204
    assert (await client.get(url, headers=account.headers)).status_code == 404
    assert (await client.delete(url, headers=account.headers)).status_code == 404


async def test_needs_credentials_until_stored(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account, "payment-reminder-bot", config={})
    assert agent["needs_credentials"] == ["stripe"]
    await client.post(
        "/api/v1/credentials",
        headers=account.headers,
        json={"kind": "stripe", "name": "Stripe", "secret": {"secret_key": "sk_test_123"}},
    )
    shown = await client.get(f"/api/v1/agents/{agent['id']}", headers=account.headers)
    assert shown.json()["needs_credentials"] == []
    listed = await client.get("/api/v1/agents", headers=account.headers)
    assert listed.json()["items"][0]["needs_credentials"] == []


async def _others_agent(client: httpx.AsyncClient) -> tuple[Account, Account, str]:
    owner = await sign_up(client)
    intruder = await sign_up(client)
    agent = await deploy(client, owner, trigger={"type": "webhook"})
    return owner, intruder, f"/api/v1/agents/{agent['id']}"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"name": "mine now"}),
        ("DELETE", "", None),
        ("POST", "/pause", None),
        ("POST", "/resume", None),
        ("POST", "/webhook/rotate", None),
    ],
)
async def test_other_users_agent_is_404(
    client: httpx.AsyncClient, method: str, suffix: str, body: dict[str, str] | None
) -> None:
    owner, intruder, url = await _others_agent(client)
    response = await client.request(method, url + suffix, headers=intruder.headers, json=body)
    assert response.status_code == 404
    still = await client.get(url, headers=owner.headers)
    assert still.status_code == 200 and still.json()["name"] != "mine now"
    assert still.json()["status"] == "active"
    listed = await client.get("/api/v1/agents", headers=intruder.headers)
    assert listed.json()["total"] == 0


async def test_unknown_or_malformed_agent_id(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    missing = await client.get(f"/api/v1/agents/{uuid.uuid4()}", headers=account.headers)
    assert missing.status_code == 404
    malformed = await client.get("/api/v1/agents/not-a-uuid", headers=account.headers)
    assert malformed.status_code == 422


async def test_agent_routes_need_auth(client: httpx.AsyncClient) -> None:
    some = f"/api/v1/agents/{uuid.uuid4()}"
    for method, path in [
        ("POST", "/api/v1/agents/deploy"),
        ("GET", "/api/v1/agents"),
        ("GET", some),
        ("PATCH", some),
        ("DELETE", some),
        ("POST", f"{some}/pause"),
        ("POST", f"{some}/resume"),
        ("POST", f"{some}/webhook/rotate"),
    ]:
        assert (await client.request(method, path)).status_code == 401, path


async def test_every_change_emits_agent_update_after_commit(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    received: list[Event] = []

    async def record(session: AsyncSession) -> None:
        received.extend(peek_pending(session))

    app.state.database.after_commit(record)
    account = await sign_up(client)
    agent = await deploy(client, account)
    url = f"/api/v1/agents/{agent['id']}"
    await client.patch(url, headers=account.headers, json={"name": "Renamed"})
    await client.post(f"{url}/pause", headers=account.headers)
    await client.post(f"{url}/resume", headers=account.headers)
    await client.post(f"{url}/resume", headers=account.headers)  # 409: rolled back, no event
    await client.delete(url, headers=account.headers)
    updates = [e for e in received if e.type == "agent_update"]
    assert [e.fields["data"]["status"] for e in updates] == [
        "active",
        "active",
        "paused",
        "active",
        "deleted",
    ]
    assert updates[1].fields["data"]["name"] == "Renamed"
    assert all(e.agent_id == uuid.UUID(agent["id"]) for e in updates)
    assert all(str(e.user_id) == account.id for e in updates)


async def test_delete_takes_the_agents_runs_with_it(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    doomed = await deploy(client, account)
    kept = await deploy(client, account)
    async with app.state.database.transaction() as session:
        for agent in (doomed, kept):
            run = Run(
                agent_id=uuid.UUID(agent["id"]),
                owner_id=uuid.UUID(account.id),
                template_slug="report-generator",
                trigger="manual",
                status="succeeded",
                workflow={"steps": []},
            )
            session.add(run)
            await session.flush()
            session.add(
                RunStep(run_id=run.id, step_id="fetch", position=0, kind="http", status="succeeded")
            )
    deleted = await client.delete(f"/api/v1/agents/{doomed['id']}", headers=account.headers)
    assert deleted.status_code == 204
    async with app.state.database.transaction() as session:
        runs = (await session.scalars(sa.select(Run.agent_id))).all()
        steps = await session.scalar(sa.select(sa.func.count()).select_from(RunStep))
    assert runs == [uuid.UUID(kept["id"])]
    assert steps == 1


async def test_concurrency_and_timeout_are_settable_within_bounds(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    agent = await deploy(client, account, max_concurrent_runs=3, timeout_seconds=120)
    assert (agent["max_concurrent_runs"], agent["timeout_seconds"]) == (3, 120)
    url = f"/api/v1/agents/{agent['id']}"
    patched = await client.patch(url, headers=account.headers, json={"timeout_seconds": 60})
    assert patched.json()["timeout_seconds"] == 60 and patched.json()["max_concurrent_runs"] == 3
    for body in (
        {"max_concurrent_runs": 0},
        {"max_concurrent_runs": 11},
        {"timeout_seconds": 5},
        {"timeout_seconds": "60"},
        {"timeout_seconds": 99999},
    ):
        response = await client.patch(url, headers=account.headers, json=body)
        assert response.status_code == 422, body
