import asyncio
import base64
import os
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from botskis.app import create_app
from botskis.config import Settings
from botskis.credentials.errors import CredentialUndecryptable
from botskis.credentials.service import get_secret
from botskis.credentials.vault import Vault
from botskis.database.base import utcnow
from botskis.mail.models import OutboxMail
from botskis.mail.service import MailKind, queue_mail, unseal
from tests.conftest import make_settings
from tests.live_server import run_cli, server_env
from tests.users.factories import sign_up
from tests.users.test_two_factor import MFA, challenge, code_at, turn_on

SECRET = {"kind": "http_bearer", "name": "API", "secret": {"token": "tok-0123456789abcdef"}}


def new_key(kid: str) -> str:
    return kid + ":" + base64.urlsafe_b64encode(os.urandom(32)).decode()


async def test_rotate_credentials_moves_secrets_to_the_new_key(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    account = await sign_up(client)
    created = await client.post("/api/v1/credentials", headers=account.headers, json=SECRET)
    assert created.json()["key_id"].startswith("dev-")
    key = new_key("2026-11")
    only_new = make_settings(database_url, tmp_path / "logs", credentials_key=key)
    owner = uuid.UUID(account.id)
    async with app.state.database.transaction() as session:
        with pytest.raises(CredentialUndecryptable):
            await get_secret(session, owner, "http_bearer", settings=only_new)

    env = server_env(database_url, tmp_path / "logs", CREDENTIALS_KEY=key)
    env["SECRET_KEY"] = settings.secret_key
    result = run_cli(["rotate-credentials"], env)
    assert result.returncode == 0, result.stderr
    assert "re-encrypted 1 credential(s) under key '2026-11'" in result.stdout

    async with app.state.database.transaction() as session:
        secret = await get_secret(session, owner, "http_bearer", settings=only_new)
    assert secret == {"token": "tok-0123456789abcdef"}
    shown = await client.get(f"/api/v1/credentials/{created.json()['id']}", headers=account.headers)
    assert shown.json()["key_id"] == "2026-11" and shown.json()["hint"] == "****cdef"
    assert shown.json()["updated_at"] == created.json()["updated_at"]
    again = run_cli(["rotate-credentials"], env)
    assert "re-encrypted 0 credential(s)" in again.stdout


async def test_rotate_credentials_refuses_when_a_key_is_missing(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    account = await sign_up(client)
    created = await client.post("/api/v1/credentials", headers=account.headers, json=SECRET)
    key_id = created.json()["key_id"]
    env = server_env(database_url, tmp_path / "logs", CREDENTIALS_KEY=new_key("fresh"))
    result = run_cli(["rotate-credentials"], env)
    assert result.returncode == 2
    assert key_id in result.stderr and "nothing was changed" in result.stderr
    assert "Traceback" not in result.stderr


async def test_rotate_credentials_moves_two_factor_secrets_and_queued_mail(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    """After the rotation a server with only the new key still completes a 2FA login
    and can read a mail that was waiting in the outbox."""
    account = await sign_up(client)
    _secret, _codes = await turn_on(client, account)
    async with app.state.database.transaction() as session:
        waiting = await queue_mail(
            session,
            settings,
            kind=MailKind.TWO_FACTOR_CHANGED,
            to=account.email,
            user_id=uuid.UUID(account.id),
            full_name="Test User",
            change="turned on",
        )
        # Not due for an hour: the delivery loop leaves it in the outbox.
        waiting.next_attempt_at = utcnow() + timedelta(hours=1)
        waiting_id = waiting.id

    key = new_key("2026-12")
    env = server_env(database_url, tmp_path / "logs", CREDENTIALS_KEY=key)
    env["SECRET_KEY"] = settings.secret_key
    # In a thread: the app's loops (the mail delivery woken above) keep running.
    result = await asyncio.to_thread(run_cli, ["rotate-credentials"], env)
    assert result.returncode == 0, result.stderr
    assert "re-encrypted 1 two-factor secret(s) and 1 queued mail(s)" in result.stdout

    only_new = make_settings(database_url, tmp_path / "logs-new", credentials_key=key)
    async with app.state.database.transaction() as session:
        mail = await session.get(OutboxMail, waiting_id)
        assert mail is not None and mail.key_id == "2026-12"
        assert "turned on" in unseal(Vault.from_settings(only_new), mail).text
    renewed = create_app(only_new)
    async with LifespanManager(renewed, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=renewed)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            token = await challenge(other, account)
            done = await other.post(MFA, json={"mfa_token": token, "code": code_at(_secret, 1)})
            assert done.status_code == 200, done.text
