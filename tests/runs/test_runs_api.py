from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.agents.models import Agent
from botskis.database.base import utcnow
from botskis.runs.models import Run
from tests.billing.factories import set_runs_used
from tests.fakes.threaded_http import Reply
from tests.fakes.vendor_server import FakeVendorServer
from tests.runs.factories import THREE_STEPS, create_agent, queue_run
from tests.runs.helpers import wait_for_api_run, wait_for_run
from tests.users.factories import Account, sign_up


async def _forwarding_agent(app: FastAPI, account: Account, vendor: FakeVendorServer) -> Agent:
    return await create_agent(
        app.state.database,
        account.id,
        template_slug="zapier-alternative",
        config={
            "target_url": f"{vendor.url}/deliver",
            "method": "POST",
            "headers": {},
            "include_fields": [],
            "extra_fields": {"source": "botskis"},
            "required_fields": [],
            "match_field": "",
            "match_value": "",
            "notify_on_delivery": False,
        },
    )


async def test_run_is_accepted_then_executed_with_every_step_recorded(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await _forwarding_agent(app, account, fake_vendor)
    response = await client.post(
        f"/api/v1/agents/{agent.id}/run", headers=account.headers, json={"input": {"order": 7}}
    )
    assert response.status_code == 202, response.text
    run = await wait_for_api_run(client, account.headers, response.json()["run_id"])
    assert run["status"] == "succeeded", run
    assert run["trigger"] == "manual" and run["input"] == {"order": 7}
    assert run["attempts"] == 1 and run["duration_ms"] is not None
    assert [(s["step_id"], s["status"]) for s in run["steps"]] == [
        ("complete", "succeeded"),
        ("matches", "succeeded"),
        ("shape", "succeeded"),
        ("deliver", "succeeded"),
        ("delivered", "skipped"),
    ]
    assert run["steps"][3]["output"]["status"] == 200
    delivered = fake_vendor.requests_to("/deliver")
    assert len(delivered) == 1
    assert delivered[0].json == {"order": 7, "source": "botskis"}
    refreshed = await client.get(f"/api/v1/agents/{agent.id}/runs", headers=account.headers)
    assert refreshed.json()["total"] == 1


async def test_run_without_body_uses_empty_input(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await _forwarding_agent(app, account, fake_vendor)
    response = await client.post(f"/api/v1/agents/{agent.id}/run", headers=account.headers)
    assert response.status_code == 202, response.text
    run = await wait_for_api_run(client, account.headers, response.json()["run_id"])
    assert run["input"] == {}


async def test_idempotency_key_returns_the_same_run(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await _forwarding_agent(app, account, fake_vendor)
    headers = {**account.headers, "Idempotency-Key": "order-7"}
    first = await client.post(f"/api/v1/agents/{agent.id}/run", headers=headers, json={})
    second = await client.post(f"/api/v1/agents/{agent.id}/run", headers=headers, json={})
    assert first.status_code == second.status_code == 202
    assert first.json()["run_id"] == second.json()["run_id"]
    other = await client.post(
        f"/api/v1/agents/{agent.id}/run", headers={**account.headers, "Idempotency-Key": "x"}
    )
    assert other.json()["run_id"] != first.json()["run_id"]


async def test_idempotency_key_expires_after_a_day(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await _forwarding_agent(app, account, fake_vendor)
    headers = {**account.headers, "Idempotency-Key": "daily"}
    first = await client.post(f"/api/v1/agents/{agent.id}/run", headers=headers)
    await wait_for_api_run(client, account.headers, first.json()["run_id"])
    async with app.state.database.transaction() as session:
        await session.execute(
            sa.update(Run)
            .where(Run.id == uuid.UUID(first.json()["run_id"]))
            .values(created_at=utcnow() - timedelta(days=2))
        )
    again = await client.post(f"/api/v1/agents/{agent.id}/run", headers=headers)
    assert again.status_code == 202
    assert again.json()["run_id"] != first.json()["run_id"]


async def test_run_routes_need_auth(client: httpx.AsyncClient) -> None:
    some = uuid.uuid4()
    for method, path in [
        ("POST", f"/api/v1/agents/{some}/run"),
        ("GET", f"/api/v1/agents/{some}/runs"),
        ("GET", f"/api/v1/runs/{some}"),
        ("POST", f"/api/v1/runs/{some}/cancel"),
        ("POST", f"/api/v1/runs/{some}/retry"),
        ("GET", "/api/v1/monitoring/errors"),
        ("GET", f"/api/v1/agents/{some}/health"),
        ("GET", "/api/v1/monitoring/health"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 401, (method, path)


async def test_someone_elses_agent_and_runs_are_404(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    owner = await sign_up(client)
    stranger = await sign_up(client)
    agent = await _forwarding_agent(app, owner, fake_vendor)
    started = await client.post(f"/api/v1/agents/{agent.id}/run", headers=owner.headers)
    run_id = started.json()["run_id"]
    await wait_for_api_run(client, owner.headers, run_id)
    for method, path in [
        ("POST", f"/api/v1/agents/{agent.id}/run"),
        ("GET", f"/api/v1/agents/{agent.id}/runs"),
        ("GET", f"/api/v1/runs/{run_id}"),
        ("POST", f"/api/v1/runs/{run_id}/cancel"),
        ("POST", f"/api/v1/runs/{run_id}/retry"),
        ("GET", f"/api/v1/agents/{agent.id}/health"),
    ]:
        response = await client.request(method, path, headers=stranger.headers)
        assert response.status_code == 404, (method, path, response.text)
    assert len(fake_vendor.requests_to("/deliver")) == 1


async def test_unknown_ids_are_404_and_malformed_ids_422(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    unknown = uuid.uuid4()
    for method, path in [
        ("POST", f"/api/v1/agents/{unknown}/run"),
        ("GET", f"/api/v1/agents/{unknown}/runs"),
        ("GET", f"/api/v1/runs/{unknown}"),
        ("POST", f"/api/v1/runs/{unknown}/cancel"),
        ("POST", f"/api/v1/runs/{unknown}/retry"),
    ]:
        response = await client.request(method, path, headers=account.headers)
        assert response.status_code == 404, (method, path)
    malformed = await client.get("/api/v1/runs/not-a-uuid", headers=account.headers)
    assert malformed.status_code == 422


async def test_invalid_run_bodies_are_422(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await _forwarding_agent(app, account, fake_vendor)
    for body in [
        {"input": [1, 2]},
        {"input": "text"},
        {"other": 1},
        {"input": {"x": "y" * 300_000}},
    ]:
        response = await client.post(
            f"/api/v1/agents/{agent.id}/run", headers=account.headers, json=body
        )
        assert response.status_code == 422, body
    assert response.headers["content-type"].startswith("application/problem+json")
    listed = await client.get(
        f"/api/v1/agents/{agent.id}/runs?status=bogus", headers=account.headers
    )
    assert listed.status_code == 422
    assert (await client.get(f"/api/v1/agents/{agent.id}/runs", headers=account.headers)).json()[
        "total"
    ] == 0


async def test_paused_agent_refuses_runs_with_409(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await _forwarding_agent(app, account, fake_vendor)
    async with app.state.database.transaction() as session:
        await session.execute(sa.update(Agent).where(Agent.id == agent.id).values(status="paused"))
    response = await client.post(f"/api/v1/agents/{agent.id}/run", headers=account.headers)
    assert response.status_code == 409
    assert "paused" in response.json()["detail"]


async def test_monthly_run_quota_is_403_with_the_limit(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await _forwarding_agent(app, account, fake_vendor)
    await set_runs_used(app.state.database, account.id, 1000)
    response = await client.post(f"/api/v1/agents/{agent.id}/run", headers=account.headers)
    assert response.status_code == 403, response.text
    assert "1000" in response.text.replace(",", "")


async def test_list_runs_filters_by_status_and_paginates(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await _forwarding_agent(app, account, fake_vendor)
    database = app.state.database
    ids = [await queue_run(database, agent, THREE_STEPS, input={"n": n}) for n in (1, -1, 2)]
    failing = {"steps": [{"id": "boom", "kind": "transform", "params": {"values": "{{ 1 / 0 }}"}}]}
    bad = await queue_run(database, agent, failing)
    for run_id in [*ids, bad]:
        await wait_for_run(database, run_id)
    base = f"/api/v1/agents/{agent.id}/runs"
    everything = (await client.get(base, headers=account.headers)).json()
    assert everything["total"] == 4
    failed = (await client.get(f"{base}?status=failed", headers=account.headers)).json()
    assert [r["id"] for r in failed["items"]] == [str(bad)]
    page = (await client.get(f"{base}?limit=2&offset=2", headers=account.headers)).json()
    assert len(page["items"]) == 2 and page["total"] == 4


async def test_cancel_a_queued_run_and_refuse_cancelling_a_finished_one(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await _forwarding_agent(app, account, fake_vendor)
    async with app.state.database.transaction() as session:
        # One run at a time: the second waits in the queue while the first runs.
        await session.execute(
            sa.update(Agent).where(Agent.id == agent.id).values(max_concurrent_runs=1)
        )
    fake_vendor.respond("/slow", Reply(200, delay=1.0))
    slow = {
        "steps": [
            {"id": "wait", "kind": "http", "params": {"url": f"{fake_vendor.url}/slow"}},
        ]
    }
    first = await queue_run(app.state.database, agent, slow)
    second = await queue_run(app.state.database, agent, slow)
    await wait_for_run(app.state.database, first, ("running",))
    cancelled = await client.post(f"/api/v1/runs/{second}/cancel", headers=account.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    finished = await wait_for_run(app.state.database, first)
    assert finished.status == "succeeded"
    assert (await wait_for_run(app.state.database, second)).status == "cancelled"
    again = await client.post(f"/api/v1/runs/{first}/cancel", headers=account.headers)
    assert again.status_code == 409
    assert len(fake_vendor.requests_to("/slow")) == 1


async def test_retry_a_failed_run_creates_a_new_run_with_the_same_input(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account = await sign_up(client)
    agent = await _forwarding_agent(app, account, fake_vendor)
    fake_vendor.respond("/deliver", Reply(400, json={"error": "bad"}), Reply(200, json={}))
    started = await client.post(
        f"/api/v1/agents/{agent.id}/run", headers=account.headers, json={"input": {"a": 1}}
    )
    failed = await wait_for_api_run(client, account.headers, started.json()["run_id"])
    assert failed["status"] == "failed" and failed["error_kind"] == "http_error"
    assert failed["error_step"] == "deliver"
    retried = await client.post(f"/api/v1/runs/{failed['id']}/retry", headers=account.headers)
    assert retried.status_code == 202
    new = await wait_for_api_run(client, account.headers, retried.json()["run_id"])
    assert new["status"] == "succeeded"
    assert new["trigger"] == "retry" and new["retry_of_id"] == failed["id"]
    assert new["input"] == {"a": 1}
    refused = await client.post(f"/api/v1/runs/{new['id']}/retry", headers=account.headers)
    assert refused.status_code == 409
