"""Accounts for tests, created through the public API like a real client would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

DEFAULT_PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def sign_up(
    client: httpx.AsyncClient,
    *,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    full_name: str = "Test User",
) -> Account:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    created = await client.post(
        "/api/v1/users", json={"email": email, "password": password, "full_name": full_name}
    )
    assert created.status_code == 201, created.text
    token = await log_in(client, email, password)
    return Account(id=created.json()["id"], email=email, password=password, token=token)


async def delete_account(client: httpx.AsyncClient, account: Account) -> httpx.Response:
    return await client.request(
        "DELETE", "/api/v1/users/me", headers=account.headers, json={"password": account.password}
    )


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> str:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def create_api_key(
    client: httpx.AsyncClient, account: Account, scopes: list[str], **body: object
) -> dict[str, str]:
    """A new key of the account (the create response: `key`, `id`, ...)."""
    response = await client.post(
        "/api/v1/users/me/api-keys",
        headers=account.headers,
        json={"name": "script", "scopes": scopes, **body},
    )
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


def key_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
