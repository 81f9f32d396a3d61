"""WS /ws/{user_id} against a real `botskis serve`: auth, messages, delivery rule."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.realtime.support import (
    Publisher,
    receive,
    receive_until,
    send,
    sign_up_live,
    socket,
    ws_url,
)

pytestmark = pytest.mark.e2e


async def assert_refused(url: str, **kwargs: object) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, **kwargs):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403


async def test_refuses_missing_invalid_foreign_and_revoked_tokens(
    server: str, server_logs: Path
) -> None:
    alice = sign_up_live(server)
    bob = sign_up_live(server)
    await assert_refused(ws_url(server, alice.id))
    await assert_refused(ws_url(server, alice.id, token="not-a-jwt"))
    await assert_refused(ws_url(server, alice.id, token=alice.token[:-4] + "AAAA"))
    await assert_refused(ws_url(server, alice.id, token=bob.token))
    await assert_refused(ws_url(server, "not-a-uuid", token=alice.token))
    await assert_refused(ws_url(server, alice.id), subprotocols=["bearer", bob.token])

    with httpx.Client(base_url=server) as http:
        out = http.post("/api/v1/auth/logout", headers=alice.headers)
        assert out.status_code == 204
    await assert_refused(ws_url(server, alice.id, token=alice.token))

    app_log = (server_logs / "app.log").read_text()
    assert "websocket refused" in app_log
    assert "token subject does not match the path" in app_log


async def test_query_token_connects_and_never_reaches_a_log(server: str, server_logs: Path) -> None:
    account = sign_up_live(server)
    async with connect(ws_url(server, account.id, token=account.token)) as ws:
        hello = await receive(ws)
        assert hello["type"] == "connected"
        assert hello["user_id"] == account.id
        assert hello["seq"] == 0
        assert datetime.fromisoformat(hello["timestamp"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
        await send(ws, type="ping")
        pong = await receive(ws)
        assert pong["type"] == "pong" and pong["seq"] == 0
    await assert_refused(ws_url(server, account.id, token=account.token + "x"))

    server_output = "".join(p.read_text() for p in server_logs.parent.glob("server-*.log"))
    logged = (server_logs / "app.log").read_text() + server_output
    assert "[redacted]" in logged
    assert account.token not in logged
    assert account.token[:40] not in logged


async def test_subprotocol_token_is_answered_with_bearer(server: str) -> None:
    account = sign_up_live(server)
    async with connect(
        ws_url(server, account.id),
        subprotocols=["bearer", account.token],  # type: ignore[list-item]
    ) as ws:
        assert ws.subprotocol == "bearer"
        assert (await receive(ws))["type"] == "connected"


async def test_more_sockets_than_the_limit_are_closed_with_1008(server: str) -> None:
    account = sign_up_live(server)
    url = ws_url(server, account.id, token=account.token)
    async with connect(url) as a, connect(url) as b, connect(url) as c:
        for ws in (a, b, c):
            assert (await receive(ws))["type"] == "connected"
        async with connect(url) as extra:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(extra)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    async with socket(server, account):
        pass  # a freed slot can be used again


async def test_bad_frames_get_an_error_and_the_socket_stays_open(
    server: str, publisher: Publisher
) -> None:
    alice = sign_up_live(server)
    bob = sign_up_live(server)
    bobs_agent = await publisher.agent(bob.id)
    async with socket(server, alice) as ws:
        for frame in [
            "not json",
            "[1, 2]",
            '{"no": "type"}',
            '{"type": 5}',
            '{"type": "shout"}',
            '{"type": "subscribe_agent"}',
            '{"type": "subscribe_agent", "agent_id": "nope"}',
            f'{{"type": "subscribe_agent", "agent_id": "{bobs_agent}"}}',
            f'{{"type": "subscribe_agent", "agent_id": "{uuid.uuid4()}"}}',
            '{"type": "unsubscribe_agent", "agent_id": 7}',
            '{"type": "resume"}',
            '{"type": "resume", "since_seq": -1}',
            '{"type": "resume", "since_seq": "3"}',
        ]:
            await ws.send(frame)
            error = await receive(ws)
            assert error["type"] == "error", frame
            assert error["detail"], frame
            assert "seq" in error and "timestamp" in error
        await ws.send(b"binary")
        assert (await receive(ws))["type"] == "error"
        await send(ws, type="ping")
        assert (await receive(ws))["type"] == "pong"


async def test_unsubscribing_from_someone_elses_agent_is_agent_not_found(
    server: str, publisher: Publisher
) -> None:
    alice = sign_up_live(server)
    bob = sign_up_live(server)
    bobs_agent = await publisher.agent(bob.id)
    alices_agent = await publisher.agent(alice.id)
    async with socket(server, alice) as ws:
        for agent_id in (bobs_agent, str(uuid.uuid4())):
            await send(ws, type="unsubscribe_agent", agent_id=agent_id)
            refused = await receive(ws)
            assert (refused["type"], refused["detail"]) == ("error", "agent not found")
            assert "agent_id" not in refused
        # Her own agent, subscribed or not, is answered.
        await send(ws, type="unsubscribe_agent", agent_id=alices_agent)
        assert (await receive(ws))["agent_id"] == alices_agent


async def test_delivery_rule_account_wide_vs_subscribed(server: str, publisher: Publisher) -> None:
    account = sign_up_live(server)
    watched = await publisher.agent(account.id)
    other = await publisher.agent(account.id)
    async with socket(server, account) as subscriber, socket(server, account) as overview:
        await send(subscriber, type="subscribe_agent", agent_id=watched)
        subscribed = await receive_until(subscriber, "subscribed")
        assert subscribed["agent_id"] == watched
        run_id = str(uuid.uuid4())
        await publisher.emit(
            account.id,
            "run_update",
            agent_id=watched,
            run_id=run_id,
            status="running",
            step="fetch",
        )
        await publisher.emit(
            account.id, "run_update", agent_id=other, run_id=run_id, status="queued"
        )
        await publisher.emit(
            account.id, "agent_update", agent_id=other, data={"status": "paused", "name": "Agent"}
        )
        notification_id = await publisher.notify(account.id, "Heads up", "Something happened")

        got = [await receive_until(subscriber, t) for t in ("run_update", "agent_update")]
        got.append(await receive_until(subscriber, "notification"))
        assert got[0] == {
            "type": "run_update",
            "seq": got[0]["seq"],
            "timestamp": got[0]["timestamp"],
            "agent_id": watched,
            "run_id": run_id,
            "status": "running",
            "step": "fetch",
        }
        assert got[1]["agent_id"] == other and got[1]["data"]["status"] == "paused"
        assert got[2]["id"] == notification_id
        assert (got[2]["level"], got[2]["title"], got[2]["message"]) == (
            "info",
            "Heads up",
            "Something happened",
        )
        assert got[0]["seq"] < got[1]["seq"] < got[2]["seq"]

        seen = []
        while True:
            message = await receive(overview)
            if message["type"] in {"agent_update", "run_update", "notification"}:
                seen.append(message)
            if message["type"] == "notification":
                break
        # The overview socket never subscribed: it gets no run_update at all.
        assert [m["type"] for m in seen] == ["agent_update", "notification"]

        await send(subscriber, type="unsubscribe_agent", agent_id=watched)
        assert (await receive_until(subscriber, "unsubscribed"))["agent_id"] == watched
        await publisher.emit(
            account.id, "run_update", agent_id=watched, run_id=run_id, status="succeeded"
        )
        await publisher.notify(account.id, "after")
        after = await receive_until(subscriber, "notification")
        assert after["title"] == "after"


async def test_someone_elses_events_never_arrive(server: str, publisher: Publisher) -> None:
    alice = sign_up_live(server)
    bob = sign_up_live(server)
    async with socket(server, alice) as ws:
        await publisher.notify(bob.id, "for bob")
        await publisher.notify(alice.id, "for alice")
        message = await receive_until(ws, "notification")
        assert message["title"] == "for alice"
        assert message["seq"] == 1
