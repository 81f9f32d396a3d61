"""The per-user socket limit shared through Redis: atomic across processes,
forgetting a process that died, and failing open while Redis is away."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from redis.asyncio import Redis

from botskis.config import Settings
from botskis.core.logging import setup_logging
from botskis.realtime.socket_quota import SocketQuota
from tests.conftest import make_settings
from tests.realtime.support import redis_server


def settings(redis_url: str | None, tmp_path: Path, limit: int = 2) -> Settings:
    return make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        tmp_path / "logs",
        redis_url=redis_url,
        ws_max_per_user=limit,
    )


async def test_processes_share_one_count_and_a_dead_process_is_forgotten(
    redis_url: str, tmp_path: Path
) -> None:
    user = uuid.uuid4()
    shared = settings(redis_url, tmp_path)  # one key prefix, as in one deployment
    first, second = SocketQuota(shared), SocketQuota(shared)
    await first.start()
    await second.start()
    try:
        assert await first.acquire(user)
        assert await second.acquire(user)
        assert not await first.acquire(user)
        assert not await second.acquire(user)
        await second.release(user)
        assert await first.acquire(user)
        assert not await second.acquire(user)
        assert await second.acquire(uuid.uuid4())  # another user has places of their own
        # `first` dies without releasing: once its liveness key is gone, so are its places.
        assert first.redis is not None and first.refresher is not None
        first.refresher.cancel()
        await first.redis.delete(first._liveness_prefix + first.process)
        assert await second.acquire(user)
        assert await second.acquire(user)
        assert not await second.acquire(user)
    finally:
        await first.stop()
        await second.stop()


async def test_without_redis_every_socket_is_left_to_the_process(tmp_path: Path) -> None:
    local = SocketQuota(settings(None, tmp_path, limit=1))
    await local.start()
    user = uuid.uuid4()
    assert await local.acquire(user) and await local.acquire(user)
    await local.stop()


async def test_redis_away_fails_open_and_is_logged_once(tmp_path: Path) -> None:
    with redis_server() as (url, process):
        configured = settings(url, tmp_path, limit=1)
        setup_logging(configured)
        shared = SocketQuota(configured)
        await shared.start()
        user = uuid.uuid4()
        assert await shared.acquire(user)
        assert not await shared.acquire(user)
        process.terminate()
        process.wait(timeout=10)
        assert await shared.acquire(user)
        assert await shared.acquire(user)
        await shared.stop()
    app_log = (tmp_path / "logs" / "app.log").read_text().splitlines()
    lines = [line for line in app_log if "quota storage" in line]
    assert len(lines) == 1, lines


async def test_after_an_outage_the_process_counts_its_sockets_afresh(
    redis_url: str, tmp_path: Path
) -> None:
    """A socket closed while Redis did not answer must not keep its place: the
    process re-registers under a new name with its true counts."""
    shared = SocketQuota(settings(redis_url, tmp_path, limit=1))
    await shared.start()
    admin = Redis.from_url(redis_url)
    user = uuid.uuid4()
    try:
        assert await shared.acquire(user)
        await admin.execute_command("CLIENT", "PAUSE", 2500, "ALL")
        await shared.release(user)  # times out: Redis still counts the socket
        assert shared.down
        await asyncio.sleep(1.0)  # the pause ends
        assert await shared.acquire(user)
        assert not await shared.acquire(user)
    finally:
        await shared.stop()
        await admin.aclose()
