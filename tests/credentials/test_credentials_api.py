import uuid

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.config import Settings
from botskis.credentials.errors import CredentialUndecryptable
from botskis.credentials.models import Credential
from botskis.credentials.service import get_secret
from botskis.database.connection import Database
from tests.users.factories import sign_up

OPENAI = {"kind": "openai", "name": "Main OpenAI", "secret": {"api_key": "sk-test-1234567890abcd"}}


async def test_create_returns_masked_hint_never_the_secret(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    response = await client.post("/api/v1/credentials", headers=account.headers, json=OPENAI)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "openai" and body["name"] == "Main OpenAI"
    assert body["hint"] == "****abcd"
    assert "secret" not in body
    assert "sk-test" not in response.text
    listed = await client.get("/api/v1/credentials", headers=account.headers)
    assert listed.json()["total"] == 1
    assert "sk-test" not in listed.text
    one = await client.get(f"/api/v1/credentials/{body['id']}", headers=account.headers)
    assert one.status_code == 200 and "sk-test" not in one.text


async def test_secret_is_encrypted_at_rest(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    await client.post("/api/v1/credentials", headers=account.headers, json=OPENAI)
    database: Database = app.state.database
    async with database.transaction() as session:
        row = await session.scalar(sa.select(Credential))
    assert row is not None
    assert b"sk-test" not in row.ciphertext and len(row.nonce) == 12


async def test_runtime_reads_latest_secret_of_a_kind(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    account = await sign_up(client)
    await client.post("/api/v1/credentials", headers=account.headers, json=OPENAI)
    newer = {**OPENAI, "name": "Second", "secret": {"api_key": "sk-second", "model": "m"}}
    await client.post("/api/v1/credentials", headers=account.headers, json=newer)
    database: Database = app.state.database
    async with database.transaction() as session:
        secret = await get_secret(session, uuid.UUID(account.id), "openai", settings=settings)
        missing = await get_secret(session, uuid.UUID(account.id), "stripe", settings=settings)
    assert secret == {"api_key": "sk-second", "model": "m"}
    assert missing is None


async def test_undecryptable_secret_names_the_key_id(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    account = await sign_up(client)
    created = await client.post("/api/v1/credentials", headers=account.headers, json=OPENAI)
    key_id = created.json()["key_id"]
    other = settings.model_copy(update={"secret_key": "a-different-secret-key-" + "x" * 20})
    database: Database = app.state.database
    async with database.transaction() as session:
        with pytest.raises(CredentialUndecryptable) as error:
            await get_secret(session, uuid.UUID(account.id), "openai", settings=other)
    assert key_id in error.value.detail and "Main OpenAI" in error.value.detail


async def test_patch_renames_and_replaces_secret(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    account = await sign_up(client)
    created = (
        await client.post("/api/v1/credentials", headers=account.headers, json=OPENAI)
    ).json()
    response = await client.patch(
        f"/api/v1/credentials/{created['id']}",
        headers=account.headers,
        json={"name": "Renamed", "secret": {"api_key": "sk-replaced-0000000000wxyz"}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Renamed" and response.json()["hint"] == "****wxyz"
    async with app.state.database.transaction() as session:
        secret = await get_secret(session, uuid.UUID(account.id), "openai", settings=settings)
    assert secret == {"api_key": "sk-replaced-0000000000wxyz"}


async def test_delete_removes_credential(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    created = (
        await client.post("/api/v1/credentials", headers=account.headers, json=OPENAI)
    ).json()
    url = f"/api/v1/credentials/{created['id']}"
    assert (await client.delete(url, headers=account.headers)).status_code == 204
    assert (await client.get(url, headers=account.headers)).status_code == 404


async def test_duplicate_name_is_409(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    await client.post("/api/v1/credentials", headers=account.headers, json=OPENAI)
    again = await client.post("/api/v1/credentials", headers=account.headers, json=OPENAI)
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kind": "nope", "name": "x", "secret": {}}, {"kind"}),
        ({"kind": "http_basic", "name": "x", "secret": {"username": "u"}}, {"secret.password"}),
        (
            {"kind": "http_bearer", "name": "x", "secret": {"token": "t", "extra": "e"}},
            {"secret.extra"},
        ),
        ({"kind": "trello", "name": "x", "secret": {}}, {"secret.api_key", "secret.token"}),
        ({"kind": "http_bearer", "name": "x", "secret": {"token": "  "}}, {"secret.token"}),
    ],
)
async def test_invalid_secret_lists_every_problem(
    client: httpx.AsyncClient, body: dict[str, object], fields: set[str]
) -> None:
    account = await sign_up(client)
    response = await client.post("/api/v1/credentials", headers=account.headers, json=body)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == fields


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "openai", "name": "", "secret": {"api_key": "k"}},
        {"kind": "openai", "name": "x", "secret": {"api_key": ["list"]}},
        {"kind": "openai", "name": "x", "secret": "text"},
        {"kind": "openai", "name": "x", "secret": {"api_key": "k" * 5000}},
        {"kind": "openai", "name": "x"},
        {"kind": "openai", "name": "x", "secret": {"api_key": "k"}, "owner_id": "x"},
    ],
)
async def test_malformed_body_is_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    account = await sign_up(client)
    response = await client.post("/api/v1/credentials", headers=account.headers, json=body)
    assert response.status_code == 422


async def test_patch_validates_secret_against_kind(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    created = (
        await client.post("/api/v1/credentials", headers=account.headers, json=OPENAI)
    ).json()
    response = await client.patch(
        f"/api/v1/credentials/{created['id']}",
        headers=account.headers,
        json={"secret": {"token": "wrong-field"}},
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"secret.api_key", "secret.token"}


async def test_other_users_credential_is_404_on_every_route(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    intruder = await sign_up(client)
    created = (await client.post("/api/v1/credentials", headers=owner.headers, json=OPENAI)).json()
    url = f"/api/v1/credentials/{created['id']}"
    assert (await client.get(url, headers=intruder.headers)).status_code == 404
    patched = await client.patch(url, headers=intruder.headers, json={"name": "mine"})
    assert patched.status_code == 404
    assert (await client.delete(url, headers=intruder.headers)).status_code == 404
    listed = await client.get("/api/v1/credentials", headers=intruder.headers)
    assert listed.json()["total"] == 0
    assert (await client.get(url, headers=owner.headers)).json()["name"] == "Main OpenAI"


async def test_unknown_id_is_404(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    response = await client.get(f"/api/v1/credentials/{uuid.uuid4()}", headers=account.headers)
    assert response.status_code == 404


async def test_credentials_need_auth(client: httpx.AsyncClient) -> None:
    some_id = uuid.uuid4()
    for method, path in [
        ("GET", "/api/v1/credentials"),
        ("POST", "/api/v1/credentials"),
        ("GET", f"/api/v1/credentials/{some_id}"),
        ("PATCH", f"/api/v1/credentials/{some_id}"),
        ("DELETE", f"/api/v1/credentials/{some_id}"),
        ("GET", "/api/v1/credentials/kinds"),
    ]:
        assert (await client.request(method, path)).status_code == 401, path


async def test_kinds_lists_fields(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    kinds = (await client.get("/api/v1/credentials/kinds", headers=account.headers)).json()
    smtp = next(k for k in kinds if k["name"] == "smtp")
    assert smtp["required"] == ["host", "port", "from_address"]
    assert "password" in smtp["optional"]
