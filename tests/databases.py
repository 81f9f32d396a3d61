"""Test databases: a SQLite file by default, a throwaway PostgreSQL database when
TEST_DATABASE_URL is set. Each test session gets its own database, so parallel
runs (and several engineers on one machine) never share rows."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


def on_postgres() -> bool:
    return bool(TEST_DATABASE_URL)


def sync_url(async_url: str) -> str:
    return async_url.replace("+aiosqlite", "")


@contextmanager
def throwaway_database(tmp_dir: Path, label: str = "db") -> Iterator[str]:
    """Yield an async URL to a new, empty database and drop it afterwards."""
    if not TEST_DATABASE_URL:
        path = tmp_dir / f"{label}-{uuid.uuid4().hex[:8]}.sqlite"
        yield f"sqlite+aiosqlite:///{path}"
        return
    base = make_url(TEST_DATABASE_URL)
    name = f"botskis_test_{label}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(
        base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
