"""`WS /ws/{user_id}`: one user's live feed (protocol in README, "Real time").

The token comes as `?token=` or as `Sec-WebSocket-Protocol: bearer, <token>`
(an API key needs the runs:read scope); anything wrong with it is refused
before the handshake completes (HTTP 403) and logged as a security event. The token itself is never logged.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from fastapi import APIRouter, WebSocket
from loguru import logger

from botskis.agents.errors import AgentNotFound
from botskis.agents.service import get_owned_agent
from botskis.api.websocket_fast_path import frame_writer, server_send
from botskis.core.auth import authenticate_token
from botskis.core.browser_session import session_token, socket_origin_allowed
from botskis.core.errors import AppError
from botskis.database.connection import Database
from botskis.realtime.hub import (
    Connection,
    Hub,
    TooManyConnections,
    control_message,
)
from botskis.realtime.socket_quota import SocketQuota
from botskis.users.scopes import Scope

router = APIRouter()

CLOSE_POLICY_VIOLATION = 1008
MAX_FIELD_ECHO = 60


def _token_from(websocket: WebSocket) -> tuple[str | None, bool]:
    """(token, whether it came as a subprotocol)."""
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",")]
    if len(offered) == 2 and offered[0].lower() == "bearer" and offered[1]:
        return offered[1], True
    return websocket.query_params.get("token") or None, False


async def _authenticate(websocket: WebSocket, path_user_id: str) -> uuid.UUID | None:
    token, _ = _token_from(websocket)
    client = websocket.client.host if websocket.client else None
    reason = "missing token"
    # The dashboard's session cookie, which a browser sends whichever page opened the
    # socket: taken only from this server's own pages (core/browser_session.py).
    cookie = None if token else session_token(websocket)
    if cookie is not None:
        if socket_origin_allowed(websocket, websocket.app.state.settings):
            token = cookie
        else:
            reason = "session cookie from a foreign origin"
    if token:
        try:
            authenticated = await authenticate_token(websocket.app.state.token_cache, token)
        except AppError as exc:
            reason = exc.detail
        else:
            if str(authenticated.caller.id) != path_user_id:
                reason = "token subject does not match the path"
            elif not authenticated.caller.allows(Scope.RUNS_READ):
                reason = f"api key lacks the {Scope.RUNS_READ} scope"
            else:
                return authenticated.caller.id
    logger.bind(security=True, reason=reason, client=client).warning("websocket refused")
    return None


async def _send_loop(websocket: WebSocket, conn: Connection) -> None:
    # With the fast path, data frames go straight to the server's send (see
    # api/websocket_fast_path.py); accept and close always pass every layer.
    send = server_send(websocket.scope) or websocket.send
    try:
        while True:
            text, replay = await conn.queue.get()
            conn.busy = True
            await send({"type": "websocket.send", "text": text})
            conn.busy = False
            conn.sent(replay)
    except asyncio.CancelledError:
        if conn.close_code is not None:
            with suppress(Exception):
                await websocket.close(conn.close_code, conn.close_reason)
        raise
    except Exception:  # the peer went away mid-send; the receive loop notices too
        return


def _error(hub: Hub, conn: Connection, detail: str) -> None:
    conn.offer(control_message("error", hub.current_seq(conn.user_id), detail=detail))


def _agent_id_of(body: dict[str, Any]) -> uuid.UUID | None:
    value = body.get("agent_id")
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def _owns_agent(database: Database, user_id: uuid.UUID, agent_id: uuid.UUID) -> bool:
    """The agents domain's ownership query: someone else's agent looks exactly like a
    missing one."""
    async with database.transaction() as session:
        try:
            await get_owned_agent(session, user_id, agent_id)
        except AgentNotFound:
            return False
    return True


async def _on_ping(hub: Hub, conn: Connection, body: dict[str, Any]) -> None:
    conn.offer(control_message("pong", hub.current_seq(conn.user_id)))


async def _on_subscribe(hub: Hub, conn: Connection, body: dict[str, Any]) -> None:
    agent_id = _agent_id_of(body)
    if agent_id is None:
        _error(hub, conn, "subscribe_agent needs agent_id, a UUID string")
    elif not await _owns_agent(hub.database, conn.user_id, agent_id):
        _error(hub, conn, "agent not found")
    else:
        conn.subscriptions.add(agent_id)
        conn.offer(
            control_message("subscribed", hub.current_seq(conn.user_id), agent_id=str(agent_id))
        )


async def _on_unsubscribe(hub: Hub, conn: Connection, body: dict[str, Any]) -> None:
    agent_id = _agent_id_of(body)
    if agent_id is None:
        _error(hub, conn, "unsubscribe_agent needs agent_id, a UUID string")
        return
    if agent_id in conn.subscriptions:
        # Subscribing checked ownership; the query is needed only for other ids.
        conn.subscriptions.discard(agent_id)
    elif not await _owns_agent(hub.database, conn.user_id, agent_id):
        _error(hub, conn, "agent not found")
        return
    conn.offer(
        control_message("unsubscribed", hub.current_seq(conn.user_id), agent_id=str(agent_id))
    )


async def _on_request_metrics(hub: Hub, conn: Connection, body: dict[str, Any]) -> None:
    text = await hub.metrics_for(conn)
    if text is None:
        _error(hub, conn, "metrics are not available")
    else:
        conn.offer(text)


async def _on_resume(hub: Hub, conn: Connection, body: dict[str, Any]) -> None:
    since = body.get("since_seq")
    if not isinstance(since, int) or isinstance(since, bool) or since < 0:
        _error(hub, conn, "resume needs since_seq, an integer >= 0")
        return
    await hub.resume(conn, since)


ClientHandler = Callable[[Hub, Connection, dict[str, Any]], Awaitable[None]]

CLIENT_MESSAGES: dict[str, ClientHandler] = {
    "ping": _on_ping,
    "subscribe_agent": _on_subscribe,
    "unsubscribe_agent": _on_unsubscribe,
    "request_metrics": _on_request_metrics,
    "resume": _on_resume,
}


async def _handle_frame(hub: Hub, conn: Connection, text: str) -> None:
    try:
        body = json.loads(text)
    except ValueError:
        _error(hub, conn, "frames must be JSON objects")
        return
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        _error(hub, conn, 'a frame is a JSON object with a string "type"')
        return
    handler = CLIENT_MESSAGES.get(body["type"])
    if handler is None:
        _error(hub, conn, f"unknown message type {body['type'][:MAX_FIELD_ECHO]!r}")
        return
    await handler(hub, conn, body)


@router.websocket("/ws/{user_id}")
async def user_socket(websocket: WebSocket, user_id: str) -> None:
    hub: Hub = websocket.app.state.hub
    authenticated = await _authenticate(websocket, user_id)
    if authenticated is None:
        await websocket.close(code=CLOSE_POLICY_VIOLATION)
        return
    _, via_protocol = _token_from(websocket)
    await websocket.accept(subprotocol="bearer" if via_protocol else None)
    if hub.closing:
        await websocket.close(code=1001, reason="server shutting down")
        return
    quota: SocketQuota = websocket.app.state.socket_quota
    if not await quota.acquire(authenticated):
        await _refuse_too_many(websocket, authenticated)
        return
    try:
        await _serve_socket(websocket, hub, authenticated)
    finally:
        await quota.release(authenticated)


async def _refuse_too_many(websocket: WebSocket, user_id: uuid.UUID) -> None:
    logger.bind(security=True, user_id=str(user_id)).warning(
        "websocket refused: too many connections"
    )
    await websocket.close(code=CLOSE_POLICY_VIOLATION, reason="too many connections")


async def _serve_socket(websocket: WebSocket, hub: Hub, authenticated: uuid.UUID) -> None:
    conn = hub.new_connection(authenticated)
    since = websocket.query_params.get("since_seq")
    try:
        await hub.connect(conn, since_seq=int(since) if since and since.isdigit() else None)
    except TooManyConnections:
        await _refuse_too_many(websocket, authenticated)
        return
    direct = server_send(websocket.scope)
    conn.write_now = frame_writer(direct) if direct is not None else None
    sender = asyncio.create_task(_send_loop(websocket, conn))
    conn.on_close = sender.cancel
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:
                _error(hub, conn, "binary frames are not supported")
                continue
            await _handle_frame(hub, conn, text)
    except Exception as exc:  # a broken transport ends the socket, never the server
        logger.bind(user_id=str(authenticated), error=type(exc).__name__).debug("socket ended")
    finally:
        hub.disconnect(conn)
        sender.cancel()
        with suppress(asyncio.CancelledError):
            await sender
