import httpx
import pytest

from tests.users.factories import sign_up


async def test_signup_returns_user_without_hash(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/users",
        json={
            "email": "  Alice@Example.COM ",
            "password": "s3cret-pass",
            "full_name": "Alice",
            "company": "Acme",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "alice@example.com"
    assert body["company"] == "Acme"
    assert body["is_active"] is True
    assert set(body) >= {"id", "email", "full_name", "company", "is_active", "created_at"}
    assert "password" not in response.text and "hash" not in response.text


async def test_existing_email_in_other_case_is_409(client: httpx.AsyncClient) -> None:
    await sign_up(client, email="bob@example.com")
    response = await client.post(
        "/api/v1/users",
        json={"email": "BOB@example.com", "password": "another-pass", "full_name": "Bob 2"},
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 409


@pytest.mark.parametrize(
    ("password", "expected_status"),
    [
        ("short", 422),
        ("x" * 73, 422),
        ("é" * 37, 422),  # 74 bytes of UTF-8, 37 characters
        ("é" * 36, 201),  # 72 bytes exactly
        ("12345678", 201),
    ],
)
async def test_password_length_is_counted_in_utf8_bytes(
    client: httpx.AsyncClient, password: str, expected_status: int
) -> None:
    response = await client.post(
        "/api/v1/users",
        json={"email": "pw@example.com", "password": password, "full_name": "P"},
    )
    assert response.status_code == expected_status, response.text
    if expected_status == 422:
        errors = response.json()["errors"]
        assert errors[0]["field"] == "password"
        assert "8 to 72 bytes" in errors[0]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": "password1", "full_name": "X"},
        {"email": "a@example.com", "password": "password1"},
        {"email": "a@example.com", "password": "password1", "full_name": ""},
        {"email": "a@example.com", "password": 12345678, "full_name": "X"},
        {"email": "a@example.com", "password": "password1", "full_name": "X", "is_superuser": True},
        {"email": "a@example.com", "password": "password1", "full_name": "x" * 201},
    ],
)
async def test_invalid_signup_is_422_with_fields(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post("/api/v1/users", json=body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"] and all({"field", "message"} <= set(e) for e in problem["errors"])
    listed = await client.post(
        "/api/v1/auth/login", json={"email": "a@example.com", "password": "password1"}
    )
    assert listed.status_code == 401  # nothing was half-written


async def test_cannot_become_superuser_by_signup(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    me = await client.get("/api/v1/users/me", headers=account.headers)
    assert me.json()["is_superuser"] is False
