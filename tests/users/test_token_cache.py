"""The per-process token cache never outlives a revocation: logout, password change
and deactivation take effect at once in this process, and through Redis in others."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from botskis.app import create_app
from botskis.database.connection import Database
from botskis.users.models import User
from tests.conftest import make_settings
from tests.private_redis import private_redis
from tests.users.factories import DEFAULT_PASSWORD, create_api_key, key_headers, log_in, sign_up

SECRET = "shared-secret-key-for-two-processes-0123456789"


async def test_cache_serves_repeat_requests_without_a_lookup(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 200
    cache = app.state.token_cache
    assert len(cache.users) == 1
    cached_state = next(iter(cache.users.values()))
    assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 200
    assert next(iter(cache.users.values())) is cached_state


async def test_logout_is_immediate_despite_the_cache(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    other_token = await log_in(client, account.email, DEFAULT_PASSWORD)
    other = {"Authorization": f"Bearer {other_token}"}
    assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=account.headers)).status_code == 204
    assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 401
    assert (await client.get("/api/v1/users/me", headers=other)).status_code == 200


async def test_password_change_is_immediate_despite_the_cache(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 200
    changed = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "a brand new password"},
        headers=account.headers,
    )
    assert changed.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 401


async def test_deactivation_by_any_unit_of_work_is_immediate(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 200
    database: Database = app.state.database
    async with database.transaction() as session:
        user = await session.scalar(select(User).where(User.email == account.email))
        assert user is not None
        user.is_active = False
    response = await client.get("/api/v1/users/me", headers=account.headers)
    assert response.status_code == 403


async def test_profile_update_through_cached_user_is_stored(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    await client.get("/api/v1/users/me", headers=account.headers)
    patched = await client.patch(
        "/api/v1/users/me", json={"full_name": "Renamed"}, headers=account.headers
    )
    assert patched.json()["full_name"] == "Renamed"
    assert (await client.get("/api/v1/users/me", headers=account.headers)).json()[
        "full_name"
    ] == "Renamed"


@pytest.fixture
async def two_processes(
    database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two apps on one database and one Redis, each with its own cache, as two
    server processes would be. The cache lifetime is long, so only the
    invalidation message can explain a change being seen."""
    with private_redis() as redis_server:
        async with AsyncExitStack() as stack:
            clients = []
            for name in ("a", "b"):
                settings = make_settings(
                    database_url,
                    tmp_path / name,
                    secret_key=SECRET,
                    redis_url=redis_server.url,
                    auth_cache_seconds=300,
                    worker_embedded=False,
                )
                application = create_app(settings)
                await stack.enter_async_context(
                    LifespanManager(application, startup_timeout=60, shutdown_timeout=60)
                )
                transport = httpx.ASGITransport(app=application)
                clients.append(
                    await stack.enter_async_context(
                        httpx.AsyncClient(transport=transport, base_url="http://t")
                    )
                )
            yield clients[0], clients[1]


async def _until_rejected(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 20
    while (await client.get("/api/v1/users/me", headers=headers)).status_code != 401:
        assert time.monotonic() < deadline, "the other process kept accepting a revoked token"
        await asyncio.sleep(0.05)


async def test_logout_reaches_other_processes_through_redis(
    two_processes: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = two_processes
    account = await sign_up(a)
    assert (await b.get("/api/v1/users/me", headers=account.headers)).status_code == 200
    assert (await a.post("/api/v1/auth/logout", headers=account.headers)).status_code == 204
    await _until_rejected(b, account.headers)


async def test_a_revoked_api_key_reaches_other_processes_through_redis(
    two_processes: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = two_processes
    account = await sign_up(a)
    created = await create_api_key(a, account, ["agents:read"])
    key = key_headers(created["key"])
    assert (await b.get("/api/v1/agents", headers=key)).status_code == 200
    revoked = await a.delete(f"/api/v1/users/me/api-keys/{created['id']}", headers=account.headers)
    assert revoked.status_code == 204
    deadline = time.monotonic() + 20
    while (await b.get("/api/v1/agents", headers=key)).status_code != 401:
        assert time.monotonic() < deadline, "the other process kept accepting a revoked key"
        await asyncio.sleep(0.05)


async def test_password_change_reaches_other_processes_through_redis(
    two_processes: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = two_processes
    account = await sign_up(a)
    assert (await b.get("/api/v1/users/me", headers=account.headers)).status_code == 200
    changed = await a.post(
        "/api/v1/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "another new password"},
        headers=account.headers,
    )
    assert changed.status_code == 204
    await _until_rejected(b, account.headers)


async def test_a_session_revocation_reaches_other_processes_through_redis(
    two_processes: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = two_processes
    account = await sign_up(a)
    other = await a.post(
        "/api/v1/auth/login", json={"email": account.email, "password": DEFAULT_PASSWORD}
    )
    other_headers = {"Authorization": f"Bearer {other.json()['access_token']}"}
    assert (await b.get("/api/v1/users/me", headers=other_headers)).status_code == 200
    revoked = await a.delete(
        f"/api/v1/users/me/sessions/{other.json()['session_id']}", headers=account.headers
    )
    assert revoked.status_code == 204
    await _until_rejected(b, other_headers)
    assert (await b.get("/api/v1/users/me", headers=account.headers)).status_code == 200


async def test_requests_share_a_frozen_snapshot_not_an_orm_row(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    import dataclasses

    from botskis.users.caller import Caller

    account = await sign_up(client)
    await client.get("/api/v1/users/me", headers=account.headers)
    caller, _claims = await app.state.token_cache.resolve(account.token)
    assert isinstance(caller, Caller) and not isinstance(caller, User)
    with pytest.raises(dataclasses.FrozenInstanceError):
        caller.plan = "scale"  # type: ignore[misc]


async def test_a_profile_change_reads_the_row_not_the_cached_snapshot(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """PATCH loads the row for update: a change made behind the cache's back (a bulk
    UPDATE the ORM events do not see) is not overwritten with the snapshot's values."""
    account = await sign_up(client, full_name="Before")
    await client.get("/api/v1/users/me", headers=account.headers)  # cached snapshot
    database: Database = app.state.database
    async with database.transaction() as session:
        await session.execute(
            User.__table__.update().where(User.email == account.email).values(company="Acme")
        )
    changed = await client.patch(
        "/api/v1/users/me", json={"full_name": "After"}, headers=account.headers
    )
    assert changed.status_code == 200
    assert changed.json()["full_name"] == "After" and changed.json()["company"] == "Acme"
