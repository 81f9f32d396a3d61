"""SQLite's writers take turns in the process instead of in SQLite's busy handler.

SQLite has one write lock. A writer that finds it taken sleeps in the busy
handler (1, 2, 5 ... then 100 ms between tries) and, on a busy single process,
often finds it taken again when it wakes: under the mixed load of
`bench/load.py` run starts waited 0.7-1.5 s in steps of 100 ms while reads
stayed fast. With one `Database` per process, its sessions can queue for the
lock instead: a session takes the turn right before its first write (a DML
statement, or a flush with pending changes) and gives it back when its
transaction ends, which is where SQLite takes and releases its own lock. Reads
never take the turn (WAL never blocks them). On PostgreSQL sessions have no
turn to take and behave as plain `AsyncSession`s.

Only `execute`, `scalar(s)`, `get`, `flush` and `commit` take the turn: a write
through `begin_nested()`'s own flush, `merge`, `stream`, `run_sync` or
`connection()` would take SQLite's lock without it, so writes go through the
methods above (inside a savepoint, flush explicitly).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import UpdateBase

# Keys in Session.info: the process's turn (only on SQLite), and whether this
# session holds it.
TURN_KEY = "botskis.write_turn"
HOLDING_KEY = "botskis.holds_write_turn"


class WriteTurnTimeout(SQLAlchemyError):
    """The turn was not free within the wait SQLite itself would have given; a
    database error like SQLite's own busy error, so code that tolerates one
    (`except SQLAlchemyError`) tolerates this too."""


class TurnTakingSession(AsyncSession):
    """An AsyncSession that takes the process's SQLite write turn before writing."""

    turn_timeout_seconds = 5.0

    async def _before_statement(self, statement: Any = None) -> None:
        turn: asyncio.Lock | None = self.info.get(TURN_KEY)
        if turn is None or self.info.get(HOLDING_KEY):
            return
        if isinstance(statement, UpdateBase) or self.new or self.dirty or self.deleted:
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow
                # a cancellation that arrives as the lock is handed over.
                async with asyncio.timeout(self.turn_timeout_seconds):
                    await turn.acquire()
            except TimeoutError:
                raise WriteTurnTimeout() from None
            self.info[HOLDING_KEY] = True

    def _give_back(self) -> None:
        if self.info.pop(HOLDING_KEY, False):
            turn: asyncio.Lock = self.info[TURN_KEY]
            turn.release()

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        await self._before_statement(statement)
        return await super().execute(statement, *args, **kwargs)

    async def scalar(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        await self._before_statement(statement)
        return await super().scalar(statement, *args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        await self._before_statement()
        return await super().get(*args, **kwargs)

    async def flush(self, objects: Any = None) -> None:
        await self._before_statement()
        await super().flush(objects)

    async def commit(self) -> None:
        try:
            await self._before_statement()
            await super().commit()
        finally:
            self._give_back()

    async def rollback(self) -> None:
        try:
            await super().rollback()
        finally:
            self._give_back()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._give_back()
