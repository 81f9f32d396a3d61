"""TOTP two-factor authentication: setup, login with a code or a recovery code,
no replay, lockout, and turning it off."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from botskis.app import create_app
from botskis.config import Settings
from botskis.users.models import RecoveryCode, TwoFactor
from tests.fakes.smtp_server import FakeSmtpServer
from tests.users.factories import Account, sign_up
from tests.users.mailbox import mails_to, smtp_settings

SETUP = "/api/v1/users/me/2fa/setup"
ENABLE = "/api/v1/users/me/2fa/enable"
DISABLE = "/api/v1/users/me/2fa/disable"
LOGIN = "/api/v1/auth/login"
MFA = "/api/v1/auth/login/mfa"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fake_smtp: FakeSmtpServer) -> Settings:
    return smtp_settings(database_url, tmp_path / "logs", fake_smtp)


def code_at(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


async def turn_on(client: httpx.AsyncClient, account: Account) -> tuple[str, list[str]]:
    setup = await client.post(SETUP, headers=account.headers)
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    enabled = await client.post(ENABLE, headers=account.headers, json={"code": code_at(secret)})
    assert enabled.status_code == 200, enabled.text
    return secret, enabled.json()["recovery_codes"]


async def challenge(client: httpx.AsyncClient, account: Account) -> str:
    answer = await client.post(LOGIN, json={"email": account.email, "password": account.password})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["mfa_required"] is True and "access_token" not in body
    token: str = body["mfa_token"]
    return token


async def test_setup_gives_a_secret_uri_and_qr_and_enable_returns_ten_recovery_codes(
    client: httpx.AsyncClient, app: FastAPI, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up(client)
    setup = (await client.post(SETUP, headers=account.headers)).json()
    assert setup["otpauth_uri"].startswith("otpauth://totp/Botskis:")
    assert f"secret={setup['secret']}" in setup["otpauth_uri"]
    assert setup["qr_svg"].startswith("<svg") and "xmlns" in setup["qr_svg"]
    # Not on until a code confirms it.
    me = (await client.get("/api/v1/users/me", headers=account.headers)).json()
    assert me["two_factor_enabled"] is False
    wrong = await client.post(ENABLE, headers=account.headers, json={"code": "000000"})
    assert wrong.status_code == 400 and wrong.json()["reason"] == "code_invalid"

    enabled = await client.post(
        ENABLE, headers=account.headers, json={"code": code_at(setup["secret"])}
    )
    codes = enabled.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    me = (await client.get("/api/v1/users/me", headers=account.headers)).json()
    assert me["two_factor_enabled"] is True
    assert (await client.post(SETUP, headers=account.headers)).status_code == 409

    async with app.state.database.sessions() as session:
        row = await session.get(TwoFactor, uuid.UUID(account.id))
        hashes = list(await session.scalars(sa.select(RecoveryCode.code_hash)))
    assert row is not None and setup["secret"].encode() not in row.ciphertext
    assert not set(codes) & set(hashes)
    notice = (await mails_to(fake_smtp, account.email, 2))[1]
    assert notice.subject == "Two-factor authentication changed" and "turned on" in notice.text


async def test_enable_without_setup_is_409(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    response = await client.post(ENABLE, headers=account.headers, json={"code": "123456"})
    assert response.status_code == 409


async def test_login_needs_the_code_and_a_code_is_not_accepted_twice(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    secret, _codes = await turn_on(client, account)
    token = await challenge(client, account)
    # The mfa_token is no access token.
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401

    # The code that enabled 2FA was used in this step already; the next step's is fresh.
    # The same string is replayed below: computing it again could cross into a new step.
    code = code_at(secret, 1)
    done = await client.post(MFA, json={"mfa_token": token, "code": code})
    assert done.status_code == 200, done.text
    access = done.json()["access_token"]
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 200

    again = await challenge(client, account)
    replay = await client.post(MFA, json={"mfa_token": again, "code": code})
    assert replay.status_code == 401
    assert replay.json()["reason"] == "code_invalid"


async def test_an_mfa_token_works_once(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    _secret, codes = await turn_on(client, account)
    token = await challenge(client, account)
    first = await client.post(MFA, json={"mfa_token": token, "recovery_code": codes[0]})
    assert first.status_code == 200
    second = await client.post(MFA, json={"mfa_token": token, "recovery_code": codes[1]})
    assert second.status_code == 401
    assert second.json()["reason"] == "mfa_token_invalid"


async def test_recovery_codes_work_once_each(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    _secret, codes = await turn_on(client, account)
    used = await client.post(
        MFA, json={"mfa_token": await challenge(client, account), "recovery_code": codes[3].upper()}
    )
    assert used.status_code == 200
    again = await client.post(
        MFA, json={"mfa_token": await challenge(client, account), "recovery_code": codes[3]}
    )
    assert again.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"mfa_token": "x"},
        {"mfa_token": "x", "code": "123456", "recovery_code": "abcd-efgh"},
        {"code": "123456"},
        {"mfa_token": "x", "code": "12"},
        {"mfa_token": 5, "code": "123456"},
    ],
)
async def test_malformed_mfa_login_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    assert (await client.post(MFA, json=body)).status_code == 422


async def test_forged_or_other_kinds_of_token_are_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from botskis.core.security import create_mfa_token

    account = await sign_up(client)
    await turn_on(client, account)
    # An access token is not an mfa_token, nor one signed with another key.
    for token in (
        account.token,
        create_mfa_token("some other key", uuid.UUID(account.id), 0, 5).token,
        "not.a.jwt",
    ):
        refused = await client.post(MFA, json={"mfa_token": token, "code": "123456"})
        assert refused.status_code == 401
        assert refused.json()["reason"] == "mfa_token_invalid"


async def test_oauth2_form_login_refuses_two_factor_accounts(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    await turn_on(client, account)
    response = await client.post(
        "/api/v1/auth/token", data={"username": account.email, "password": account.password}
    )
    assert response.status_code == 401
    assert response.json()["reason"] == "mfa_required"


async def _locks_out(client: httpx.AsyncClient, settings: Settings) -> None:
    account = await sign_up(client)
    secret, _codes = await turn_on(client, account)
    token = await challenge(client, account)
    for _ in range(settings.mfa_lockout_threshold):
        wrong = await client.post(MFA, json={"mfa_token": token, "code": "000000"})
        assert wrong.status_code == 401
    locked = await client.post(MFA, json={"mfa_token": token, "code": code_at(secret, 1)})
    assert locked.status_code == 429
    assert locked.json()["reason"] == "mfa_locked"
    assert int(locked.headers["Retry-After"]) >= 1
    # Also where a code guards something else.
    delete = await client.request(
        "DELETE",
        "/api/v1/users/me",
        headers=account.headers,
        json={"password": account.password, "code": code_at(secret, 1)},
    )
    assert delete.status_code == 429


async def test_wrong_codes_lock_the_account_out(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await _locks_out(client, settings)


async def test_lockout_holds_in_the_database_without_redis(
    database_url: str, tmp_path: Path, fake_smtp: FakeSmtpServer
) -> None:
    settings = smtp_settings(database_url, tmp_path / "logs", fake_smtp, redis_url=None)
    application = create_app(settings)
    assert application.state.code_lockout.backend == "database"
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await _locks_out(client, settings)


async def test_lockout_is_shared_by_processes(
    database_url: str, tmp_path: Path, fake_smtp: FakeSmtpServer, settings: Settings
) -> None:
    """Two apps (two processes' worth of state) on one database and Redis."""
    other = create_app(settings.model_copy(update={"worker_embedded": False}))
    first = create_app(settings)
    async with LifespanManager(first), LifespanManager(other):
        a = httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://a")
        b = httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://b")
        async with a, b:
            account = await sign_up(a)
            secret, _ = await turn_on(a, account)
            token = await challenge(a, account)
            for index in range(settings.mfa_lockout_threshold):
                client = a if index % 2 else b
                assert (
                    await client.post(MFA, json={"mfa_token": token, "code": "000000"})
                ).status_code == 401
            locked = await b.post(MFA, json={"mfa_token": token, "code": code_at(secret, 1)})
            assert locked.status_code == 429


async def test_a_right_code_clears_the_count(client: httpx.AsyncClient, settings: Settings) -> None:
    account = await sign_up(client)
    secret, codes = await turn_on(client, account)
    token = await challenge(client, account)
    for _ in range(settings.mfa_lockout_threshold - 1):
        await client.post(MFA, json={"mfa_token": token, "code": "000000"})
    assert (
        await client.post(MFA, json={"mfa_token": token, "recovery_code": codes[0]})
    ).status_code == 200
    token = await challenge(client, account)
    for _ in range(settings.mfa_lockout_threshold - 1):
        await client.post(MFA, json={"mfa_token": token, "code": "000000"})
    assert (
        await client.post(MFA, json={"mfa_token": token, "code": code_at(secret, 1)})
    ).status_code == 200


async def test_disable_needs_password_and_code(
    client: httpx.AsyncClient, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up(client)
    secret, codes = await turn_on(client, account)
    no_code = await client.post(
        DISABLE, headers=account.headers, json={"password": account.password}
    )
    assert no_code.status_code == 422
    wrong_password = await client.post(
        DISABLE, headers=account.headers, json={"password": "nope nope", "code": code_at(secret, 1)}
    )
    assert wrong_password.status_code == 400
    wrong_code = await client.post(
        DISABLE, headers=account.headers, json={"password": account.password, "code": "000000"}
    )
    assert wrong_code.status_code == 400 and wrong_code.json()["reason"] == "code_invalid"
    off = await client.post(
        DISABLE, headers=account.headers, json={"password": account.password, "code": codes[0]}
    )
    assert off.status_code == 204
    plain = await client.post(LOGIN, json={"email": account.email, "password": account.password})
    assert "access_token" in plain.json()
    assert (
        await client.post(
            DISABLE, headers=account.headers, json={"password": account.password, "code": "123456"}
        )
    ).status_code == 409
    notice = (await mails_to(fake_smtp, account.email, 3))[2]
    assert "turned off" in notice.text


async def test_deleting_a_two_factor_account_needs_a_code(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    secret, _codes = await turn_on(client, account)
    url = "/api/v1/users/me"
    missing = await client.request(
        "DELETE", url, headers=account.headers, json={"password": account.password}
    )
    assert missing.status_code == 400 and missing.json()["reason"] == "code_required"
    wrong = await client.request(
        "DELETE",
        url,
        headers=account.headers,
        json={"password": account.password, "code": "000000"},
    )
    assert wrong.status_code == 400
    done = await client.request(
        "DELETE",
        url,
        headers=account.headers,
        json={"password": account.password, "code": code_at(secret, 1)},
    )
    assert done.status_code == 204


async def test_two_factor_routes_need_a_caller(client: httpx.AsyncClient) -> None:
    for url in (SETUP, ENABLE, DISABLE):
        assert (await client.post(url, json={})).status_code == 401


async def test_dashboard_login_of_a_two_factor_account_needs_the_code_too(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    secret, _codes = await turn_on(client, account)
    started = await client.post(
        "/api/v1/auth/session", json={"email": account.email, "password": account.password}
    )
    assert started.status_code == 200
    assert started.json()["mfa_required"] is True
    assert "set-cookie" not in started.headers
    token = started.json()["mfa_token"]
    wrong = await client.post(
        "/api/v1/auth/session/mfa", json={"mfa_token": token, "code": "000000"}
    )
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    done = await client.post(
        "/api/v1/auth/session/mfa", json={"mfa_token": token, "code": code_at(secret, 1)}
    )
    assert done.status_code == 200, done.text
    assert "botskis_session=" in done.headers["set-cookie"]
    assert done.json()["user"]["two_factor_enabled"] is True


async def test_turning_two_factor_on_or_off_signs_the_other_sessions_out(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    credentials = {"email": account.email, "password": account.password}
    other = (await client.post(LOGIN, json=credentials)).json()
    secret, codes = await turn_on(client, account)
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    assert (await client.get("/api/v1/users/me", headers=other_headers)).status_code == 401
    refresh = {"refresh_token": other["refresh_token"]}
    assert (await client.post("/api/v1/auth/refresh", json=refresh)).status_code == 401
    # The session that turned it on stays.
    assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 200

    token = await challenge(client, account)
    second = await client.post(MFA, json={"mfa_token": token, "code": code_at(secret, 1)})
    assert second.status_code == 200
    second_headers = {"Authorization": f"Bearer {second.json()['access_token']}"}
    off = await client.post(
        DISABLE, headers=account.headers, json={"password": account.password, "code": codes[0]}
    )
    assert off.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=second_headers)).status_code == 401
    assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 200


async def test_the_mfa_step_issues_short_tokens_when_asked(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    secret, _codes = await turn_on(client, account)
    token = await challenge(client, account)
    done = await client.post(
        MFA, json={"mfa_token": token, "code": code_at(secret, 1), "token_lifetime": "short"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["expires_in"] == settings.access_token_minutes * 60
    assert done.json()["refresh_token"]
