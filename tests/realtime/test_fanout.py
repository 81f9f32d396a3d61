"""Fan-out across processes through Redis, and surviving a Redis restart."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.live_server import server_env
from tests.realtime.support import (
    Publisher,
    receive,
    receive_until,
    redis_server,
    serve_process,
    sign_up_live,
    socket,
    ws_url,
)

pytestmark = pytest.mark.e2e


async def test_an_event_from_another_process_reaches_sockets_on_every_api_process(
    server: str, second_server: str, publisher: Publisher
) -> None:
    account = sign_up_live(server)
    async with socket(server, account) as first_ws, socket(second_server, account) as second_ws:
        notification_id = await publisher.notify(account.id, "everywhere")
        on_first = await receive_until(first_ws, "notification")
        on_second = await receive_until(second_ws, "notification")
    assert on_first["id"] == on_second["id"] == notification_id
    assert on_first["seq"] == on_second["seq"] == 1


async def test_bus_reconnects_after_redis_restart_and_loses_nothing(
    live_db: str, tmp_path: Path
) -> None:
    with redis_server() as (url, redis_process):
        port = url.rsplit(":", 1)[1].split("/")[0]
        env = server_env(live_db, tmp_path / "logs", REDIS_URL=url, EVENTS_CHANNEL="restart")
        with serve_process(env, migrate=False) as (base, _server):
            account = sign_up_live(base)
            async with (
                Publisher(live_db, url, "restart", tmp_path / "pub") as publisher,
                socket(base, account) as ws,
            ):
                await publisher.notify(account.id, "before")
                assert (await receive_until(ws, "notification"))["seq"] == 1

                redis_process.terminate()
                redis_process.wait(timeout=10)
                for title in ("while down 1", "while down 2"):
                    await publisher.notify(account.id, title)

                with redis_server(int(port)):
                    await publisher.notify(account.id, "after")
                    titles = []
                    while len(titles) < 3:
                        message = await receive_until(ws, "notification")
                        titles.append((message["seq"], message["title"]))
    assert titles == [(2, "while down 1"), (3, "while down 2"), (4, "after")]


async def test_shutdown_closes_sockets_with_1001(
    live_db: str, redis_url: str, tmp_path: Path
) -> None:
    env = server_env(live_db, tmp_path / "logs", REDIS_URL=redis_url)
    with serve_process(env, migrate=False) as (base, process):
        account = sign_up_live(base)
        async with socket(base, account) as ws:
            process.send_signal(signal.SIGTERM)
            await ws.wait_closed()
            assert ws.close_code == 1001
        process.wait(timeout=30)


async def test_the_socket_limit_counts_the_users_sockets_on_every_api_process(
    server: str, second_server: str
) -> None:
    """`server` allows 3 sockets per user, `second_server` 10: three sockets on the
    second process leave no place on the first, and closing one frees it."""
    account = sign_up_live(server)
    url = ws_url(server, account.id, token=account.token)
    async with contextlib.AsyncExitStack() as stack:
        elsewhere = [
            await stack.enter_async_context(socket(second_server, account)) for _ in range(3)
        ]
        async with connect(url) as refused:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(refused)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        await elsewhere[0].close()
        deadline = asyncio.get_running_loop().time() + 10
        while True:  # the second process releases the place when its handler ends
            async with connect(url) as retry:
                try:
                    assert (await receive(retry))["type"] == "connected"
                    break
                except ConnectionClosed:
                    assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
