"""A login from a browser and address the account has not used before is mailed to
its owner, over real SMTP (the fake server); known devices and the first login are not."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.config import Settings
from botskis.mail.models import OutboxMail
from tests.fakes.smtp_server import FakeSmtpServer
from tests.users.factories import DEFAULT_PASSWORD, Account, sign_up
from tests.users.mailbox import PUBLIC_URL, mails_to, smtp_settings

SUBJECT = "New sign-in to your account"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fake_smtp: FakeSmtpServer) -> Settings:
    return smtp_settings(database_url, tmp_path / "logs", fake_smtp)


async def _log_in(client: httpx.AsyncClient, account: Account, user_agent: str) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": account.email, "password": DEFAULT_PASSWORD},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 200, response.text


async def _alerts_queued(app: FastAPI, account: Account) -> int:
    async with app.state.database.transaction() as session:
        count = await session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMail)
            .where(OutboxMail.user_id == uuid.UUID(account.id), OutboxMail.kind == "new_login")
        )
    return int(count or 0)


async def test_a_new_browser_is_mailed_once_and_a_known_one_never(
    client: httpx.AsyncClient, app: FastAPI, fake_smtp: FakeSmtpServer
) -> None:
    account = await sign_up(client)
    # The first login (inside sign_up) and the same browser again: nothing to say.
    assert await _alerts_queued(app, account) == 0
    await _log_in(client, account, client.headers["User-Agent"])
    assert await _alerts_queued(app, account) == 0

    await _log_in(client, account, "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
    assert await _alerts_queued(app, account) == 1
    mails = await mails_to(fake_smtp, account.email, count=2)
    (alert,) = [m for m in mails if m.subject == SUBJECT]
    assert "browser: Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0" in alert.text
    assert "address: 127.0.0.1" in alert.text
    assert f"{PUBLIC_URL}/account" in alert.text
    assert "Hello Test User" in alert.text

    # That browser is known now.
    await _log_in(client, account, "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
    assert await _alerts_queued(app, account) == 1


async def test_a_failed_login_from_a_new_browser_mails_nothing(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    refused = await client.post(
        "/api/v1/auth/login",
        json={"email": account.email, "password": "not the password at all"},
        headers={"User-Agent": "curl/8.0"},
    )
    assert refused.status_code == 401
    assert await _alerts_queued(app, account) == 0
