"""Scoped API keys: shown once, stored hashed, limited to their scopes, never
managing the account, dead once expired or revoked."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.core.browser_session import SESSION_COOKIE
from botskis.database.base import utcnow
from botskis.users.api_keys import MAX_KEYS_PER_USER
from botskis.users.models import ApiKey
from botskis.users.scopes import Scope
from tests.users.factories import create_api_key, key_headers, log_in, sign_up

KEYS = "/api/v1/users/me/api-keys"
ALL_SCOPES = [s.value for s in Scope]
MISSING = str(uuid.uuid4())


async def test_a_key_is_shown_once_and_listed_without_its_secret(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    response = await client.post(
        KEYS,
        headers=account.headers,
        json={"name": " deploy bot ", "scopes": ["runs:write", "agents:read", "runs:write"]},
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    key = created["key"]
    assert key.startswith("bk_live_") and len(key) > 40
    assert created["prefix"] == key[:16]
    assert created["name"] == "deploy bot"
    assert created["scopes"] == ["agents:read", "runs:write"]
    assert created["last_used_at"] is None and created["expires_at"] is None

    listed = await client.get(KEYS, headers=account.headers)
    assert listed.status_code == 200
    [item] = listed.json()
    assert key not in listed.text
    assert set(item) == {
        "id", "name", "prefix", "scopes", "created_at", "last_used_at", "expires_at"
    }  # fmt: skip
    assert (item["id"], item["prefix"]) == (created["id"], created["prefix"])


async def test_only_the_hash_of_a_key_is_stored(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    created = await create_api_key(client, account, ["agents:read"])
    async with app.state.database.transaction() as session:
        row = (await session.execute(sa.select(ApiKey.__table__))).one()
    assert row.key_hash == hashlib.sha256(created["key"].encode()).hexdigest()
    assert created["key"] not in repr(tuple(row))
    assert row.prefix == created["key"][:16]


async def test_a_key_authenticates_as_its_owner(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    key = (await create_api_key(client, account, ["agents:read"]))["key"]
    response = await client.get("/api/v1/agents", headers=key_headers(key))
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


# (method, path, body, the scope it needs, what a key with that scope gets)
SCOPED_ROUTES = [
    ("GET", "/api/v1/agents", None, "agents:read", 200),
    ("GET", f"/api/v1/agents/{MISSING}", None, "agents:read", 404),
    ("GET", "/api/v1/monitoring/errors", None, "agents:read", 200),
    ("POST", f"/api/v1/agents/{MISSING}/pause", None, "agents:write", 404),
    ("DELETE", f"/api/v1/agents/{MISSING}", None, "agents:write", 404),
    ("GET", f"/api/v1/runs/{MISSING}", None, "runs:read", 404),
    ("GET", "/api/v1/notifications", None, "runs:read", 200),
    ("POST", f"/api/v1/runs/{MISSING}/cancel", None, "runs:write", 404),
    ("POST", f"/api/v1/agents/{MISSING}/run", {}, "runs:write", 404),
    ("GET", f"/api/v1/agents/{MISSING}/runs", None, "runs:read", 404),
    ("GET", "/api/v1/credentials", None, "credentials:read", 200),
    ("POST", "/api/v1/credentials", {}, "credentials:write", 422),
    ("DELETE", f"/api/v1/credentials/{MISSING}", None, "credentials:write", 404),
]


@pytest.mark.parametrize(("method", "path", "body", "scope", "allowed"), SCOPED_ROUTES)
async def test_each_scope_opens_its_routes_and_its_absence_is_a_403_naming_it(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: object,
    scope: str,
    allowed: int,
) -> None:
    account = await sign_up(client)
    granted = (await create_api_key(client, account, [scope]))["key"]
    ok = await client.request(method, path, headers=key_headers(granted), json=body)
    assert ok.status_code == allowed, ok.text

    resource = scope.split(":")[0]
    others = [s for s in ALL_SCOPES if s != scope and s != f"{resource}:write"]
    lacking = (await create_api_key(client, account, others))["key"]
    refused = await client.request(method, path, headers=key_headers(lacking), json=body)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["scope"] == scope
    assert problem["reason"] == "missing_scope"
    assert scope in problem["detail"]


async def test_a_write_scope_includes_its_read_scope(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    key = (await create_api_key(client, account, ["agents:write"]))["key"]
    assert (await client.get("/api/v1/agents", headers=key_headers(key))).status_code == 200
    runs = await client.get(f"/api/v1/runs/{MISSING}", headers=key_headers(key))
    assert (runs.status_code, runs.json()["scope"]) == (403, "runs:read")


ACCOUNT_ROUTES = [
    ("GET", "/api/v1/users/me", None),
    ("PATCH", "/api/v1/users/me", {"full_name": "Taken Over"}),
    ("POST", "/api/v1/users/me/password", {"current_password": "x", "new_password": "y" * 10}),
    ("DELETE", "/api/v1/users/me", {"password": "correct horse battery"}),
    ("POST", "/api/v1/users/me/2fa/setup", None),
    ("POST", "/api/v1/users/me/2fa/disable", {"password": "x", "code": "123456"}),
    ("GET", KEYS, None),
    ("POST", KEYS, {"name": "more", "scopes": ALL_SCOPES}),
    ("DELETE", f"{KEYS}/{MISSING}", None),
    ("POST", "/api/v1/auth/logout", None),
    ("POST", "/api/v1/auth/verify-email/resend", None),
    ("GET", "/api/v1/users", None),
    ("GET", "/api/v1/users/me/usage", None),
    ("GET", "/api/v1/billing", None),
    ("POST", "/api/v1/billing/checkout", {"plan": "pro"}),
    ("POST", "/api/v1/billing/portal", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ACCOUNT_ROUTES)
async def test_a_key_never_manages_the_account(
    client: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    account = await sign_up(client)
    key = (await create_api_key(client, account, ALL_SCOPES))["key"]
    refused = await client.request(method, path, headers=key_headers(key), json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["reason"] == "api_key_not_allowed"
    # Nothing changed: the account, its password and its keys are as they were.
    me = await client.get("/api/v1/users/me", headers=account.headers)
    assert me.json()["full_name"] == "Test User"
    await log_in(client, account.email, account.password)
    assert len((await client.get(KEYS, headers=account.headers)).json()) == 1


async def test_a_revoked_key_is_401_at_once(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    created = await create_api_key(client, account, ["agents:read"])
    headers = key_headers(created["key"])
    assert (await client.get("/api/v1/agents", headers=headers)).status_code == 200
    revoked = await client.delete(f"{KEYS}/{created['id']}", headers=account.headers)
    assert revoked.status_code == 204
    after = await client.get("/api/v1/agents", headers=headers)
    assert after.status_code == 401
    assert after.headers["www-authenticate"] == "Bearer"
    assert (await client.get(KEYS, headers=account.headers)).json() == []
    again = await client.delete(f"{KEYS}/{created['id']}", headers=account.headers)
    assert again.status_code == 404


async def test_an_expired_key_is_401(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    created = await create_api_key(client, account, ["agents:read"], expires_at=soon)
    assert created["expires_at"] is not None
    async with app.state.database.transaction() as session:
        await session.execute(sa.update(ApiKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = await client.get("/api/v1/agents", headers=key_headers(created["key"]))
    assert expired.status_code == 401


async def test_an_unknown_key_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/agents", headers=key_headers("bk_live_" + "x" * 43))
    assert response.status_code == 401


async def test_a_key_in_the_session_cookie_is_no_session(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    key = (await create_api_key(client, account, ALL_SCOPES))["key"]
    response = await client.get("/api/v1/agents", cookies={SESSION_COOKIE: key})
    assert response.status_code == 401


async def test_last_use_is_recorded_at_most_once_a_minute(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    key = (await create_api_key(client, account, ["agents:read"]))["key"]
    await client.get("/api/v1/agents", headers=key_headers(key))
    [first] = (await client.get(KEYS, headers=account.headers)).json()
    assert first["last_used_at"] is not None
    await client.get("/api/v1/agents", headers=key_headers(key))
    [second] = (await client.get(KEYS, headers=account.headers)).json()
    assert second["last_used_at"] == first["last_used_at"]


async def test_another_users_key_is_404_and_keeps_working(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    other = await sign_up(client)
    created = await create_api_key(client, owner, ["agents:read"])
    response = await client.delete(f"{KEYS}/{created['id']}", headers=other.headers)
    assert response.status_code == 404
    assert (await client.get(KEYS, headers=other.headers)).json() == []
    works = await client.get("/api/v1/agents", headers=key_headers(created["key"]))
    assert works.status_code == 200


async def test_unknown_key_id_is_404(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    assert (await client.delete(f"{KEYS}/{MISSING}", headers=account.headers)).status_code == 404
    assert (await client.delete(f"{KEYS}/not-a-uuid", headers=account.headers)).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x"},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["admin"]},
        {"name": "", "scopes": ["agents:read"]},
        {"name": "n" * 101, "scopes": ["agents:read"]},
        {"scopes": ["agents:read"]},
        {"name": "x", "scopes": ["agents:read"], "expires_at": "2030-01-01T00:00:00"},
        {"name": "x", "scopes": ["agents:read"], "expires_at": "2001-01-01T00:00:00Z"},
        {"name": "x", "scopes": ["agents:read"], "owner": "someone"},
    ],
)
async def test_invalid_key_requests_are_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    account = await sign_up(client)
    response = await client.post(KEYS, headers=account.headers, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"]
    assert (await client.get(KEYS, headers=account.headers)).json() == []


async def test_key_routes_need_auth(client: httpx.AsyncClient) -> None:
    for method, path in [("GET", KEYS), ("POST", KEYS), ("DELETE", f"{KEYS}/{MISSING}")]:
        response = await client.request(method, path, json={"name": "x", "scopes": ["runs:read"]})
        assert response.status_code == 401, (method, path)


async def test_an_account_holds_a_limited_number_of_keys(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    for _ in range(MAX_KEYS_PER_USER):
        await create_api_key(client, account, ["runs:read"])
    refused = await client.post(
        KEYS, headers=account.headers, json={"name": "one too many", "scopes": ["runs:read"]}
    )
    assert refused.status_code == 409
    assert refused.json()["limit"] == MAX_KEYS_PER_USER
    assert str(MAX_KEYS_PER_USER) in refused.json()["detail"]
