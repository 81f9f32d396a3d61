import httpx
import pytest

from tests.users.factories import sign_up


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
    assert (await client.delete("/api/v1/users/me", headers=account.headers)).status_code == 204
    again = await sign_up(client, email="gone@example.com")
    assert again.id != account.id


async def test_no_unauthenticated_user_lookup(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    assert (await client.get(f"/api/v1/users/{account.id}")).status_code in {401, 404, 405}
    assert (await client.get("/api/v1/users")).status_code == 401
