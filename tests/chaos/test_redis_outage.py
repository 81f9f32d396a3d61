"""Redis stops under a running API: requests are still served (no 5xx), rate
limits fail open, and the events committed while it was down reach the socket
after it returns, in order, with no gap; limits are enforced again."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.live_server import server_env
from tests.private_redis import PrivateRedis
from tests.realtime.support import receive_until, serve_process, sign_up_live, socket
from tests.users.factories import Account

pytestmark = pytest.mark.chaos

PER_USER = 10


async def _me(base: str, account: Account, times: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for _ in range(times):
            response = await http.get("/api/v1/users/me", headers=account.headers)
            statuses[response.status_code] += 1
    return statuses


async def _deploy(base: str, account: Account) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        response = await http.post(
            "/api/v1/agents/deploy",
            json={"template_id": "payment-reminder-bot", "config": {}},
            headers=account.headers,
        )
    assert response.status_code == 201, response.text


async def test_redis_outage_keeps_serving_fails_open_and_loses_no_event(
    need_redis: None, tmp_path: Path
) -> None:
    redis = PrivateRedis()
    redis.start()
    try:
        env = server_env(
            f"sqlite+aiosqlite:///{tmp_path / 'redis-chaos.db'}",
            tmp_path / "logs",
            REDIS_URL=redis.url,
            RATE_LIMIT_USER=f"{PER_USER}/minute",
        )
        with serve_process(env) as (base, _process):
            limited, survivor = sign_up_live(base), sign_up_live(base)
            assert (await _me(base, limited, PER_USER + 2))[429] > 0
            async with socket(base, survivor) as ws:
                redis.stop()
                during = await _me(base, survivor, PER_USER + 5)
                assert during == Counter({200: PER_USER + 5}), during
                await _deploy(base, survivor)
                await _deploy(base, survivor)
                redis.start()
                await _deploy(base, survivor)
                seqs = []
                while len(seqs) < 3:
                    event = await asyncio.wait_for(receive_until(ws, "agent_update"), 60)
                    seqs.append(event["seq"])
            assert seqs == [1, 2, 3], seqs
            after: Counter[int] = Counter()
            for _ in range(10):
                after += await _me(base, survivor, PER_USER)
                if after[429]:
                    break
                await asyncio.sleep(0.5)
            assert after[429] > 0, "the per-user limit did not come back with Redis"
            assert not any(status >= 500 for status in after), after
    finally:
        redis.stop()
