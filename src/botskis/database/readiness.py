"""Before a command uses the database: is it there, reachable and migrated?

Each answer is one line an operator can act on, so `botskis create-user` against
an unmigrated or unreachable database says what to do instead of printing a
driver traceback, and never leaves an empty SQLite file behind.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from botskis.config import Settings
from botskis.database.connection import create_engine
from botskis.database.migrate import current_revisions

MIGRATE_FIRST = "run `botskis migrate` first (DATABASE_URL chooses the database)"


class DatabaseNotReady(Exception):
    """A database a command cannot use; the message is one line for the operator."""


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite URL, or None for other databases and in-memory ones."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    if url.query.get("mode") == "memory":
        return None
    return Path(url.database)


def location(database_url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "DATABASE_URL"


def reason(exc: BaseException) -> str:
    """The first line of what the driver said, without SQLAlchemy's wrapping."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def unreachable(database_url: str, exc: BaseException) -> DatabaseNotReady:
    return DatabaseNotReady(f"cannot use the database at {location(database_url)}: {reason(exc)}")


async def require_schema(settings: Settings) -> None:
    """Raise DatabaseNotReady unless the database answers and has been migrated.
    A SQLite file that does not exist is reported, not created."""
    url = settings.database_url
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise DatabaseNotReady(f"no database at {path}: {MIGRATE_FIRST}")
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            present = await connection.run_sync(_has_schema)
    except (DBAPIError, OSError) as exc:
        raise unreachable(url, exc) from exc
    finally:
        await engine.dispose()
    if not present:
        raise DatabaseNotReady(f"the database at {location(url)} has no schema: {MIGRATE_FIRST}")


def _has_schema(connection: Connection) -> bool:
    """Migrated (Alembic's version table has a row), or built another way: the test
    suite makes its schema with `create_all`, which has the tables but no version."""
    return bool(current_revisions(connection)) or inspect(connection).has_table("users")


def prepare_sqlite_directory(database_url: str) -> None:
    """`botskis migrate` creates the directory of a SQLite file (the default one
    lives in the user's data directory, which may not exist yet)."""
    path = sqlite_file(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
