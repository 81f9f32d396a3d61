"""Engine and sessions: one `Database` per process, held on `app.state`.

SQLite gets WAL, a busy timeout and foreign keys on every connection;
PostgreSQL (psycopg 3) gets a bounded pool with pre-ping and recycling.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
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
from botskis.database.write_turn import TURN_KEY, TurnTakingSession

# Work another layer attaches to a unit of work, given its session.
CommitHook = Callable[[AsyncSession], Awaitable[None]]
BEFORE_COMMIT_KEY = "botskis.before_commit"

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


def before_commit(session: AsyncSession, hook: CommitHook) -> None:
    """Run `hook(session)` inside this unit of work, right before it commits; a
    hook registered twice runs once. What it writes commits with the rest, and
    what it raises rolls everything back."""
    hooks: list[CommitHook] = session.info.setdefault(BEFORE_COMMIT_KEY, [])
    if hook not in hooks:
        hooks.append(hook)


class Database:
    """The engine and its session factory; services receive sessions from here.

    Layers above this one react to commits through hooks instead of being
    called from here: `before_commit` per unit of work, `after_commit` for every
    unit of work of this database (the event sink registers itself at start).
    """

    def __init__(self, settings: Settings, database_url: str | None = None) -> None:
        self.engine = create_engine(settings, database_url)
        self.sessions: async_sessionmaker[AsyncSession]
        # SQLite's one writer at a time, taken in turns by this process's
        # sessions (database/write_turn.py); PostgreSQL locks rows instead.
        self.write_turn = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        if self.write_turn is not None:
            self.sessions = async_sessionmaker(
                self.engine,
                class_=TurnTakingSession,
                expire_on_commit=False,
                info={TURN_KEY: self.write_turn},
            )
        else:
            self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._after_commit: list[CommitHook] = []
        # Outage transitions: the first refusal opens one, the next commit closes it.
        self.availability = Availability()

    def after_commit(self, hook: CommitHook) -> Callable[[], None]:
        """Run `hook(session)` after each unit of work commits (never after a
        rollback); returns a function that removes it. The commit is done, so a
        hook must not raise: it would turn a committed change into an error."""
        self._after_commit.append(hook)

        def remove() -> None:
            if hook in self._after_commit:
                self._after_commit.remove(hook)

        return remove

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit on success, roll back on any error; the
        commit hooks run around it."""
        async with self.sessions() as session:
            try:
                yield session
                for hook in session.info.pop(BEFORE_COMMIT_KEY, []):
                    await hook(session)
                await session.commit()
            except BaseException:
                await session.rollback()
                session.info.pop(BEFORE_COMMIT_KEY, None)
                raise
            self.availability.succeeded()
            for hook in list(self._after_commit):
                await hook(session)

    async def dispose(self) -> None:
        await self.engine.dispose()
