"""Every way a bearer token can be bad gives 401 with WWW-Authenticate: Bearer."""

import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.config import Settings
from botskis.core.security import create_access_token
from tests.users.factories import delete_account, sign_up


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _assert_rejected(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("scheme", ["Basic abc", "Bearer", "Token x.y.z", "Bearer not-a-jwt"])
async def test_malformed_authorization_is_401(client: httpx.AsyncClient, scheme: str) -> None:
    response = await client.get("/api/v1/users/me", headers={"Authorization": scheme})
    assert response.status_code == 401


async def test_alg_none_is_rejected(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    now = int(time.time())
    claims = {"sub": account.id, "iat": now, "exp": now + 600, "jti": "x", "ver": 0}
    token = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims) + "."
    await _assert_rejected(client, token)


async def test_token_signed_with_another_key_is_rejected(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    forged = create_access_token("another-key-" + "x" * 32, uuid.UUID(account.id), 0, 10)
    await _assert_rejected(client, forged.token)


async def test_tampered_payload_is_rejected(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    other = await sign_up(client)
    header, _payload, signature = account.token.split(".")
    claims = jwt.decode(account.token, options={"verify_signature": False})
    claims["sub"] = other.id
    await _assert_rejected(client, f"{header}.{_b64(claims)}.{signature}")


async def test_expired_token_is_rejected(client: httpx.AsyncClient, settings: Settings) -> None:
    account = await sign_up(client)
    past = int(time.time()) - 3600
    token = jwt.encode(
        {"sub": account.id, "iat": past - 60, "exp": past, "jti": "e", "ver": 0},
        settings.secret_key,
        algorithm="HS256",
    )
    await _assert_rejected(client, token)


async def test_hs512_token_with_right_key_is_rejected(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    now = int(time.time())
    token = jwt.encode(
        {"sub": account.id, "iat": now, "exp": now + 600, "jti": "a", "ver": 0},
        settings.secret_key,
        algorithm="HS512",
    )
    await _assert_rejected(client, token)


async def test_token_missing_claims_is_rejected(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    token = jwt.encode(
        {"sub": account.id, "exp": int(time.time()) + 600}, settings.secret_key, algorithm="HS256"
    )
    await _assert_rejected(client, token)


async def test_unknown_user_token_is_rejected(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    token = create_access_token(settings.secret_key, uuid.uuid4(), 0, 10)
    await _assert_rejected(client, token.token)


async def test_deleted_user_token_is_rejected(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    deleted = await delete_account(client, account)
    assert deleted.status_code == 204
    await _assert_rejected(client, account.token)


async def test_logout_revokes_only_the_presented_token(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    second = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    other_token = second.json()["access_token"]
    out = await client.post("/api/v1/auth/logout", headers=account.headers)
    assert out.status_code == 204
    await _assert_rejected(client, account.token)
    still = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {other_token}"})
    assert still.status_code == 200


async def test_password_change_revokes_earlier_tokens(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    changed = await client.post(
        "/api/v1/users/me/password",
        headers=account.headers,
        json={"current_password": account.password, "new_password": "brand-new-pass"},
    )
    assert changed.status_code == 204
    await _assert_rejected(client, account.token)
    old = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert old.status_code == 401
    new = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": "brand-new-pass"}
    )
    assert new.status_code == 200


async def test_inactive_user_cannot_log_in_or_use_token(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    # Through the app's own engine: a blocking driver call here would stall the event
    # loop while the worker (mail delivery) holds SQLite's write lock.
    async with app.state.database.transaction() as session:
        await session.execute(
            sa.text("UPDATE users SET is_active = :f WHERE email = :e"),
            {"f": False, "e": account.email},
        )
    login = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert login.status_code == 403
    me = await client.get("/api/v1/users/me", headers=account.headers)
    assert me.status_code == 403
