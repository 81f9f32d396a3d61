"""The embedded default: no Redis, the in-memory bus, one process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from botskis.app import create_app
from botskis.config import Settings
from botskis.database.connection import Database
from botskis.notifications.service import create_notification
from botskis.realtime.bus import MemoryBus
from tests.conftest import make_settings
from tests.live_server import free_port
from tests.realtime.support import receive_until, sign_up_live, socket


@pytest.fixture
async def embedded(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, FastAPI]]:
    """A real uvicorn server in this event loop, with REDIS_URL unset."""
    settings: Settings = make_settings(database_url, tmp_path / "logs", redis_url=None)
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            ws="websockets-sansio",
            ws_per_message_deflate=False,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "server failed to start"
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await task


async def test_memory_bus_delivers_committed_events_to_sockets(
    embedded: tuple[str, FastAPI],
) -> None:
    base, app = embedded
    assert isinstance(app.state.bus, MemoryBus)
    account = await asyncio.to_thread(sign_up_live, base)
    database: Database = app.state.database
    async with socket(base, account) as ws:
        async with database.transaction() as session:
            await create_notification(
                session, uuid.UUID(account.id), level="success", title="done", message="ok"
            )
        message = await receive_until(ws, "notification")
    assert (message["seq"], message["level"], message["title"]) == (1, "success", "done")


async def test_rolled_back_events_are_never_sent_nor_logged(
    embedded: tuple[str, FastAPI],
) -> None:
    base, app = embedded
    account = await asyncio.to_thread(sign_up_live, base)
    database: Database = app.state.database
    async with socket(base, account) as ws:
        with pytest.raises(RuntimeError):
            async with database.transaction() as session:
                await create_notification(
                    session, uuid.UUID(account.id), level="info", title="ghost", message="x"
                )
                raise RuntimeError("the unit of work failed")
        async with database.transaction() as session:
            await create_notification(
                session, uuid.UUID(account.id), level="info", title="real", message="x"
            )
        message = await receive_until(ws, "notification")
    assert (message["seq"], message["title"]) == (1, "real")
