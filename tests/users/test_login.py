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


async def test_openapi_marks_exactly_the_private_operations_as_bearer_secured(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    scheme = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    operations = {
        (method.upper(), path): operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    secured = {key for key, operation in operations.items() if "security" in operation}
    assert ("GET", "/api/v1/users/me") in secured
    assert ("POST", "/api/v1/agents/{agent_id}/run") in secured
    assert ("POST", "/api/v1/auth/logout") in secured
    for public in [
        ("POST", "/api/v1/users"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/hooks/{token}"),
        ("GET", "/api/v1/marketplace/templates"),
        ("GET", "/health"),
    ]:
        assert public in operations and public not in secured
    # Every secured operation really refuses an anonymous caller.
    for method, path in sorted(secured):
        concrete = path.replace("{", "").replace("}", "")
        response = await client.request(method, concrete)
        assert response.status_code == 401, (method, path, response.status_code)


async def test_login_body_validation(client: httpx.AsyncClient) -> None:
    missing = await client.post("/api/v1/auth/login", json={"email": "x@example.com"})
    assert missing.status_code == 422
    wrong_type = await client.post("/api/v1/auth/login", json={"email": 1, "password": []})
    assert wrong_type.status_code == 422
