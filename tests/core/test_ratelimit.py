"""Rate limits: per IP, per login email, per signup IP, per user; headers; the
trusted-proxy rule; failing open while Redis is away; one limit across processes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from botskis.app import create_app
from tests.conftest import make_settings
from tests.databases import throwaway_database
from tests.live_server import live_server, server_env
from tests.private_redis import private_redis
from tests.users.factories import DEFAULT_PASSWORD, sign_up

ClientFactory = Callable[..., "asynccontextmanager[httpx.AsyncClient]"]


@pytest.fixture
def limited(database_url: str, tmp_path: Path) -> Callable[..., object]:
    """An ASGI client for an app built with the given (low) limits."""

    @asynccontextmanager
    async def build(**overrides: object) -> AsyncIterator[httpx.AsyncClient]:
        application = create_app(make_settings(database_url, tmp_path / "logs", **overrides))
        async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield client

    return build


def log_lines(tmp_path: Path) -> list[str]:
    return (tmp_path / "logs" / "app.log").read_text().splitlines()


async def test_default_limit_per_ip_with_headers(limited: Callable[..., object]) -> None:
    async with limited(rate_limit_default="3/minute") as client:  # type: ignore[attr-defined]
        responses = [await client.get("/api/v1/marketplace-nope") for _ in range(3)]
        assert [r.headers["x-ratelimit-remaining"] for r in responses] == ["2", "1", "0"]
        assert all(r.headers["x-ratelimit-limit"] == "3" for r in responses)
        reset = int(responses[0].headers["x-ratelimit-reset"])
        assert time.time() - 1 <= reset <= time.time() + 61
        refused = await client.get("/api/v1/users/me")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert refused.json()["status"] == 429
        # Probes are never throttled.
        assert (await client.get("/health")).status_code == 200


async def test_reset_moves_with_each_new_window(limited: Callable[..., object]) -> None:
    """The window end is remembered between hits; a new window must not reuse it."""
    async with limited(rate_limit_default="2 per 2 seconds") as client:  # type: ignore[attr-defined]
        first = [await client.get("/api/v1/marketplace-nope") for _ in range(2)]
        resets = {int(r.headers["x-ratelimit-reset"]) for r in first}
        # One window. Redis reports its expiry in whole seconds (TTL), so the end a
        # slow second request computes may be one second later.
        assert max(resets) - min(resets) <= 1
        assert (await client.get("/api/v1/marketplace-nope")).status_code == 429
        end = max(resets)
        await asyncio.sleep(max(0.0, end - time.time()) + 0.5)
        fresh = await client.get("/api/v1/marketplace-nope")
        assert fresh.status_code == 404
        assert fresh.headers["x-ratelimit-remaining"] == "1"
        assert int(fresh.headers["x-ratelimit-reset"]) > end


async def test_forwarded_for_is_ignored_from_untrusted_peers(
    limited: Callable[..., object],
) -> None:
    async with limited(rate_limit_default="2/minute") as client:  # type: ignore[attr-defined]
        for n in range(2):
            await client.get("/openapi.json", headers={"X-Forwarded-For": f"203.0.113.{n}"})
        spoofed = await client.get("/openapi.json", headers={"X-Forwarded-For": "198.51.100.9"})
        assert spoofed.status_code == 429


async def test_forwarded_for_counts_per_client_behind_a_trusted_proxy(
    limited: Callable[..., object],
) -> None:
    async with limited(  # type: ignore[attr-defined]
        rate_limit_default="2/minute", trusted_proxies=["127.0.0.1/32"]
    ) as client:
        first = {"X-Forwarded-For": "203.0.113.7"}
        assert (await client.get("/openapi.json", headers=first)).status_code == 200
        assert (await client.get("/openapi.json", headers=first)).status_code == 200
        assert (await client.get("/openapi.json", headers=first)).status_code == 429
        # A client-supplied left-most entry does not help: the proxy appends the real one.
        chained = {"X-Forwarded-For": "1.2.3.4, 203.0.113.7"}
        assert (await client.get("/openapi.json", headers=chained)).status_code == 429
        other = {"X-Forwarded-For": "203.0.113.8"}
        assert (await client.get("/openapi.json", headers=other)).status_code == 200


async def test_login_is_limited_per_email_across_ips(
    limited: Callable[..., object], tmp_path: Path
) -> None:
    async with limited(  # type: ignore[attr-defined]
        rate_limit_login="2/minute", trusted_proxies=["127.0.0.1"], log_format="json"
    ) as client:
        body = {"email": "target@example.com", "password": DEFAULT_PASSWORD, "full_name": "T"}
        assert (await client.post("/api/v1/users", json=body)).status_code == 201
        for n in range(2):
            wrong = await client.post(
                "/api/v1/auth/login",
                json={"email": "target@example.com", "password": "wrong-password"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            )
            assert wrong.status_code == 401
        refused = await client.post(
            "/api/v1/auth/login",
            json={"email": "TARGET@example.com", "password": DEFAULT_PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.99"},
        )
        assert refused.status_code == 429
        assert "retry-after" in refused.headers
    lines = [json.loads(line) for line in log_lines(tmp_path) if line.startswith("{")]
    failures = [r for r in lines if r["message"] == "login failed"]
    assert len(failures) == 2 and all(r.get("security") is True for r in failures)
    limited_lines = [r for r in lines if r["message"] == "rate limited"]
    assert limited_lines and limited_lines[0]["security"] is True
    assert limited_lines[0]["limit"] == "login-email"


async def test_login_is_limited_per_ip_across_emails(limited: Callable[..., object]) -> None:
    async with limited(rate_limit_login="2/minute") as client:  # type: ignore[attr-defined]
        for n in range(2):
            response = await client.post(
                "/api/v1/auth/login", json={"email": f"u{n}@example.com", "password": "pw-pw-pw"}
            )
            assert response.status_code == 401
        refused = await client.post(
            "/api/v1/auth/login", json={"email": "u9@example.com", "password": "pw-pw-pw"}
        )
        assert refused.status_code == 429


async def test_signup_is_limited_per_ip(limited: Callable[..., object]) -> None:
    async with limited(rate_limit_signup="1/minute") as client:  # type: ignore[attr-defined]
        await sign_up(client)
        body = {"email": "second@example.com", "password": DEFAULT_PASSWORD, "full_name": "S"}
        refused = await client.post("/api/v1/users", json=body)
        assert refused.status_code == 429


async def test_authenticated_user_limit_is_per_user(limited: Callable[..., object]) -> None:
    async with limited(rate_limit_user="2/minute") as client:  # type: ignore[attr-defined]
        alice = await sign_up(client)
        bob = await sign_up(client)
        first = await client.get("/api/v1/users/me", headers=alice.headers)
        assert first.headers["x-ratelimit-limit"] == "2"
        assert first.headers["x-ratelimit-remaining"] == "1"
        assert (await client.get("/api/v1/users/me", headers=alice.headers)).status_code == 200
        assert (await client.get("/api/v1/users/me", headers=alice.headers)).status_code == 429
        assert (await client.get("/api/v1/users/me", headers=bob.headers)).status_code == 200


async def test_redis_outage_fails_open_and_limits_return(database_url: str, tmp_path: Path) -> None:
    with private_redis() as redis_server:
        settings = make_settings(
            database_url,
            tmp_path / "logs",
            redis_url=redis_server.url,
            rate_limit_default="3/minute",
            log_format="json",
        )
        application = create_app(settings)
        async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                for _ in range(3):
                    assert (await client.get("/openapi.json")).status_code == 200
                assert (await client.get("/openapi.json")).status_code == 429

                redis_server.stop()
                during = [await client.get("/openapi.json") for _ in range(10)]
                assert [r.status_code for r in during] == [200] * 10
                assert all("x-ratelimit-limit" not in r.headers for r in during)

                redis_server.start()  # same port, empty counters
                deadline = time.monotonic() + 20
                while "x-ratelimit-limit" not in (await client.get("/openapi.json")).headers:
                    assert time.monotonic() < deadline, "limits did not come back"
                    await asyncio.sleep(0.2)
                statuses = [(await client.get("/openapi.json")).status_code for _ in range(3)]
                assert statuses[-1] == 429
    records = [json.loads(line) for line in log_lines(tmp_path)]
    messages = [r["message"] for r in records]
    assert messages.count("rate limit storage unreachable; limits are off until it returns") == 1
    assert messages.count("rate limit storage reachable again; limits are back") == 1


def _wait_until_both_workers_serve(base: str, app_log: Path) -> None:
    """The server answers once its first worker is up; the second may still be
    starting. Probe /health (unlimited) on new connections until two processes
    have logged an answer."""
    deadline = time.monotonic() + 60
    while True:
        with httpx.Client(base_url=base, timeout=30) as http:
            assert http.get("/health").status_code == 200
        processes = {
            record["process"]
            for line in app_log.read_text().splitlines()
            if line.startswith("{")
            for record in [json.loads(line)]
            if record.get("access") and record.get("path") == "/health"
        }
        if len(processes) >= 2:
            return
        assert time.monotonic() < deadline, "the second worker never answered"
        time.sleep(0.05)


@pytest.mark.e2e
def test_two_worker_processes_share_one_limit(tmp_path: Path) -> None:
    with private_redis() as redis_server, throwaway_database(tmp_path, "twoworkers") as url:
        env = server_env(
            url,
            tmp_path / "logs",
            REDIS_URL=redis_server.url,
            RATE_LIMIT_DEFAULT="10/minute",
            LOG_FORMAT="json",
            WORKER_EMBEDDED="false",
            METRICS_TOKEN="metrics-secret",
        )
        with live_server(env, args=("--workers", "2")) as base:
            _wait_until_both_workers_serve(base, tmp_path / "logs" / "app.log")

            def fetch(_: int) -> int:
                # A new connection each time, so both workers get a share.
                with httpx.Client(base_url=base, timeout=120) as http:
                    return http.get("/openapi.json").status_code

            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(fetch, range(40)))
            scrape = httpx.get(
                f"{base}/metrics", headers={"Authorization": "Bearer metrics-secret"}
            ).text
    log = (tmp_path / "logs" / "app.log").read_text()
    assert "rate limit storage unreachable" not in log, "Redis timed out: the run proves nothing"
    assert statuses.count(200) == 10
    assert statuses.count(429) == 30
    records = [
        json.loads(line)
        for line in (tmp_path / "logs" / "app.log").read_text().splitlines()
        if line.startswith("{")
    ]
    served_by = {r["process"] for r in records if r.get("access") and r["path"] == "/openapi.json"}
    assert len(served_by) == 2, "both worker processes should have answered"
    # Every worker's counts are in one scrape, whichever worker answered it.
    ok = 'botskis_http_requests_total{method="GET",route="/openapi.json",status="200"} 10.0'
    # Refused before routing: no template, so no cardinality from junk paths.
    refused = 'botskis_http_requests_total{method="GET",route="<unmatched>",status="429"} 30.0'
    assert ok in scrape and refused in scrape, scrape


async def test_authenticated_callers_are_outside_the_per_ip_limit(
    limited: Callable[..., object],
) -> None:
    async with limited(rate_limit_default="3/minute") as client:  # type: ignore[attr-defined]
        alice = await sign_up(client)  # two anonymous requests: signup and login
        for _ in range(6):
            polled = await client.get("/api/v1/users/me", headers=alice.headers)
            assert polled.status_code == 200
        # A made-up token buys no exemption: it is anonymous traffic.
        bogus = {"Authorization": "Bearer not-a-token"}
        assert (await client.get("/api/v1/marketplace/templates", headers=bogus)).status_code == 200
        assert (await client.get("/api/v1/marketplace/templates", headers=bogus)).status_code == 429
        assert (await client.get("/api/v1/marketplace/templates")).status_code == 429


async def test_webhook_deliveries_are_outside_the_per_ip_limit(
    limited: Callable[..., object],
) -> None:
    async with limited(rate_limit_default="2/minute") as client:  # type: ignore[attr-defined]
        for _ in range(5):
            delivered = await client.post("/api/v1/hooks/no-such-token", json={"a": 1})
            assert delivered.status_code == 404
