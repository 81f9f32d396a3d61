import base64
import os
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from botskis.config import Settings
from botskis.credentials.errors import CredentialUndecryptable
from botskis.credentials.service import get_secret
from tests.conftest import make_settings
from tests.live_server import run_cli, server_env
from tests.users.factories import sign_up

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
