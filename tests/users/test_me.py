import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from botskis.database.connection import Database
from botskis.users import schemas
from botskis.users.models import User
from tests.users.factories import delete_account, log_in, sign_up


async def test_update_profile(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    response = await client.patch(
        "/api/v1/users/me", headers=account.headers, json={"full_name": "New Name", "company": "Co"}
    )
    assert response.status_code == 200
    assert response.json()["full_name"] == "New Name"
    assert response.json()["company"] == "Co"
    cleared = await client.patch(
        "/api/v1/users/me", headers=account.headers, json={"company": None}
    )
    assert cleared.json()["company"] is None
    assert cleared.json()["full_name"] == "New Name"
    # The next request's caller comes from the token cache: it must see the change.
    me = await client.get("/api/v1/users/me", headers=account.headers)
    assert (me.json()["full_name"], me.json()["company"]) == ("New Name", None)


@pytest.mark.parametrize(
    "body",
    [{"email": "x@example.com"}, {"full_name": ""}, {"full_name": 5}, {"company": "c" * 201}],
)
async def test_update_profile_rejects_bad_fields(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    account = await sign_up(client)
    response = await client.patch("/api/v1/users/me", headers=account.headers, json=body)
    assert response.status_code == 422


async def test_profile_routes_need_auth(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/users/me"),
        ("PATCH", "/api/v1/users/me"),
        ("DELETE", "/api/v1/users/me"),
        ("POST", "/api/v1/users/me/password"),
        ("POST", "/api/v1/auth/logout"),
        ("GET", "/api/v1/users"),
    ]:
        response = await client.request(method, path, json={})
        assert response.status_code == 401, (method, path)


async def test_wrong_current_password_is_400_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    response = await client.post(
        "/api/v1/users/me/password",
        headers=account.headers,
        json={"current_password": "not-it-at-all", "new_password": "another-pass"},
    )
    assert response.status_code == 400
    me = await client.get("/api/v1/users/me", headers=account.headers)
    assert me.status_code == 200


async def test_new_password_too_short_is_422(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    response = await client.post(
        "/api/v1/users/me/password",
        headers=account.headers,
        json={"current_password": account.password, "new_password": "short"},
    )
    assert response.status_code == 422


async def test_delete_account_frees_the_email(client: httpx.AsyncClient) -> None:
    account = await sign_up(client, email="gone@example.com")
    assert (await delete_account(client, account)).status_code == 204
    again = await sign_up(client, email="gone@example.com")
    assert again.id != account.id


async def test_no_unauthenticated_user_lookup(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    assert (await client.get(f"/api/v1/users/{account.id}")).status_code in {401, 404, 405}
    assert (await client.get("/api/v1/users")).status_code == 401


async def test_me_body_follows_every_change_of_the_caller(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """GET /users/me serves a body rendered once per cached snapshot of the caller:
    it must change with the row, whoever changes it."""
    account = await sign_up(client, full_name="Before")
    first = await client.get("/api/v1/users/me", headers=account.headers)
    assert first.json()["full_name"] == "Before"
    patched = await client.patch(
        "/api/v1/users/me", headers=account.headers, json={"full_name": "After"}
    )
    assert patched.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=account.headers)).json() == patched.json()
    database: Database = app.state.database
    async with database.transaction() as session:
        user = await session.scalar(select(User).where(User.email == account.email))
        assert user is not None
        user.plan = "pro"
        user.company = "Elsewhere"
    again = await client.get("/api/v1/users/me", headers=account.headers)
    assert (again.json()["plan"], again.json()["company"]) == ("pro", "Elsewhere")


async def test_me_body_after_a_password_change_is_the_new_sessions(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 200
    changed = await client.post(
        "/api/v1/users/me/password",
        headers=account.headers,
        json={"current_password": account.password, "new_password": "a brand new password"},
    )
    assert changed.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 401
    token = await log_in(client, account.email, "a brand new password")
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert (me.status_code, me.json()["email"]) == (200, account.email)


async def test_me_body_is_each_callers_own(client: httpx.AsyncClient) -> None:
    first = await sign_up(client, full_name="First")
    second = await sign_up(client, full_name="Second")
    for _ in range(2):
        for account, name in ((first, "First"), (second, "Second")):
            me = await client.get("/api/v1/users/me", headers=account.headers)
            assert (me.json()["id"], me.json()["full_name"]) == (account.id, name)


async def test_me_body_is_the_user_schema(client: httpx.AsyncClient) -> None:
    account = await sign_up(client, full_name="Schema")
    for _ in range(2):  # rendered, then served from the cached snapshot
        me = await client.get("/api/v1/users/me", headers=account.headers)
        assert me.headers["content-type"] == "application/json"
        assert me.headers["cache-control"] == "no-store"
        body = me.json()
        assert schemas.User.model_validate(body).model_dump(mode="json") == body
        assert set(body) == set(schemas.User.model_fields)


async def test_deleting_the_account_needs_the_current_password(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    url = "/api/v1/users/me"
    missing = await client.request("DELETE", url, headers=account.headers)
    assert missing.status_code == 422
    wrong = await client.request(
        "DELETE", url, headers=account.headers, json={"password": "not the password"}
    )
    assert wrong.status_code == 400
    assert wrong.headers["content-type"] == "application/problem+json"
    assert (await client.get(url, headers=account.headers)).status_code == 200
    assert (await delete_account(client, account)).status_code == 204
