"""Engine and sessions: one `Database` per process, held on `app.state`.

SQLite gets WAL, a busy timeout and foreign keys on every connection;
PostgreSQL (psycopg 3) gets a bounded pool with pre-ping and recycling.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from botskis.config import Settings
from botskis.database.availability import Availability
from botskis.realtime.events import Event, take_pending
from botskis.realtime.replay_log import record_pending

EventSink = Callable[[Sequence[Event]], Awaitable[None]]

SQLITE_BUSY_TIMEOUT_MS = 5000


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(settings: Settings, database_url: str | None = None) -> AsyncEngine:
    url = database_url or settings.database_url
    options: dict[str, Any] = {}
    if url.startswith("sqlite"):
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        options.update(
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_pre_ping=True,
            pool_recycle=settings.database_pool_recycle_seconds,
            # A request waits this long for a free connection before its 503,
            # not SQLAlchemy's default of 30 s.
            pool_timeout=settings.database_pool_timeout_seconds,
            # A host that drops packets fails the connect instead of hanging it.
            connect_args={"connect_timeout": settings.database_connect_timeout_seconds},
        )
    engine = create_async_engine(url, **options)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """The engine and its session factory; services receive sessions from here."""

    def __init__(self, settings: Settings, database_url: str | None = None) -> None:
        self.engine = create_engine(settings, database_url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Receives the events a unit of work emitted, after it committed.
        self.event_sink: EventSink | None = None
        # Outage transitions: the first refusal opens one, the next commit closes it.
        self.availability = Availability()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit on success, roll back on any error; events
        emitted inside it are delivered only after the commit."""
        async with self.sessions() as session:
            try:
                yield session
                await record_pending(session)
                await session.commit()
            except BaseException:
                await session.rollback()
                take_pending(session)
                raise
            self.availability.succeeded()
            events = take_pending(session)
            if events and self.event_sink is not None:
                await self.event_sink(events)

    async def dispose(self) -> None:
        await self.engine.dispose()
