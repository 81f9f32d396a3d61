"""Email verification and email change, delivered over real SMTP (the fake server)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.users.models import AccountToken, User
from tests.agents.factories import deploy
from tests.fakes.smtp_server import FakeSmtpServer
from tests.users.factories import log_in, sign_up
from tests.users.mailbox import PUBLIC_URL, mails_to, smtp_settings, token_in


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fake_smtp: FakeSmtpServer) -> Settings:
    return smtp_settings(database_url, tmp_path / "logs", fake_smtp)


async def _verify(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/verify-email", json={"token": token})


async def test_signup_mails_a_link_that_verifies_once(
    client: httpx.AsyncClient, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up(client)
    me = (await client.get("/api/v1/users/me", headers=account.headers)).json()
    assert me["email_verified_at"] is None
    (mail,) = await mails_to(fake_smtp, account.email)
    assert mail.subject == "Verify your email address"
    assert mail.mail_from == "accounts@botskis.example"
    assert f"{PUBLIC_URL}/verify-email?token=" in mail.text
    token = token_in(mail)

    verified = await _verify(client, token)
    assert verified.status_code == 200, verified.text
    assert verified.json()["email_verified_at"] is not None
    me = (await client.get("/api/v1/users/me", headers=account.headers)).json()
    assert me["email_verified_at"] is not None

    again = await _verify(client, token)
    assert again.status_code == 400
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["reason"] == "token_used"


async def test_only_the_hash_of_a_token_is_stored(
    client: httpx.AsyncClient, app: FastAPI, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up(client)
    token = token_in((await mails_to(fake_smtp, account.email))[0])
    async with app.state.database.transaction() as session:
        stored = list(await session.scalars(sa.select(AccountToken.token_hash)))
    assert len(stored) == 1 and stored[0] != token and token not in stored[0]


async def test_expired_link_is_a_400_that_says_so(
    client: httpx.AsyncClient, app: FastAPI, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up(client)
    token = token_in((await mails_to(fake_smtp, account.email))[0])
    async with app.state.database.transaction() as session:
        await session.execute(
            sa.update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = await _verify(client, token)
    assert expired.status_code == 400
    assert expired.json()["reason"] == "token_expired"
    assert "expired" in expired.json()["detail"]


@pytest.mark.parametrize("token", ["not-a-token", "x" * 200])
async def test_unknown_token_is_a_400(client: httpx.AsyncClient, token: str) -> None:
    response = await _verify(client, token)
    assert response.status_code == 400
    assert response.json()["reason"] == "token_invalid"


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": 5}, {"token": "x" * 201}])
async def test_malformed_verify_body_is_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    assert (await _verify(client, body)).status_code == 422  # type: ignore[arg-type]


async def test_resend_replaces_the_link_and_is_rate_limited(
    database_url: str, tmp_path: Path, fake_smtp: FakeSmtpServer
) -> None:
    from asgi_lifespan import LifespanManager

    from botskis.app import create_app

    settings = smtp_settings(
        database_url, tmp_path / "logs", fake_smtp, rate_limit_account_mail="2/hour"
    )
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            account = await sign_up(client)
            first = token_in((await mails_to(fake_smtp, account.email))[0])
            url = "/api/v1/auth/verify-email/resend"
            assert (await client.post(url)).status_code == 401
            resent = await client.post(url, headers=account.headers)
            assert resent.status_code == 202, resent.text
            second = token_in((await mails_to(fake_smtp, account.email, 2))[1])
            assert second != first
            # Only the latest link works.
            assert (await _verify(client, first)).json()["reason"] == "token_invalid"
            assert (await client.post(url, headers=account.headers)).status_code == 202
            limited = await client.post(url, headers=account.headers)
            assert limited.status_code == 429
            assert "Retry-After" in limited.headers


async def test_resend_after_verification_is_409(
    client: httpx.AsyncClient, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up(client)
    assert (
        await _verify(client, token_in((await mails_to(fake_smtp, account.email))[0]))
    ).is_success
    again = await client.post("/api/v1/auth/verify-email/resend", headers=account.headers)
    assert again.status_code == 409


async def test_unverified_user_browses_but_cannot_deploy_or_run_when_required(
    database_url: str, tmp_path: Path, fake_smtp: FakeSmtpServer
) -> None:
    from asgi_lifespan import LifespanManager

    from botskis.app import create_app

    settings = smtp_settings(
        database_url, tmp_path / "logs", fake_smtp, require_verified_email=True
    )
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            account = await sign_up(client)
            assert (await client.get("/api/v1/agents", headers=account.headers)).status_code == 200
            assert (await client.get("/api/v1/marketplace/templates")).status_code == 200
            refused = await client.post(
                "/api/v1/agents/deploy",
                headers=account.headers,
                json={"template_id": "report-generator", "config": {}},
            )
            assert refused.status_code == 403
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["reason"] == "email_not_verified"
            assert "Verify your email" in refused.json()["detail"]

            token = token_in((await mails_to(fake_smtp, account.email))[0])
            assert (await _verify(client, token)).status_code == 200
            agent = await deploy(client, account)
            ran = await client.post(f"/api/v1/agents/{agent['id']}/run", headers=account.headers)
            assert ran.status_code == 202

            async with application.state.database.transaction() as session:
                # Through the ORM, so the token cache hears of the change.
                user = await session.get(User, uuid.UUID(account.id))
                assert user is not None
                user.email_verified_at = None
            refused_run = await client.post(
                f"/api/v1/agents/{agent['id']}/run", headers=account.headers
            )
            assert refused_run.status_code == 403
            assert refused_run.json()["reason"] == "email_not_verified"


def test_verification_is_required_by_default_only_in_production(settings: Settings) -> None:
    assert settings.email_verification_required is False
    production = settings.model_copy(update={"environment": "production"})
    assert production.email_verification_required is True
    relaxed = production.model_copy(update={"require_verified_email": False})
    assert relaxed.email_verification_required is False


async def test_email_change_takes_effect_only_after_the_new_address_confirms(
    client: httpx.AsyncClient, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up(client)
    new = "moved-" + account.email
    url = "/api/v1/users/me"
    missing = await client.patch(url, headers=account.headers, json={"email": new})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "current_password"
    wrong = await client.patch(
        url, headers=account.headers, json={"email": new, "current_password": "wrong password"}
    )
    assert wrong.status_code == 400

    asked = await client.patch(
        url, headers=account.headers, json={"email": new, "current_password": account.password}
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["email"] == account.email
    (confirmation,) = await mails_to(fake_smtp, new)
    assert confirmation.subject == "Confirm your new email address"
    # Still the old login until confirmed.
    await log_in(client, account.email, account.password)

    confirmed = await _verify(client, token_in(confirmation))
    assert confirmed.status_code == 200
    assert confirmed.json()["email"] == new
    notice = (await mails_to(fake_smtp, account.email, 2))[1]
    assert notice.subject == "Your login address was changed"
    assert new in notice.text
    await log_in(client, new, account.password)
    old_login = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert old_login.status_code == 401


async def test_email_change_to_a_taken_address_is_409_then_and_at_confirmation(
    client: httpx.AsyncClient, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up(client)
    other = await sign_up(client)
    taken = await client.patch(
        "/api/v1/users/me",
        headers=account.headers,
        json={"email": other.email.upper(), "current_password": account.password},
    )
    assert taken.status_code == 409

    wanted = "wanted-" + account.email
    asked = await client.patch(
        "/api/v1/users/me",
        headers=account.headers,
        json={"email": wanted, "current_password": account.password},
    )
    assert asked.status_code == 200
    token = token_in((await mails_to(fake_smtp, wanted))[0])
    # Someone else signs up with that address before the link is opened.
    await sign_up(client, email=wanted)
    late = await _verify(client, token)
    assert late.status_code == 409


async def test_without_smtp_the_mail_and_its_link_go_to_the_log(
    database_url: str, tmp_path: Path
) -> None:
    from asgi_lifespan import LifespanManager

    from botskis.app import create_app
    from botskis.users.mail_outbox import account_mail_delivery
    from tests.conftest import make_settings

    settings = make_settings(
        database_url, tmp_path / "logs", public_url=PUBLIC_URL, worker_embedded=False
    )
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            account = await sign_up(client)
            delivery = account_mail_delivery(application.state.database, settings)
            assert await delivery.deliver_due() == 1
            log = (tmp_path / "logs" / "app.log").read_text()
            line = next(line for line in log.splitlines() if "written to the log" in line)
            assert "INFO" in line and account.email in line
            token = line.split("verify-email?token=")[1].split()[0]
            assert (await _verify(client, token)).status_code == 200
            assert account.password not in log
