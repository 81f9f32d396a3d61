"""Password reset: one answer for every address, single-use links, everything revoked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from botskis.app import create_app
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.mail.models import MailStatus, OutboxMail
from botskis.users.mail_outbox import account_mail_delivery
from botskis.users.models import AccountToken
from tests.fakes.smtp_server import FakeSmtpServer
from tests.users.factories import create_api_key, key_headers, log_in, sign_up
from tests.users.mailbox import PUBLIC_URL, mails_to, smtp_settings, token_in

RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fake_smtp: FakeSmtpServer) -> Settings:
    return smtp_settings(database_url, tmp_path / "logs", fake_smtp)


async def _reset_token(client: httpx.AsyncClient, smtp: FakeSmtpServer, email: str) -> str:
    assert (await client.post(RESET, json={"email": email})).status_code == 202
    mails = await mails_to(smtp, email, 2)  # the verification mail, then the reset
    assert mails[1].subject == "Reset your password"
    assert f"{PUBLIC_URL}/reset-password?token=" in mails[1].text
    return token_in(mails[1])


async def test_reset_sets_the_password_and_revokes_every_token(
    client: httpx.AsyncClient, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up(client)
    key = (await create_api_key(client, account, ["agents:read"]))["key"]
    token = await _reset_token(client, fake_smtp, account.email.upper())
    done = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert done.status_code == 204, done.text

    assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 401
    assert (await client.get("/api/v1/agents", headers=key_headers(key))).status_code == 401
    old = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert old.status_code == 401
    fresh = await log_in(client, account.email, NEW_PASSWORD)
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {fresh}"})
    # Opening the link proved the address.
    assert me.json()["email_verified_at"] is not None

    notice = (await mails_to(fake_smtp, account.email, 3))[2]
    assert notice.subject == "Your password was changed"
    assert NEW_PASSWORD not in notice.text and token not in notice.text

    reused = await client.post(CONFIRM, json={"token": token, "new_password": "yet another one"})
    assert reused.status_code == 400
    assert reused.json()["reason"] == "token_used"


async def test_expired_reset_link_is_a_400_that_says_so(
    client: httpx.AsyncClient, app: FastAPI, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up(client)
    token = await _reset_token(client, fake_smtp, account.email)
    async with app.state.database.transaction() as session:
        await session.execute(
            sa.update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert expired.status_code == 400
    assert expired.json()["reason"] == "token_expired"
    await log_in(client, account.email, account.password)


async def test_a_verification_link_does_not_reset_a_password(
    client: httpx.AsyncClient, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up(client)
    verify_token = token_in((await mails_to(fake_smtp, account.email))[0])
    wrong = await client.post(CONFIRM, json={"token": verify_token, "new_password": NEW_PASSWORD})
    assert wrong.status_code == 400
    assert wrong.json()["reason"] == "token_invalid"
    await log_in(client, account.email, account.password)


async def test_reset_link_dies_when_the_address_changes(
    client: httpx.AsyncClient, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up(client)
    token = await _reset_token(client, fake_smtp, account.email)
    new = "new-" + account.email
    await client.patch(
        "/api/v1/users/me",
        headers=account.headers,
        json={"email": new, "current_password": account.password},
    )
    change = token_in((await mails_to(fake_smtp, new))[0])
    assert (
        await client.post("/api/v1/auth/verify-email", json={"token": change})
    ).status_code == 200
    stale = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert stale.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"token": "t"},
        {"token": "t", "new_password": "short"},
        {"token": "t", "new_password": "x" * 73},
        {"new_password": NEW_PASSWORD},
        {"token": 1, "new_password": NEW_PASSWORD},
    ],
)
async def test_malformed_confirm_is_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    assert (await client.post(CONFIRM, json=body)).status_code == 422


@pytest.mark.parametrize("body", [{}, {"email": "not an address"}, {"email": 3}])
async def test_malformed_reset_request_is_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    assert (await client.post(RESET, json=body)).status_code == 422


@pytest.fixture
async def quiet_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """No embedded worker: nothing but the request under test touches the database."""
    application = create_app(settings.model_copy(update={"worker_embedded": False}))
    async with LifespanManager(application):
        yield application


async def test_reset_answers_and_works_alike_whether_or_not_the_account_exists(
    quiet_app: FastAPI, settings: Settings, fake_smtp: FakeSmtpServer
) -> None:
    transport = httpx.ASGITransport(app=quiet_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        account = await sign_up(client)
        engine = quiet_app.state.database.engine.sync_engine
        statements: list[str] = []

        def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            statements.append(statement)

        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            known = await client.post(RESET, json={"email": account.email})
            known_work = list(statements)
            statements.clear()
            unknown = await client.post(RESET, json={"email": "nobody@example.com"})
            unknown_work = list(statements)
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)

        assert known.status_code == unknown.status_code == 202
        assert known.content == unknown.content
        assert known.headers["content-length"] == unknown.headers["content-length"]
        # The same statements, in the same order: no lookup of the account at all.
        assert known_work == unknown_work and known_work
        assert not any("FROM users" in s for s in known_work)

        # The worker then mails the real account and discards the other.
        delivery = account_mail_delivery(quiet_app.state.database, quiet_app.state.settings)
        await delivery.deliver_due()
        async with quiet_app.state.database.transaction() as session:
            rows = {
                row.kind + ":" + row.status for row in await session.scalars(sa.select(OutboxMail))
            }
            tokens = list(await session.scalars(sa.select(AccountToken.purpose)))
        assert rows == {"verify_email:sent", "password_reset:sent", "password_reset:discarded"}
        assert sorted(tokens) == ["reset_password", "verify_email"]
        received = fake_smtp.messages
        assert [m.recipients for m in received if m.subject == "Reset your password"] == [
            [account.email]
        ]
        assert not any("nobody@example.com" in m.recipients for m in received)
        assert MailStatus.DISCARDED == "discarded"


async def test_reset_requests_are_rate_limited_per_address(
    database_url: str, tmp_path: Path, fake_smtp: FakeSmtpServer
) -> None:
    settings = smtp_settings(
        database_url, tmp_path / "logs", fake_smtp, rate_limit_account_mail="2/hour"
    )
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for _ in range(2):
                assert (
                    await client.post(RESET, json={"email": "a@example.com"})
                ).status_code == 202
            limited = await client.post(RESET, json={"email": "A@example.com"})
            assert limited.status_code == 429
            assert (await client.post(RESET, json={"email": "b@example.com"})).status_code == 202
