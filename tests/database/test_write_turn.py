"""On SQLite, a process's sessions take turns to write: a second writer's first
write statement reaches the database only after the first writer's transaction
ends, reads pass a writer that holds the turn, and a turn not free within the
busy timeout is a 503 like SQLite's own busy error."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy import event

from botskis.config import Settings
from botskis.database.availability import Unavailability, unavailability
from botskis.database.connection import Database
from botskis.database.write_turn import WriteTurnTimeout
from botskis.notifications.models import Notification
from botskis.users.models import User
from tests.conftest import make_settings
from tests.databases import on_postgres
from tests.users.factories import sign_up

pytestmark = pytest.mark.skipif(on_postgres(), reason="the write turn is SQLite's")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """No embedded worker: its own writes would take turns with the test's."""
    return make_settings(database_url, tmp_path / "logs", worker_embedded=False)


NOTIFICATIONS: sa.Table = Notification.__table__  # type: ignore[assignment]


def _notification(user_id: Any, title: str) -> Any:
    return sa.insert(NOTIFICATIONS).values(
        id=uuid.uuid4(), user_id=user_id, level="info", title=title, message=""
    )


def _record_writes(database: Database, log: list[str]) -> None:
    """Notification inserts, and the commits of the connections that made them."""
    writers: set[int] = set()

    def statement(conn: Any, _cursor: Any, text: str, parameters: Any, *_: Any) -> None:
        if text.startswith("INSERT INTO notifications"):
            writers.add(id(conn))
            log.append("insert " + next(p for p in parameters if p in ("first", "second")))

    def commit(conn: Any) -> None:
        if id(conn) in writers:
            writers.discard(id(conn))
            log.append("commit")

    event.listen(database.engine.sync_engine, "before_cursor_execute", statement)
    event.listen(database.engine.sync_engine, "commit", commit)


async def _let_others_run() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


@pytest.mark.parametrize("first_writes_by", ["statement", "orm flush"])
async def test_a_second_writer_writes_after_the_first_commits(
    app: FastAPI, client: httpx.AsyncClient, first_writes_by: str
) -> None:
    account = await sign_up(client)
    database: Database = app.state.database
    log: list[str] = []
    _record_writes(database, log)

    async def second() -> None:
        async with database.transaction() as session:
            await session.execute(_notification(uuid.UUID(account.id), "second"))

    async with database.sessions() as first:
        if first_writes_by == "statement":
            await first.execute(_notification(uuid.UUID(account.id), "first"))
        else:
            first.add(
                Notification(user_id=uuid.UUID(account.id), level="info", title="first", message="")
            )
            await first.flush()
        waiting = asyncio.create_task(second())
        await _let_others_run()
        assert not waiting.done()
        # A read passes while the turn is held.
        assert await first.scalar(sa.select(sa.func.count()).select_from(User)) == 1
        async with database.sessions() as reader:
            assert await reader.scalar(sa.select(sa.func.count()).select_from(User)) == 1
        await first.commit()
    await waiting
    assert log == ["insert first", "commit", "insert second", "commit"]


async def test_the_turn_comes_back_after_a_rollback_or_an_error(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    database: Database = app.state.database
    owner = uuid.UUID(account.id)
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await session.execute(_notification(owner, "lost"))
            raise RuntimeError("the unit of work fails")
    async with database.sessions() as session:
        session.add(Notification(user_id=owner, level="info", title="pending", message=""))
        await session.flush()
        await session.rollback()
    assert database.write_turn is not None and not database.write_turn.locked()
    async with database.transaction() as session:
        await session.execute(_notification(owner, "kept"))
    async with database.sessions() as session:
        titles = await session.scalars(sa.select(Notification.title))
        assert list(titles) == ["kept"]


async def test_a_writer_that_never_gets_the_turn_answers_503(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    database: Database = app.state.database
    async with database.sessions() as holder:
        await holder.execute(_notification(uuid.UUID(account.id), "holding"))
        response = await client.post("/api/v1/notifications/read-all", headers=account.headers)
        await holder.rollback()
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert unavailability(WriteTurnTimeout()) is Unavailability.CONTENTION
