"""Keepalive, dead peers and slow consumers against a real server."""

from __future__ import annotations

import base64
import os
import socket as net
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.realtime.support import (
    Publisher,
    receive,
    send,
    sign_up_live,
    ws_url,
)
from tests.users.factories import Account

pytestmark = pytest.mark.e2e


def raw_handshake(base_url: str, account: Account, rcvbuf: int | None = None) -> net.socket:
    """A TCP peer that completes the WebSocket handshake and then does nothing."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = net.socket()
    if rcvbuf:
        sock.setsockopt(net.SOL_SOCKET, net.SO_RCVBUF, rcvbuf)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/{account.id}?token={account.token} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def read_until_closed(sock: net.socket, limit_seconds: float = 60) -> bytes:
    """Everything the server sends until it closes the TCP connection."""
    sock.settimeout(limit_seconds)
    received = b""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk
    raise AssertionError("the server kept the dead peer")


async def test_app_level_ping_gets_pong(server: str) -> None:
    account = sign_up_live(server)
    async with connect(ws_url(server, account.id, token=account.token)) as ws:
        await receive(ws)
        await send(ws, type="ping")
        pong = await receive(ws)
        assert pong["type"] == "pong"
        assert {"seq", "timestamp"} <= set(pong)


def test_a_peer_that_never_answers_pings_is_dropped(second_server: str) -> None:
    """second_server pings every second and waits one second for the pong."""
    account = sign_up_live(second_server)
    sock = raw_handshake(second_server, account)
    try:
        received = read_until_closed(sock)
    finally:
        sock.close()
    ping_opcode = 0x89
    assert bytes([ping_opcode]) in received
    assert b"connected" in received


async def test_client_that_never_reads_is_closed_with_1013_and_can_resume(
    server: str, publisher: Publisher
) -> None:
    """WS_SEND_QUEUE=16 on this server; the socket's kernel buffers are kept tiny."""
    account = sign_up_live(server)
    host, port = server.removeprefix("http://").split(":")
    sock = net.socket()
    sock.setsockopt(net.SOL_SOCKET, net.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    payload = "x" * 50_000
    total = 150
    async with connect(
        ws_url(server, account.id, token=account.token), sock=sock, max_queue=1, ping_interval=None
    ) as ws:
        for index in range(total):
            await publisher.emit(account.id, "system_update", data={"i": index, "pad": payload})
        last_seq = 0
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                message = await receive(ws)
                if message["type"] == "system_update":
                    last_seq = message["seq"]
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013
    assert last_seq < total

    async with connect(ws_url(server, account.id, token=account.token), max_size=None) as again:
        assert (await receive(again))["type"] == "connected"
        await send(again, type="resume", since_seq=last_seq)
        rest = [await receive(again) for _ in range(total - last_seq)]
    assert [m["seq"] for m in rest] == list(range(last_seq + 1, total + 1))
