from __future__ import annotations

import asyncio
import hashlib
import secrets
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.agents.models import Agent
from botskis.config import Settings
from botskis.runs.models import Run
from tests.conftest import make_settings
from tests.databases import on_postgres
from tests.fakes.vendor_server import FakeVendorServer
from tests.runs.conftest import FAST_WORKER
from tests.runs.factories import create_agent
from tests.runs.helpers import wait_for_api_run
from tests.users.factories import Account, sign_up


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url, tmp_path / "logs", **FAST_WORKER, webhook_rate_limit_per_minute=5
    )


FORWARD_CONFIG = {
    "method": "POST",
    "headers": {},
    "include_fields": ["order"],
    "extra_fields": {},
    "required_fields": [],
    "match_field": "",
    "match_value": "",
    "notify_on_delivery": False,
}


async def _webhook_agent(
    app: FastAPI, client: httpx.AsyncClient, vendor: FakeVendorServer
) -> tuple[Account, Agent, str]:
    account = await sign_up(client)
    token = secrets.token_urlsafe(24)
    agent = await create_agent(
        app.state.database,
        account.id,
        config={**FORWARD_CONFIG, "target_url": f"{vendor.url}/hook-target"},
        trigger={"type": "webhook"},
        webhook_token=token,
    )
    return account, agent, token


async def test_webhook_is_stored_then_run_with_the_payload_as_input(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    response = await client.post(f"/api/v1/hooks/{token}", json={"order": 42, "secret": "x"})
    assert response.status_code == 202, response.text
    run = await wait_for_api_run(client, account.headers, response.json()["run_id"])
    assert run["status"] == "succeeded" and run["trigger"] == "webhook"
    assert run["input"] == {"order": 42, "secret": "x"}
    (delivered,) = fake_vendor.requests_to("/hook-target")
    assert delivered.json == {"order": 42}


async def test_repeated_event_id_returns_the_same_run(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    _account, agent, token = await _webhook_agent(app, client, fake_vendor)
    headers = {"X-Event-Id": "evt_123"}
    first = await client.post(f"/api/v1/hooks/{token}", json={"order": 1}, headers=headers)
    second = await client.post(f"/api/v1/hooks/{token}", json={"order": 1}, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["run_id"] == second.json()["run_id"]
    async with app.state.database.transaction() as session:
        count = await session.scalar(
            sa.select(sa.func.count()).select_from(Run).where(Run.agent_id == agent.id)
        )
    assert count == 1


async def test_unknown_token_is_404_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    await _webhook_agent(app, client, fake_vendor)
    response = await client.post(f"/api/v1/hooks/{secrets.token_urlsafe(24)}", json={"a": 1})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    async with app.state.database.transaction() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Run)) == 0


async def test_token_of_an_agent_no_longer_on_webhooks_is_404(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    _account, agent, token = await _webhook_agent(app, client, fake_vendor)
    async with app.state.database.transaction() as session:
        await session.execute(
            sa.update(Agent).where(Agent.id == agent.id).values(trigger={"type": "manual"})
        )
    assert (await client.post(f"/api/v1/hooks/{token}", json={})).status_code == 404


async def test_oversized_and_malformed_bodies_are_refused(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    _account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    big = b'{"x": "' + b"a" * (256 * 1024) + b'"}'
    too_big = await client.post(
        f"/api/v1/hooks/{token}", content=big, headers={"Content-Type": "application/json"}
    )
    assert too_big.status_code == 413
    broken = await client.post(
        f"/api/v1/hooks/{token}", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    just_fits = b'{"x": "' + b"a" * (256 * 1024 - 20) + b'"}'
    accepted = await client.post(
        f"/api/v1/hooks/{token}", content=just_fits, headers={"Content-Type": "application/json"}
    )
    assert accepted.status_code == 202


async def test_non_object_payload_is_wrapped_under_body(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    response = await client.post(f"/api/v1/hooks/{token}", json=[1, 2, 3])
    assert response.status_code == 202
    run = await wait_for_api_run(client, account.headers, response.json()["run_id"])
    assert run["input"] == {"body": [1, 2, 3]}


async def test_paused_agent_refuses_deliveries(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    _account, agent, token = await _webhook_agent(app, client, fake_vendor)
    async with app.state.database.transaction() as session:
        await session.execute(sa.update(Agent).where(Agent.id == agent.id).values(status="paused"))
    assert (await client.post(f"/api/v1/hooks/{token}", json={})).status_code == 409


@pytest.mark.skipif(not on_postgres(), reason="concurrent writers need PostgreSQL")
async def test_per_agent_rate_limit_holds_for_concurrent_deliveries(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    """Twenty deliveries at once against a limit of five: exactly five runs."""
    limit = app.state.settings.webhook_rate_limit_per_minute
    _account, agent, token = await _webhook_agent(app, client, fake_vendor)
    responses = await asyncio.gather(
        *(client.post(f"/api/v1/hooks/{token}", json={"i": index}) for index in range(20))
    )
    assert sorted(r.status_code for r in responses) == [202] * limit + [429] * (20 - limit)
    async with app.state.database.transaction() as session:
        stored = await session.scalar(
            sa.select(sa.func.count()).select_from(Run).where(Run.agent_id == agent.id)
        )
    assert stored == limit


async def test_per_agent_rate_limit_is_429(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    limit = app.state.settings.webhook_rate_limit_per_minute
    assert limit == 5
    _account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    _other_account, _other, other_token = await _webhook_agent(app, client, fake_vendor)
    for index in range(limit):
        accepted = await client.post(f"/api/v1/hooks/{token}", json={"i": index})
        assert accepted.status_code == 202, (index, accepted.text)
    limited = await client.post(f"/api/v1/hooks/{token}", json={"i": "over"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
    assert (await client.post(f"/api/v1/hooks/{other_token}", json={})).status_code == 202


async def _stored_runs(app: FastAPI) -> int:
    async with app.state.database.transaction() as session:
        return await session.scalar(sa.select(sa.func.count()).select_from(Run)) or 0


async def test_a_urlencoded_form_becomes_the_input_with_repeated_fields_as_lists(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    response = await client.post(
        f"/api/v1/hooks/{token}",
        content=b"order=42&tag=a&tag=b&note=caf%C3%A9+ok",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 202, response.text
    run = await wait_for_api_run(client, account.headers, response.json()["run_id"])
    assert run["input"] == {"order": "42", "tag": ["a", "b"], "note": "café ok"}


async def test_a_multipart_form_keeps_fields_and_lists_files_as_metadata_only(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    """What an inbound-email parse service posts: text fields and attachments."""
    account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    invoice = b"%PDF-1.7 invoice 2026-12 total 120.00"
    response = await client.post(
        f"/api/v1/hooks/{token}",
        data={"from": "ann@example.com", "subject": "Invoice", "to": ["a@x.io", "b@x.io"]},
        files=[
            ("attachment1", ("invoice.pdf", invoice, "application/pdf")),
            ("attachment2", ("notes.txt", b"", "text/plain")),
        ],
    )
    assert response.status_code == 202, response.text
    run = await wait_for_api_run(client, account.headers, response.json()["run_id"])
    assert run["input"] == {
        "from": "ann@example.com",
        "subject": "Invoice",
        "to": ["a@x.io", "b@x.io"],
        "attachments": [
            {
                "field": "attachment1",
                "filename": "invoice.pdf",
                "content_type": "application/pdf",
                "size": len(invoice),
                "sha256": hashlib.sha256(invoice).hexdigest(),
            },
            {
                "field": "attachment2",
                "filename": "notes.txt",
                "content_type": "text/plain",
                "size": 0,
                "sha256": hashlib.sha256(b"").hexdigest(),
            },
        ],
    }
    assert "PDF-1.7" not in str(run)


async def test_an_oversized_multipart_body_is_413_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    _account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    response = await client.post(
        f"/api/v1/hooks/{token}",
        data={"subject": "big"},
        files={"attachment1": ("big.bin", b"x" * (256 * 1024), "application/octet-stream")},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await _stored_runs(app) == 0


async def test_too_many_files_is_400_naming_the_limit(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    _account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    files = [(f"attachment{i}", (f"{i}.txt", b"x", "text/plain")) for i in range(21)]
    response = await client.post(f"/api/v1/hooks/{token}", files=files)
    assert response.status_code == 400
    assert "Too many files" in response.json()["detail"]
    assert "20" in response.json()["detail"]
    assert await _stored_runs(app) == 0


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=xyz", b"--abc\r\nnot a part at all\r\n--abc--\r\n"),
        ("multipart/form-data", b"--abc\r\n\r\nvalue\r\n--abc--\r\n"),
        (
            "multipart/form-data; boundary=xyz",
            b"--xyz\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--xyz--\r\n",
        ),
    ],
    ids=["wrong-boundary", "no-boundary", "part-without-name"],
)
async def test_a_malformed_multipart_body_is_400_and_stores_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_vendor: FakeVendorServer,
    content_type: str,
    body: bytes,
) -> None:
    _account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    response = await client.post(
        f"/api/v1/hooks/{token}", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("The webhook form is not valid")
    assert await _stored_runs(app) == 0


async def test_a_nul_in_a_multipart_field_is_422(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    _account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    response = await client.post(f"/api/v1/hooks/{token}", files={"text": (None, b"a\x00b")})
    assert response.status_code == 422
    assert await _stored_runs(app) == 0


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "text/csv; charset=utf-8"]
)
async def test_another_content_type_is_415_naming_the_accepted_ones(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer, content_type: str
) -> None:
    _account, _agent, token = await _webhook_agent(app, client, fake_vendor)
    response = await client.post(
        f"/api/v1/hooks/{token}", content=b"order=1", headers={"Content-Type": content_type}
    )
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    assert detail == (
        "A webhook body must be application/json, application/x-www-form-urlencoded "
        f"or multipart/form-data, not {content_type.split(';')[0]}"
    )
    assert await _stored_runs(app) == 0
