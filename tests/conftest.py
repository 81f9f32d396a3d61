"""Shared fixtures: a schema per test session, clean tables per test, an app and
an HTTP client over ASGI."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from botskis.app import create_app
from botskis.config import Settings
from botskis.database.models import Base
from tests.databases import TEST_REDIS_URL, on_postgres, sync_url, throwaway_database

pytest_plugins = ["tests.fakes.fixtures"]
# Tests never read a developer's .env or ambient settings.
for _name in list(os.environ):
    if _name.lower() in Settings.model_fields:
        os.environ.pop(_name)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_database(tmp_path_factory.mktemp("db"), "suite") as url:
        engine = sa.create_engine(sync_url(url))
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def _truncating_engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(sync_url(database_url))
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def clean_tables(request: pytest.FixtureRequest) -> None:
    """Every test starts from empty tables (only when it uses the database)."""
    if "database_url" not in request.fixturenames:
        return
    engine: sa.Engine = request.getfixturevalue("_truncating_engine")
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if on_postgres():
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
        else:
            for table in tables:
                conn.execute(sa.text(f'DELETE FROM "{table}"'))


def make_settings(database_url: str, log_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "development",
        "secret_key": secrets.token_urlsafe(32),
        "database_url": database_url,
        "bcrypt_rounds": 4,
        "log_dir": str(log_dir),
        "redis_url": TEST_REDIS_URL,
        # Generous limits and private counters; rate-limit tests set low ones explicitly.
        "rate_limit_default": "100000/minute",
        "rate_limit_login": "100000/minute",
        "rate_limit_signup": "100000/minute",
        "rate_limit_user": "100000/minute",
        "rate_limit_prefix": f"test-{secrets.token_hex(6)}",
        # A private pub/sub channel: apps of other test sessions share the Redis server.
        "events_channel": f"test-events-{secrets.token_hex(6)}",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "logs")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    # Shutdown waits for the embedded worker and mail loop; a loaded CI machine can
    # take longer than the library's 5 s default.
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
