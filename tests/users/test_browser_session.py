"""The dashboard's cookie session: login sets the cookies, the cookie authenticates,
unsafe methods need the CSRF echo, logout revokes and clears, bearer is untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from botskis.app import create_app
from botskis.config import Settings
from botskis.core.browser_session import CSRF_COOKIE, REFRESH_COOKIE, SESSION_COOKIE
from tests.conftest import make_settings
from tests.users.factories import Account, sign_up


async def _session_login(client: httpx.AsyncClient, account: Account) -> httpx.Response:
    response = await client.post(
        "/api/v1/auth/session", json={"email": account.email, "password": account.password}
    )
    assert response.status_code == 200, response.text
    return response


def _set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    cookies: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            cookies[name] = cookie
    return cookies


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies like a browser, with no Authorization header."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def _csrf(browser: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": browser.cookies[CSRF_COOKIE]}


async def test_session_login_sets_an_http_only_session_cookie_and_a_readable_csrf_cookie(
    browser: httpx.AsyncClient,
) -> None:
    account = await sign_up(browser)
    browser.cookies.clear()
    response = await _session_login(browser, account)
    body = response.json()
    assert "access_token" not in body and account.token not in response.text
    assert body["user"]["email"] == account.email
    assert body["csrf_token"] == browser.cookies[CSRF_COOKIE]
    assert response.headers["cache-control"] == "no-store"
    cookies = _set_cookies(response)
    session = cookies[SESSION_COOKIE][SESSION_COOKIE]
    assert session["httponly"] is True
    assert session["samesite"].lower() == "lax"
    assert session["path"] == "/"
    assert not session["secure"]  # plain http in development
    assert int(session["max-age"]) > 0
    csrf = cookies[CSRF_COOKIE][CSRF_COOKIE]
    assert not csrf["httponly"]
    assert csrf["samesite"].lower() == "lax"


async def test_session_cookie_is_secure_over_https(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        account = await sign_up(c)
        response = await _session_login(c, account)
    cookies = _set_cookies(response)
    assert cookies[SESSION_COOKIE][SESSION_COOKIE]["secure"] is True
    assert cookies[CSRF_COOKIE][CSRF_COOKIE]["secure"] is True


async def test_session_login_with_a_wrong_password_is_401_and_sets_no_cookie(
    browser: httpx.AsyncClient,
) -> None:
    account = await sign_up(browser)
    response = await browser.post(
        "/api/v1/auth/session", json={"email": account.email, "password": "wrong password!"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "set-cookie" not in response.headers


async def test_session_login_validates_its_body(browser: httpx.AsyncClient) -> None:
    response = await browser.post("/api/v1/auth/session", json={"email": "x@example.com"})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"password"}


async def test_the_session_cookie_authenticates_reads_and_csrf_echoed_writes(
    browser: httpx.AsyncClient,
) -> None:
    account = await sign_up(browser)
    await _session_login(browser, account)
    me = await browser.get("/api/v1/users/me")
    assert me.status_code == 200
    assert me.json()["id"] == account.id
    assert me.headers["cache-control"] == "no-store"
    patched = await browser.patch(
        "/api/v1/users/me", json={"full_name": "Renamed"}, headers=_csrf(browser)
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["full_name"] == "Renamed"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/credentials", {"kind": "openai", "name": "x", "secret": {}}),
        ("PUT", "/api/v1/users/00000000-0000-0000-0000-000000000000/plan", {"plan": "starter"}),
        ("PATCH", "/api/v1/users/me", {"full_name": "Nope"}),
        ("DELETE", "/api/v1/users/me", None),
    ],
)
async def test_unsafe_methods_with_the_cookie_and_no_csrf_header_are_403(
    browser: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    account = await sign_up(browser)
    await _session_login(browser, account)
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        response = await browser.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, headers, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "X-CSRF-Token" in response.json()["detail"]
    # Nothing happened: the account is still there, with its name.
    me = await browser.get("/api/v1/users/me")
    assert me.status_code == 200 and me.json()["full_name"] == "Test User"


async def test_a_csrf_token_of_another_session_is_refused(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    account = await sign_up(browser)
    await _session_login(browser, account)
    other = await _session_login(client, account)
    stolen = other.json()["csrf_token"]
    assert stolen != browser.cookies[CSRF_COOKIE]
    # Both header and cookie carry the other session's token: still refused.
    browser.cookies.set(CSRF_COOKIE, stolen)
    response = await browser.patch(
        "/api/v1/users/me", json={"full_name": "Nope"}, headers={"X-CSRF-Token": stolen}
    )
    assert response.status_code == 403


async def test_an_invalid_session_cookie_is_401_not_403(browser: httpx.AsyncClient) -> None:
    browser.cookies.set(SESSION_COOKIE, "not-a-token")
    response = await browser.patch("/api/v1/users/me", json={"full_name": "x"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_bearer_requests_ignore_cookies_and_need_no_csrf(
    browser: httpx.AsyncClient,
) -> None:
    owner = await sign_up(browser)
    other = await sign_up(browser)
    await _session_login(browser, other)
    # The bearer token decides who is calling; the other account's cookie is not read.
    me = await browser.get("/api/v1/users/me", headers=owner.headers)
    assert me.json()["id"] == owner.id
    patched = await browser.patch(
        "/api/v1/users/me", json={"full_name": "Via bearer"}, headers=owner.headers
    )
    assert patched.status_code == 200
    browser.cookies.clear()
    assert (await browser.get("/api/v1/users/me", headers=owner.headers)).status_code == 200
    assert (await browser.get("/api/v1/users/me")).status_code == 401


async def test_logout_revokes_the_cookies_token_and_clears_both_cookies(
    browser: httpx.AsyncClient,
) -> None:
    account = await sign_up(browser)
    await _session_login(browser, account)
    old_session = browser.cookies[SESSION_COOKIE]
    old_csrf = browser.cookies[CSRF_COOKIE]
    response = await browser.delete("/api/v1/auth/session", headers=_csrf(browser))
    assert response.status_code == 204
    cleared = _set_cookies(response)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        assert cleared[name][name].value == ""
        assert int(cleared[name][name]["max-age"]) == 0
    assert SESSION_COOKIE not in browser.cookies
    assert (await browser.get("/api/v1/users/me")).status_code == 401
    # Replaying the old cookie (say, from a copy the browser kept) does not work either.
    browser.cookies.set(SESSION_COOKIE, old_session)
    browser.cookies.set(CSRF_COOKIE, old_csrf)
    assert (await browser.get("/api/v1/users/me")).status_code == 401
    # Bearer tokens of the same account are separate sessions and keep working.
    assert (await browser.get("/api/v1/users/me", headers=account.headers)).status_code == 200


async def test_logout_without_the_csrf_header_is_403_and_keeps_the_session(
    browser: httpx.AsyncClient,
) -> None:
    account = await sign_up(browser)
    await _session_login(browser, account)
    response = await browser.delete("/api/v1/auth/session")
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert (await browser.get("/api/v1/users/me")).status_code == 200


async def test_logout_with_a_stale_cookie_or_none_just_clears(
    browser: httpx.AsyncClient,
) -> None:
    browser.cookies.set(SESSION_COOKIE, "expired-or-garbage")
    response = await browser.delete("/api/v1/auth/session")
    assert response.status_code == 204
    assert _set_cookies(response)[SESSION_COOKIE][SESSION_COOKIE]["max-age"] == "0"
    browser.cookies.clear()
    assert (await browser.delete("/api/v1/auth/session")).status_code == 204


async def test_a_password_change_ends_cookie_sessions_too(browser: httpx.AsyncClient) -> None:
    account = await sign_up(browser)
    await _session_login(browser, account)
    changed = await browser.post(
        "/api/v1/users/me/password",
        json={"current_password": account.password, "new_password": "a brand new secret"},
        headers=_csrf(browser),
    )
    assert changed.status_code == 204
    assert (await browser.get("/api/v1/users/me")).status_code == 401


async def test_deleting_the_account_from_a_browser_needs_the_password(
    browser: httpx.AsyncClient,
) -> None:
    account = await sign_up(browser)
    await _session_login(browser, account)
    missing = await browser.delete("/api/v1/users/me", headers=_csrf(browser))
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"field": "password", "message": "Field required"}]
    wrong = await browser.request(
        "DELETE", "/api/v1/users/me", json={"password": "not it at all"}, headers=_csrf(browser)
    )
    assert wrong.status_code == 400
    assert wrong.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in wrong.json()["errors"]] == ["password"]
    assert (await browser.get("/api/v1/users/me")).status_code == 200
    deleted = await browser.request(
        "DELETE", "/api/v1/users/me", json={"password": account.password}, headers=_csrf(browser)
    )
    assert deleted.status_code == 204
    cleared = _set_cookies(deleted)
    assert cleared[SESSION_COOKIE][SESSION_COOKIE]["max-age"] == "0"
    assert cleared[CSRF_COOKIE][CSRF_COOKIE]["max-age"] == "0"
    assert (await browser.get("/api/v1/users/me", headers=account.headers)).status_code == 401


async def test_bearer_clients_confirm_a_deletion_with_the_password_too(
    client: httpx.AsyncClient,
) -> None:
    plain = await sign_up(client)
    assert (await client.delete("/api/v1/users/me", headers=plain.headers)).status_code == 422
    careful = await sign_up(client)
    wrong = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": "nope nope"}, headers=careful.headers
    )
    assert wrong.status_code == 400
    extra = await client.request(
        "DELETE",
        "/api/v1/users/me",
        json={"password": careful.password, "also": 1},
        headers=careful.headers,
    )
    assert extra.status_code == 422
    ok = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": careful.password}, headers=careful.headers
    )
    assert ok.status_code == 204
    assert "set-cookie" not in ok.headers


async def test_cookie_sessions_are_outside_the_per_ip_limit(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path / "logs", rate_limit_default="3/minute")
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            account = await sign_up(c)  # two anonymous requests: signup and login
            c.cookies.clear()
            await _session_login(c, account)  # the third
            for _ in range(6):
                assert (await c.get("/api/v1/users/me")).status_code == 200
            c.cookies.set(SESSION_COOKIE, "not-a-token")
            assert (await c.get("/api/v1/marketplace/templates")).status_code == 429


SESSION_REFRESH = "/api/v1/auth/session/refresh"


async def test_the_refresh_cookie_is_http_only_and_sent_only_to_the_auth_routes(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(browser)
    cookies = _set_cookies(await _session_login(browser, account))
    refresh = cookies[REFRESH_COOKIE][REFRESH_COOKIE]
    assert refresh["httponly"] is True
    assert refresh["samesite"].lower() == "lax"
    assert refresh["path"] == "/api/v1/auth"
    assert int(refresh["max-age"]) == int(settings.refresh_token_days * 86400)
    # The access cookie is short-lived; the CSRF cookie lasts as long as the session.
    assert int(cookies[SESSION_COOKIE][SESSION_COOKIE]["max-age"]) == 15 * 60
    assert int(cookies[CSRF_COOKIE][CSRF_COOKIE]["max-age"]) == int(refresh["max-age"])


async def test_an_expired_access_cookie_is_renewed_silently_with_the_refresh_cookie(
    browser: httpx.AsyncClient,
) -> None:
    account = await sign_up(browser)
    await _session_login(browser, account)
    csrf = browser.cookies[CSRF_COOKIE]
    old_refresh = browser.cookies[REFRESH_COOKIE]
    # What the browser does when the access cookie's max-age is over.
    browser.cookies.delete(SESSION_COOKIE)
    assert (await browser.get("/api/v1/users/me")).status_code == 401
    renewed = await browser.post(SESSION_REFRESH, headers=_csrf(browser))
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["user"]["email"] == account.email
    assert "access_token" not in renewed.text
    # The CSRF token belongs to the session, so it stays; the refresh cookie rotates.
    assert renewed.json()["csrf_token"] == csrf == browser.cookies[CSRF_COOKIE]
    assert browser.cookies[REFRESH_COOKIE] != old_refresh
    me = await browser.get("/api/v1/users/me")
    assert (me.status_code, me.json()["email"]) == (200, account.email)
    # Writes keep working with the same CSRF echo.
    patched = await browser.patch(
        "/api/v1/users/me", json={"full_name": "Renewed"}, headers=_csrf(browser)
    )
    assert patched.status_code == 200


async def test_a_reused_refresh_cookie_ends_the_dashboard_session(
    browser: httpx.AsyncClient,
) -> None:
    account = await sign_up(browser)
    await _session_login(browser, account)
    stolen = browser.cookies[REFRESH_COOKIE]
    assert (await browser.post(SESSION_REFRESH, headers=_csrf(browser))).status_code == 200
    browser.cookies.set(REFRESH_COOKIE, stolen, path="/api/v1/auth")
    assert (await browser.post(SESSION_REFRESH, headers=_csrf(browser))).status_code == 401
    assert (await browser.get("/api/v1/users/me")).status_code == 401


async def test_the_cookie_refresh_needs_the_csrf_echo_and_a_refresh_cookie(
    browser: httpx.AsyncClient,
) -> None:
    account = await sign_up(browser)
    await _session_login(browser, account)
    before = browser.cookies[REFRESH_COOKIE]
    refused = await browser.post(SESSION_REFRESH)
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers
    # Nothing was rotated: the same cookie still works with the echo.
    assert browser.cookies[REFRESH_COOKIE] == before
    assert (await browser.post(SESSION_REFRESH, headers=_csrf(browser))).status_code == 200
    browser.cookies.clear()
    assert (await browser.post(SESSION_REFRESH)).status_code == 401


async def test_logout_ends_the_session_so_its_refresh_cookie_is_dead(
    browser: httpx.AsyncClient,
) -> None:
    account = await sign_up(browser)
    await _session_login(browser, account)
    refresh, csrf = browser.cookies[REFRESH_COOKIE], browser.cookies[CSRF_COOKIE]
    response = await browser.delete("/api/v1/auth/session", headers=_csrf(browser))
    assert response.status_code == 204
    assert _set_cookies(response)[REFRESH_COOKIE][REFRESH_COOKIE]["max-age"] == "0"
    browser.cookies.set(REFRESH_COOKIE, refresh, path="/api/v1/auth")
    browser.cookies.set(CSRF_COOKIE, csrf)
    assert (await browser.post(SESSION_REFRESH, headers=_csrf(browser))).status_code == 401


async def test_logout_with_only_the_refresh_cookie_left_ends_the_session(
    browser: httpx.AsyncClient,
) -> None:
    account = await sign_up(browser)
    await _session_login(browser, account)
    refresh, csrf = browser.cookies[REFRESH_COOKIE], browser.cookies[CSRF_COOKIE]
    browser.cookies.delete(SESSION_COOKIE)
    assert (await browser.delete("/api/v1/auth/session")).status_code == 403
    assert (await browser.delete("/api/v1/auth/session", headers=_csrf(browser))).status_code == 204
    browser.cookies.set(REFRESH_COOKIE, refresh, path="/api/v1/auth")
    browser.cookies.set(CSRF_COOKIE, csrf)
    assert (await browser.post(SESSION_REFRESH, headers=_csrf(browser))).status_code == 401


async def test_the_dashboard_lists_its_session_as_current_and_can_revoke_others(
    browser: httpx.AsyncClient,
) -> None:
    account = await sign_up(browser)
    await _session_login(browser, account)
    listed = (await browser.get("/api/v1/users/me/sessions")).json()
    current = [s for s in listed if s["current"]]
    assert len(current) == 1 and len(listed) == 2
    refused = await browser.post("/api/v1/users/me/sessions/revoke-others")
    assert refused.status_code == 403
    done = await browser.post("/api/v1/users/me/sessions/revoke-others", headers=_csrf(browser))
    assert done.json() == {"revoked": 1}
    assert (await browser.get("/api/v1/users/me", headers=account.headers)).status_code == 401
    assert (await browser.get("/api/v1/users/me")).status_code == 200
    # Revoking its own session signs the dashboard out and clears its cookies.
    own = await browser.delete(
        f"/api/v1/users/me/sessions/{current[0]['id']}", headers=_csrf(browser)
    )
    assert own.status_code == 204
    assert SESSION_COOKIE not in browser.cookies
