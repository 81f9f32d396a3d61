"""The WebSocket fast path reads uvicorn's and websockets' internals. These tests
fail loudly when a pinned version changes or what it reads is not there any more;
re-verify api/websocket_fast_path.py against the new version before changing
SUPPORTED_VERSIONS."""

from __future__ import annotations

import asyncio
import re
from importlib.metadata import version
from pathlib import Path

import uvicorn
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import connect

from botskis.api.websocket_fast_path import (
    SUPPORTED_VERSIONS,
    ServerSendMiddleware,
    fast_path_available,
    frame_writer,
    server_send,
)
from botskis.realtime.frames import text_frame
from tests.live_server import free_port

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_pinned_versions_are_the_verified_ones() -> None:
    text = PYPROJECT.read_text()
    for name, verified in SUPPORTED_VERSIONS.items():
        pinned = re.search(rf'"{name}(\[[a-z]+\])?==([^";]+)', text)
        assert pinned is not None, f"{name} is not pinned in pyproject.toml"
        assert pinned.group(2) == verified == version(name), (
            f"{name} is pinned at {pinned.group(2)} and installed at {version(name)}, but the "
            f"WebSocket fast path was verified with {verified}: re-check "
            "api/websocket_fast_path.py against it, then update SUPPORTED_VERSIONS"
        )
    assert fast_path_available(True) and not fast_path_available(False)


async def probe(scope: Scope, receive: Receive, send: Send) -> None:
    """Accepts, then writes one frame through the fast path's writer."""
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    write = frame_writer(server_send(scope))
    if write is None:
        await send({"type": "websocket.send", "text": "no writer"})
    elif not write(text_frame("written directly")):
        await send({"type": "websocket.send", "text": "writer refused an open socket"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def test_frames_are_written_straight_to_uvicorns_sansio_transport() -> None:
    port = free_port()
    config = uvicorn.Config(
        ServerSendMiddleware(probe),
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with connect(f"ws://127.0.0.1:{port}/") as socket:
            assert await asyncio.wait_for(socket.recv(), 10) == "written directly"
    finally:
        server.should_exit = True
        await serving
