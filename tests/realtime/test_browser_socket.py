"""The dashboard's WebSocket: the session cookie opens it only from the server's own
origin (or BROWSER_ORIGINS); a page elsewhere that the browser would happily send
the cookie from is refused at the handshake. Against the real `botskis serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from botskis.core.browser_session import SESSION_COOKIE
from tests.live_server import server_env
from tests.realtime.support import receive, send, serve_process, sign_up_live, ws_url


def _session_cookie(base_url: str, email: str, password: str) -> str:
    with httpx.Client(base_url=base_url, timeout=10) as http:
        response = http.post("/api/v1/auth/session", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return f"{SESSION_COOKIE}={response.cookies[SESSION_COOKIE]}"


async def test_the_cookie_opens_the_socket_from_the_servers_own_origin(server: str) -> None:
    account = sign_up_live(server)
    cookie = _session_cookie(server, account.email, account.password)
    async with connect(
        ws_url(server, account.id), origin=server, additional_headers={"Cookie": cookie}
    ) as ws:
        hello = await receive(ws)
        assert hello["type"] == "connected"
        assert hello["user_id"] == account.id
        assert ws.subprotocol is None
        await send(ws, type="ping")
        assert (await receive(ws))["type"] == "pong"


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "https://127.0.0.1.evil.example", "null", None]
)
async def test_the_cookie_from_a_foreign_or_missing_origin_is_refused(
    server: str, origin: str | None
) -> None:
    account = sign_up_live(server)
    cookie = _session_cookie(server, account.email, account.password)
    headers = {"Cookie": cookie, **({"Origin": origin} if origin else {})}
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url(server, account.id), additional_headers=headers):
            pass
    assert refused.value.response.status_code == 403


async def test_another_users_cookie_does_not_open_my_socket(server: str) -> None:
    mine = sign_up_live(server)
    theirs = sign_up_live(server)
    cookie = _session_cookie(server, theirs.email, theirs.password)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            ws_url(server, mine.id), origin=server, additional_headers={"Cookie": cookie}
        ):
            pass
    assert refused.value.response.status_code == 403


async def test_a_revoked_cookie_is_refused(server: str) -> None:
    account = sign_up_live(server)
    with httpx.Client(base_url=server, timeout=10) as http:
        login = http.post(
            "/api/v1/auth/session", json={"email": account.email, "password": account.password}
        )
        token = login.cookies[SESSION_COOKIE]
        out = http.delete(
            "/api/v1/auth/session", headers={"X-CSRF-Token": login.json()["csrf_token"]}
        )
        assert out.status_code == 204
    with pytest.raises(InvalidStatus):
        async with connect(
            ws_url(server, account.id),
            origin=server,
            additional_headers={"Cookie": f"{SESSION_COOKIE}={token}"},
        ):
            pass


async def test_bearer_sockets_ignore_the_origin_as_before(server: str) -> None:
    account = sign_up_live(server)
    async with connect(
        ws_url(server, account.id, token=account.token), origin="http://elsewhere.example"
    ) as ws:
        assert (await receive(ws))["type"] == "connected"


@pytest.fixture(scope="module")
def allow_listed_server(live_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs: Path = tmp_path_factory.mktemp("browser-origins") / "logs"
    env = server_env(live_db, logs, BROWSER_ORIGINS="https://app.example.com")
    with serve_process(env, migrate=False) as (base, _process):
        yield base


async def test_an_allow_listed_origin_may_use_the_cookie(allow_listed_server: str) -> None:
    server = allow_listed_server
    account = sign_up_live(server)
    cookie = _session_cookie(server, account.email, account.password)
    async with connect(
        ws_url(server, account.id),
        origin="https://app.example.com",  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie},
    ) as ws:
        assert (await receive(ws))["type"] == "connected"
    with pytest.raises(InvalidStatus):
        async with connect(
            ws_url(server, account.id),
            origin="https://other.example.com",  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
        ):
            pass
