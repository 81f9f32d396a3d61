"""An API key on the WebSocket: its owner's feed with runs:read, nobody else's ever.
Against the real `botskis serve`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.realtime.support import receive, send, sign_up_live, ws_url
from tests.users.factories import Account


def _key(server: str, account: Account, scopes: list[str]) -> dict[str, str]:
    with httpx.Client(base_url=server, timeout=10, headers=account.headers) as http:
        response = http.post("/api/v1/users/me/api-keys", json={"name": "ws", "scopes": scopes})
        assert response.status_code == 201, response.text
        created: dict[str, str] = response.json()
        return created


async def _assert_refused(url: str, **kwargs: object) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, **kwargs):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403


async def test_a_key_with_runs_read_opens_its_owners_socket(server: str) -> None:
    account = sign_up_live(server)
    key = _key(server, account, ["runs:read"])["key"]
    async with connect(ws_url(server, account.id), subprotocols=["bearer", key]) as ws:  # type: ignore[list-item]
        hello = await receive(ws)
        assert (hello["type"], hello["user_id"]) == ("connected", account.id)
        await send(ws, type="ping")
        assert (await receive(ws))["type"] == "pong"


async def test_a_key_never_opens_another_users_socket(server: str, server_logs: Path) -> None:
    mine = sign_up_live(server)
    theirs = sign_up_live(server)
    key = _key(server, theirs, ["runs:read", "runs:write", "agents:write"])["key"]
    await _assert_refused(ws_url(server, mine.id, token=key))
    await _assert_refused(ws_url(server, mine.id), subprotocols=["bearer", key])
    assert "token subject does not match the path" in (server_logs / "app.log").read_text()


async def test_a_key_without_runs_read_or_revoked_is_refused(
    server: str, server_logs: Path
) -> None:
    account = sign_up_live(server)
    narrow = _key(server, account, ["agents:read", "credentials:write"])["key"]
    await _assert_refused(ws_url(server, account.id, token=narrow))
    assert "api key lacks the runs:read scope" in (server_logs / "app.log").read_text()

    created = _key(server, account, ["runs:read"])
    with httpx.Client(base_url=server, timeout=10, headers=account.headers) as http:
        revoked = http.delete(f"/api/v1/users/me/api-keys/{created['id']}")
        assert revoked.status_code == 204
    await _assert_refused(ws_url(server, account.id, token=created["key"]))
