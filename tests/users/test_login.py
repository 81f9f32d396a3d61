import httpx

from tests.users.factories import DEFAULT_PASSWORD, sign_up


async def test_login_returns_bearer_token(client: httpx.AsyncClient) -> None:
    account = await sign_up(client, email="carol@example.com")
    response = await client.post(
        "/api/v1/auth/login", json={"email": "CAROL@example.com", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 7 * 24 * 3600
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["id"] == account.id


async def test_unknown_email_and_wrong_password_are_identical_401(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, email="dave@example.com")
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "dave@example.com", "password": "wrong-password"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "wrong-password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
    assert strip(wrong) == strip(unknown)
    assert wrong.headers["www-authenticate"] == "Bearer"


async def test_overlong_password_at_login_is_401_not_500(client: httpx.AsyncClient) -> None:
    await sign_up(client, email="erin@example.com")
    response = await client.post(
        "/api/v1/auth/login", json={"email": "erin@example.com", "password": "x" * 500}
    )
    assert response.status_code == 401


async def test_token_form_endpoint_for_openapi_authorize(client: httpx.AsyncClient) -> None:
    await sign_up(client, email="frank@example.com")
    response = await client.post(
        "/api/v1/auth/token", data={"username": "frank@example.com", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    bad = await client.post("/api/v1/auth/token", data={"username": "frank@example.com"})
    assert bad.status_code == 422
    wrong = await client.post(
        "/api/v1/auth/token", data={"username": "frank@example.com", "password": "nope-nope"}
    )
    assert wrong.status_code == 401


async def test_login_body_validation(client: httpx.AsyncClient) -> None:
    missing = await client.post("/api/v1/auth/login", json={"email": "x@example.com"})
    assert missing.status_code == 422
    wrong_type = await client.post("/api/v1/auth/login", json={"email": 1, "password": []})
    assert wrong_type.status_code == 422
