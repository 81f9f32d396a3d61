from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.databases import throwaway_database
from tests.live_server import server_env
from tests.realtime.support import Publisher, redis_server, serve_process


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as (url, _process):
        yield url


@pytest.fixture(scope="module")
def live_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_database(tmp_path_factory.mktemp("rt-db"), "rt") as url:
        yield url


@pytest.fixture(scope="module")
def channel() -> str:
    return f"test-events-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rt-server") / "logs"


@pytest.fixture(scope="module")
def server(live_db: str, redis_url: str, channel: str, server_logs: Path) -> Iterator[str]:
    """One `botskis serve` for the module: a small send queue and 3 sockets per user."""
    env = server_env(
        live_db,
        server_logs,
        REDIS_URL=redis_url,
        EVENTS_CHANNEL=channel,
        WS_MAX_PER_USER="3",
        WS_SEND_QUEUE="16",
        HTTP_ALLOWLIST="127.0.0.1",
    )
    with serve_process(env) as (base, _process):
        yield base


@pytest.fixture
async def publisher(
    live_db: str, redis_url: str, channel: str, tmp_path: Path
) -> AsyncIterator[Publisher]:
    async with Publisher(live_db, redis_url, channel, tmp_path / "logs") as worker:
        yield worker
