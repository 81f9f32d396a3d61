"""Starting and stopping real time inside the API process."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import threading
from collections.abc import Callable
from types import FrameType

from fastapi import FastAPI

from botskis.config import Settings
from botskis.database.connection import Database
from botskis.realtime.bus import create_bus
from botskis.realtime.dashboard_metrics import dashboard_metrics
from botskis.realtime.hub import Hub
from botskis.realtime.sink import attach
from botskis.realtime.socket_quota import SocketQuota

CLOSE_GOING_AWAY = 1001
TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s\"']+", re.IGNORECASE)


class RedactTokens(logging.Filter):
    """uvicorn logs a socket's path with its query string; `?token=` must not reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message.lower():
            record.msg = TOKEN_IN_QUERY.sub(r"\1[redacted]", message)
            record.args = None
        return True


def redact_socket_tokens() -> None:
    for name in ("uvicorn.error", "uvicorn.access", "websockets.server"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in target.filters):
            target.addFilter(RedactTokens())


def _going_away_on_exit_signal(hub: Hub) -> Callable[[], None]:
    """uvicorn closes open sockets with 1012 on shutdown; run first and say 1001.

    Chains in front of uvicorn's own SIGINT/SIGTERM handlers (only those: an
    embedding test runner keeps its own) and returns a function restoring them.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    replaced: dict[int, Callable[[int, FrameType | None], object]] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        owner = getattr(previous, "__self__", None)
        if not callable(previous) or not type(owner).__module__.startswith("uvicorn"):
            continue

        def on_signal(
            signum: int,
            frame: FrameType | None,
            _previous: Callable[[int, FrameType | None], object] = previous,
        ) -> None:
            loop.call_soon_threadsafe(hub.close_all, CLOSE_GOING_AWAY, "server shutting down")
            _previous(signum, frame)

        signal.signal(sig, on_signal)
        replaced[sig] = previous

    def restore() -> None:
        for sig, handler in replaced.items():
            signal.signal(sig, handler)

    return restore


async def start_realtime(app: FastAPI, settings: Settings, database: Database) -> Hub:
    """Bus + hub for this process; from now on every commit's events are published."""
    redact_socket_tokens()
    bus = create_bus(settings)
    hub = Hub(
        database,
        max_per_user=settings.ws_max_per_user,
        queue_limit=settings.ws_send_queue,
        metrics_reader=dashboard_metrics,
    )
    bus.listen(hub.deliver, hub.catch_up)
    await bus.start()
    app.state.detach_bus = attach(database, bus)
    quota = SocketQuota(settings)
    await quota.start()
    app.state.socket_quota = quota
    app.state.hub = hub
    app.state.bus = bus
    app.state.restore_exit_signals = _going_away_on_exit_signal(hub)
    return hub


async def stop_realtime(app: FastAPI) -> None:
    """Sockets get 1001, then the bus stops (after a last publish of what is queued)."""
    app.state.restore_exit_signals()
    app.state.hub.close_all(CLOSE_GOING_AWAY, "server shutting down")
    app.state.detach_bus()
    await app.state.bus.stop()
    await app.state.socket_quota.stop()
