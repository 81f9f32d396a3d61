"""The WebSocket fast path: live events written straight to the socket.

At a thousand sockets, handing each event to each socket's send task through
every ASGI layer dominated the fan-out (p99 562 ms against about 40 ms this way;
bench/README.md). There is no public interface for it, so it lives here alone,
behind WS_FAST_PATH (on by default; off sends every frame the ordinary way), and
only for the uvicorn and websockets versions in SUPPORTED_VERSIONS: with any
other version it stays off and says so once at start.
tests/realtime/test_fast_path.py fails loudly when a pinned version changes or
the internals it reads are not there any more.

What it relies on:

* the server's own ASGI `send` for a WebSocket scope (stashed on the scope state
  by `ServerSendMiddleware`, the outermost layer): data frames skip the layers in
  between, which only pass them through; accept and close still go through
  every layer;
* uvicorn's websockets-sansio protocol (what `botskis serve` runs): its `send`
  is a bound method of the connection's protocol object, which holds the asyncio
  `transport`, a `writable` event (cleared while the transport asks to pause),
  `close_sent`, and the websockets `conn` with its `state` and `extensions`.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from loguru import logger
from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.protocol import State

from botskis.realtime.hub import FrameWriter

SERVER_SEND_KEY = "websocket_server_send"
SUPPORTED_VERSIONS = {"uvicorn": "0.54.0", "websockets": "17.4"}


def unsupported_versions() -> list[str]:
    """`name installed (fast path verified with pinned)` for each version that differs."""
    return [
        f"{name} {version(name)} (verified with {pinned})"
        for name, pinned in SUPPORTED_VERSIONS.items()
        if version(name) != pinned
    ]


def fast_path_available(enabled: bool) -> bool:
    """WS_FAST_PATH, when the installed versions are the verified ones."""
    if not enabled:
        return False
    different = unsupported_versions()
    if different:
        logger.bind(versions=", ".join(different)).warning(
            "websocket fast path off: installed versions differ from the verified ones"
        )
        return False
    return True


class ServerSendMiddleware:
    """Keeps the server's own `send` of each WebSocket scope on its state."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope.setdefault("state", {})[SERVER_SEND_KEY] = send
        await self.app(scope, receive, send)


def server_send(scope: Scope) -> Send | None:
    send: Send | None = scope.get("state", {}).get(SERVER_SEND_KEY)
    return send


def frame_writer(send: Any) -> FrameWriter | None:
    """A synchronous writer of whole frames for this socket, or None.

    Data frames of uvicorn's sansio protocol are whole frames written to the
    transport, so writing the same bytes directly keeps the byte stream intact.
    The writer says no (the message is queued and sent the ordinary way) once the
    connection is not open, a close was sent, or the transport asked to pause;
    with an extension negotiated (none is offered: per-message deflate is off)
    there is no writer at all."""
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    protocol = getattr(send, "__self__", None)
    if not isinstance(protocol, WebSocketsSansIOProtocol) or protocol.conn.extensions:
        return None
    transport, writable, conn = protocol.transport, protocol.writable, protocol.conn

    def write(frame: bytes) -> bool:
        if (
            protocol.close_sent
            or not writable.is_set()
            or conn.state is not State.OPEN
            or transport.is_closing()
        ):
            return False
        transport.write(frame)
        return True

    return write
