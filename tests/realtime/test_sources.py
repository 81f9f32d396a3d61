"""Events from the real sources, with no polling: deploying and pausing an agent,
and a run executed by the server's embedded worker."""

from __future__ import annotations

import httpx
import pytest

from tests.live_server import free_port
from tests.realtime.support import receive, receive_until, send, sign_up_live, socket

pytestmark = pytest.mark.e2e

FINISHED = {"succeeded", "failed", "cancelled"}


async def test_agent_changes_runs_and_metrics_arrive_live(server: str) -> None:
    account = sign_up_live(server)
    unreachable = f"http://127.0.0.1:{free_port()}/health"
    async with (
        socket(server, account) as ws,
        httpx.AsyncClient(base_url=server, headers=account.headers, timeout=30) as http,
    ):
        deployed = await http.post(
            "/api/v1/agents/deploy",
            json={
                "template_id": "system-health-monitor",
                "config": {"url": unreachable},
                "trigger": {"type": "manual"},
            },
        )
        assert deployed.status_code == 201, deployed.text
        agent_id = deployed.json()["id"]
        created = await receive_until(ws, "agent_update")
        assert created["agent_id"] == agent_id
        assert created["data"]["status"] == "active"

        await send(ws, type="subscribe_agent", agent_id=agent_id)
        await receive_until(ws, "subscribed")
        started = await http.post(f"/api/v1/agents/{agent_id}/run")
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]

        updates: list[dict[str, object]] = []
        metrics: list[dict[str, object]] = []
        while not updates or updates[-1]["status"] not in FINISHED:
            message = await receive(ws)
            if message["type"] == "run_update":
                assert message["run_id"] == run_id and message["agent_id"] == agent_id
                updates.append(message)
            elif message["type"] == "metrics_update":
                metrics.append(message["data"])
        statuses = [u["status"] for u in updates]
        assert "running" in statuses
        assert any("step" in u for u in updates)
        seqs = [u["seq"] for u in updates]
        assert seqs == sorted(seqs)

        while not metrics or metrics[-1]["runs_today"]["total"] != 1:  # type: ignore[index]
            message = await receive_until(ws, "metrics_update")
            metrics.append(message["data"])

        paused = await http.post(f"/api/v1/agents/{agent_id}/pause")
        assert paused.status_code == 200
        while True:
            change = await receive_until(ws, "agent_update")
            if change["data"]["status"] == "paused":
                break
