"""/health, /ready and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from botskis.app import create_app
from botskis.database import migrate
from tests.conftest import make_settings
from tests.databases import throwaway_database
from tests.private_redis import private_redis
from tests.users.factories import sign_up


async def test_health_is_liveness_without_auth(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def migrated_url(tmp_path: Path) -> AsyncIterator[str]:
    with throwaway_database(tmp_path, "ready") as url:
        migrate.upgrade(url)
        yield url


async def _ready(url: str, tmp_path: Path, **overrides: object) -> httpx.Response:
    application = create_app(make_settings(url, tmp_path / "logs", **overrides))
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/ready")


async def test_ready_when_database_answers_and_migrations_are_at_head(
    migrated_url: str, tmp_path: Path
) -> None:
    response = await _ready(migrated_url, tmp_path, redis_url=None)
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "migrations": "ok"}
    # A probe every few seconds must not write Alembic's context lines each time.
    log = (tmp_path / "logs" / "app.log").read_text()
    assert "alembic" not in log and "Context impl" not in log


async def test_not_ready_names_migrations_when_schema_is_behind(
    database_url: str, tmp_path: Path
) -> None:
    # The suite's schema is made by create_all: no alembic_version at all.
    response = await _ready(database_url, tmp_path, redis_url=None)
    assert response.status_code == 503
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["detail"] == "not ready: migrations"
    assert body["checks"]["database"] == "ok"


async def test_not_ready_names_redis_when_it_is_down(migrated_url: str, tmp_path: Path) -> None:
    with private_redis() as redis_server:
        up = await _ready(migrated_url, tmp_path, redis_url=redis_server.url)
        assert up.status_code == 200
        assert up.json()["checks"]["redis"] == "ok"
        redis_server.stop()
        down = await _ready(migrated_url, tmp_path, redis_url=redis_server.url)
    assert down.status_code == 503
    assert down.json()["detail"] == "not ready: redis"
    assert down.json()["checks"]["redis"].startswith("failed")


async def test_not_ready_names_the_database_when_it_is_unreachable(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "db.sqlite"
    response = await _ready(
        f"sqlite+aiosqlite:///{missing}", tmp_path, redis_url=None, worker_embedded=False
    )
    assert response.status_code == 503
    assert "database" in response.json()["detail"]


@pytest.fixture
async def metrics_client(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url, tmp_path / "logs", metrics_token="scrape-me")
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


async def test_metrics_do_not_exist_without_a_token_configured(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404


async def test_metrics_need_the_bearer_token(metrics_client: httpx.AsyncClient) -> None:
    assert (await metrics_client.get("/metrics")).status_code == 401
    wrong = await metrics_client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def sample(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_requests_by_route_template(
    metrics_client: httpx.AsyncClient,
) -> None:
    auth = {"Authorization": "Bearer scrape-me"}
    before = (await metrics_client.get("/metrics", headers=auth)).text
    account = await sign_up(metrics_client)
    await metrics_client.get("/api/v1/users/me", headers=account.headers)
    await metrics_client.get(
        "/api/v1/agents/00000000-0000-0000-0000-000000000000", headers=account.headers
    )
    await metrics_client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": "wrong-password"}
    )
    response = await metrics_client.get("/metrics", headers=auth)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    me = 'botskis_http_requests_total{method="GET",route="/api/v1/users/me",status="200"}'
    assert sample(text, me) == sample(before, me) + 1
    # The id is not a label: the template is.
    assert "00000000-0000-0000-0000-000000000000" not in text
    assert 'route="/api/v1/agents/{agent_id}"' in text
    assert (
        sample(text, "botskis_login_failures_total ")
        == sample(before, "botskis_login_failures_total ") + 1
    )
    assert "botskis_http_request_duration_seconds_bucket" in text
    assert "botskis_http_requests_in_flight" in text
    assert "botskis_rate_limited_total" in text


async def test_unknown_methods_share_one_metric_label(metrics_client: httpx.AsyncClient) -> None:
    auth = {"Authorization": "Bearer scrape-me"}
    before = (await metrics_client.get("/metrics", headers=auth)).text
    for method in ("BREW", "WHEN", "X-ANYTHING"):
        response = await metrics_client.request(method, "/api/v1/users/me")
        assert response.status_code in (401, 405)
    text = (await metrics_client.get("/metrics", headers=auth)).text
    assert "BREW" not in text and "X-ANYTHING" not in text
    other = [
        line
        for line in text.splitlines()
        if line.startswith('botskis_http_requests_total{method="OTHER"')
    ]
    assert (
        sum(float(line.rsplit(" ", 1)[1]) for line in other)
        - sum(
            float(line.rsplit(" ", 1)[1])
            for line in before.splitlines()
            if line.startswith('botskis_http_requests_total{method="OTHER"')
        )
        == 3
    )
