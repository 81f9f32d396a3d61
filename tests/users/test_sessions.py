"""Login sessions: refresh tokens rotate, a reused one revokes its session, a revoked
session's access tokens stop at once, and the user lists and revokes sessions."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.users.models import RefreshToken, UserSession
from tests.users.factories import DEFAULT_PASSWORD, Account, sign_up

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
SESSIONS = "/api/v1/users/me/sessions"
ME = "/api/v1/users/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def log_in(
    client: httpx.AsyncClient, account: Account, *, user_agent: str = "test-agent/1", **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        LOGIN,
        json={"email": account.email, "password": DEFAULT_PASSWORD, **extra},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": refresh_token})


async def test_login_starts_a_session_with_a_refresh_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    long = await log_in(client, account)
    assert long["expires_in"] == settings.access_token_expire_minutes * 60
    assert long["refresh_token"] and long["session_id"]
    assert long["refresh_expires_in"] == int(settings.refresh_token_days * 86400)
    short = await log_in(client, account, token_lifetime="short")
    assert short["expires_in"] == settings.access_token_minutes * 60 == 15 * 60
    assert short["session_id"] != long["session_id"]
    for body in (long, short):
        assert (await client.get(ME, headers=bearer(body["access_token"]))).status_code == 200


async def test_an_unknown_token_lifetime_is_422(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    response = await client.post(
        LOGIN,
        json={"email": account.email, "password": DEFAULT_PASSWORD, "token_lifetime": "forever"},
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"token_lifetime"}


async def test_refresh_rotates_and_the_old_token_stops_working(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    first = await log_in(client, account)
    rotated = await refresh(client, first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["session_id"] == first["session_id"]
    assert body["refresh_token"] != first["refresh_token"]
    assert body["expires_in"] == settings.access_token_minutes * 60
    me = await client.get(ME, headers=bearer(body["access_token"]))
    assert (me.status_code, me.json()["id"]) == (200, account.id)
    again = await refresh(client, body["refresh_token"])
    assert again.status_code == 200


async def test_a_reused_refresh_token_revokes_the_whole_session(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    first = await log_in(client, account)
    second = (await refresh(client, first["refresh_token"])).json()
    assert (await client.get(ME, headers=bearer(second["access_token"]))).status_code == 200

    reused = await refresh(client, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.json()["reason"] == "refresh_invalid"
    # The thief's (or the owner's) newer tokens die with the family.
    assert (await refresh(client, second["refresh_token"])).status_code == 401
    assert (await client.get(ME, headers=bearer(second["access_token"]))).status_code == 401
    assert (await client.get(ME, headers=bearer(first["access_token"]))).status_code == 401
    listed = await client.get(SESSIONS, headers=account.headers)
    assert first["session_id"] not in {s["id"] for s in listed.json()}

    log = (Path(settings.log_dir) / "app.log").read_text()
    events = [line for line in log.splitlines() if "refresh token reused" in line]
    assert len(events) == 1
    assert first["session_id"] in events[0] and "security=True" in events[0]
    for secret in (first["refresh_token"], second["refresh_token"], second["access_token"]):
        assert secret not in log


async def test_unknown_or_malformed_refresh_tokens(client: httpx.AsyncClient) -> None:
    unknown = await refresh(client, "not-a-token-we-issued")
    assert unknown.status_code == 401
    assert unknown.headers["www-authenticate"] == "Bearer"
    for body in ({}, {"refresh_token": ""}, {"refresh_token": 5}, {"refresh_token": "a", "x": 1}):
        response = await client.post(REFRESH, json=body)
        assert response.status_code == 422, body


async def test_an_expired_refresh_token_is_401(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    first = await log_in(client, account)
    async with app.state.database.transaction() as session:
        await session.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.session_id == uuid.UUID(first["session_id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await refresh(client, first["refresh_token"])).status_code == 401


async def test_a_revoked_sessions_access_token_is_refused_at_once(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    other = await log_in(client, account, user_agent="other-device")
    # Cached by the token cache before the revocation.
    assert (await client.get(ME, headers=bearer(other["access_token"]))).status_code == 200
    revoked = await client.delete(f"{SESSIONS}/{other['session_id']}", headers=account.headers)
    assert revoked.status_code == 204
    assert (await client.get(ME, headers=bearer(other["access_token"]))).status_code == 401
    assert (await refresh(client, other["refresh_token"])).status_code == 401
    assert (await client.get(ME, headers=account.headers)).status_code == 200
    again = await client.delete(f"{SESSIONS}/{other['session_id']}", headers=account.headers)
    assert again.status_code == 404


async def test_the_list_shows_live_sessions_and_marks_the_current_one(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    laptop = await log_in(client, account, user_agent="Laptop Browser")
    phone = await log_in(client, account, user_agent="Phone App")
    listed = await client.get(SESSIONS, headers=bearer(laptop["access_token"]))
    assert listed.status_code == 200
    by_id = {s["id"]: s for s in listed.json()}
    # The factory's sign-up login is the third.
    assert len(by_id) == 3
    assert by_id[laptop["session_id"]]["current"] is True
    assert by_id[laptop["session_id"]]["user_agent"] == "Laptop Browser"
    assert by_id[phone["session_id"]]["current"] is False
    assert by_id[phone["session_id"]]["user_agent"] == "Phone App"
    assert by_id[phone["session_id"]]["ip"] == "127.0.0.1"
    assert [s["current"] for s in listed.json()].count(True) == 1
    for field in ("created_at", "last_used_at", "expires_at"):
        assert by_id[phone["session_id"]][field]
    assert "refresh_token" not in listed.text and phone["refresh_token"] not in listed.text


async def test_using_an_access_token_records_its_sessions_last_use_once_a_minute(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """A 7-day token that is never refreshed still shows when it was last used."""
    account = await sign_up(client)
    phone = await log_in(client, account, user_agent="Phone App")
    session_id = uuid.UUID(phone["session_id"])
    an_hour_ago = utcnow() - timedelta(hours=1)

    async def last_used_at() -> Any:
        async with app.state.database.transaction() as session:
            return await session.scalar(
                sa.select(UserSession.last_used_at).where(UserSession.id == session_id)
            )

    async def set_last_used_at(when: Any) -> None:
        async with app.state.database.transaction() as session:
            await session.execute(
                sa.update(UserSession).where(UserSession.id == session_id).values(last_used_at=when)
            )

    await set_last_used_at(an_hour_ago)
    assert (await client.get(ME, headers=bearer(phone["access_token"]))).status_code == 200
    assert await last_used_at() > utcnow() - timedelta(minutes=1)
    listed = (await client.get(SESSIONS, headers=account.headers)).json()
    (shown,) = [s for s in listed if s["id"] == phone["session_id"]]
    assert shown["last_used_at"] > an_hour_ago.isoformat()

    # Within the minute the request writes nothing.
    await set_last_used_at(an_hour_ago)
    assert (await client.get(ME, headers=bearer(phone["access_token"]))).status_code == 200
    assert await last_used_at() == an_hour_ago


async def test_another_users_session_and_unknown_ids_are_404(client: httpx.AsyncClient) -> None:
    alice = await sign_up(client)
    bob = await sign_up(client)
    bobs = await log_in(client, bob)
    theirs = await client.delete(f"{SESSIONS}/{bobs['session_id']}", headers=alice.headers)
    assert theirs.status_code == 404
    assert (await client.get(ME, headers=bearer(bobs["access_token"]))).status_code == 200
    unknown = await client.delete(f"{SESSIONS}/{uuid.uuid4()}", headers=alice.headers)
    assert unknown.status_code == 404
    malformed = await client.delete(f"{SESSIONS}/not-a-uuid", headers=alice.headers)
    assert malformed.status_code == 422
    alices = await client.get(SESSIONS, headers=alice.headers)
    assert bobs["session_id"] not in {s["id"] for s in alices.json()}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", SESSIONS),
        ("DELETE", f"{SESSIONS}/{uuid.uuid4()}"),
        ("POST", f"{SESSIONS}/revoke-others"),
    ],
)
async def test_session_routes_need_a_caller(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 401


async def test_revoke_others_keeps_only_the_current_session(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    keep = await log_in(client, account)
    other = await log_in(client, account)
    done = await client.post(f"{SESSIONS}/revoke-others", headers=bearer(keep["access_token"]))
    assert (done.status_code, done.json()) == (200, {"revoked": 2})
    assert (await client.get(ME, headers=account.headers)).status_code == 401
    assert (await client.get(ME, headers=bearer(other["access_token"]))).status_code == 401
    listed = await client.get(SESSIONS, headers=bearer(keep["access_token"]))
    assert [s["id"] for s in listed.json()] == [keep["session_id"]]


async def test_a_password_change_revokes_the_other_sessions(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    here = await log_in(client, account)
    there = await log_in(client, account)
    changed = await client.post(
        "/api/v1/users/me/password",
        headers=bearer(here["access_token"]),
        json={"current_password": DEFAULT_PASSWORD, "new_password": "a brand new password"},
    )
    assert changed.status_code == 204
    # Every access token issued before the change dies (the token version) ...
    assert (await client.get(ME, headers=bearer(here["access_token"]))).status_code == 401
    assert (await client.get(ME, headers=bearer(there["access_token"]))).status_code == 401
    # ... the other sessions are over, and this one renews with its refresh token.
    assert (await refresh(client, there["refresh_token"])).status_code == 401
    renewed = await refresh(client, here["refresh_token"])
    assert renewed.status_code == 200
    me = await client.get(ME, headers=bearer(renewed.json()["access_token"]))
    assert me.status_code == 200


async def test_bearer_logout_ends_its_session(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    body = await log_in(client, account)
    out = await client.post("/api/v1/auth/logout", headers=bearer(body["access_token"]))
    assert out.status_code == 204
    assert (await refresh(client, body["refresh_token"])).status_code == 401
    listed = await client.get(SESSIONS, headers=account.headers)
    assert body["session_id"] not in {s["id"] for s in listed.json()}


async def test_a_disabled_account_cannot_refresh(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    body = await log_in(client, account)
    async with app.state.database.transaction() as session:
        await session.execute(
            sa.text("UPDATE users SET is_active = :f WHERE email = :e"),
            {"f": False, "e": account.email},
        )
    assert (await refresh(client, body["refresh_token"])).status_code == 403


async def test_deleting_the_account_ends_its_sessions(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    body = await log_in(client, account)
    deleted = await client.request(
        "DELETE", ME, headers=account.headers, json={"password": DEFAULT_PASSWORD}
    )
    assert deleted.status_code == 204
    assert (await refresh(client, body["refresh_token"])).status_code == 401
