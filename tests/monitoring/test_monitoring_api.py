from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from botskis.analytics.models import DURATION_BOUNDS_MS, HISTOGRAM_COLUMNS
from botskis.analytics.ranges import histogram_percentile
from botskis.analytics.rollups import histogram_column
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.monitoring.fingerprints import error_fingerprint, normalise_message
from botskis.runs.models import Run
from botskis.users.models import User
from tests.conftest import make_settings
from tests.fakes.threaded_http import Reply
from tests.fakes.vendor_server import FakeVendorServer
from tests.runs.conftest import FAST_WORKER
from tests.runs.factories import THREE_STEPS, create_agent, http_workflow, queue_run
from tests.runs.helpers import wait_for_run
from tests.users.factories import sign_up


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "logs", **FAST_WORKER)


def test_messages_that_differ_only_in_values_share_a_fingerprint() -> None:
    a = "vendor.example answered 404: order 1234 'abc' not found at https://x.example/a?b=1"
    b = "vendor.example answered 404: order 99 'zzz' not found at https://y.example/q"
    assert normalise_message(a) == normalise_message(b)
    assert error_fingerprint("http_error", a, "s", "t") == error_fingerprint(
        "http_error", b, "s", "t"
    )
    assert error_fingerprint("http_error", a, "s", "t") != error_fingerprint(
        "http_error", a, "other", "t"
    )
    assert error_fingerprint("auth", a, "s", "t") != error_fingerprint("http_error", a, "s", "t")


@pytest.mark.parametrize(
    ("message", "normalised"),
    [
        (
            "connect to 127.0.0.1:5432 failed after 3 tries",
            "connect to 127.0.0.1:5432 failed after <n> tries",
        ),
        ("no route to 10.0.0.5.", "no route to 10.0.0.5."),
        ("refused by [::1]:8080 at 12:30:45", "refused by [::1]:8080 at <n>:<n>:<n>"),
        ("2001:db8::42 and fe80::1 are down", "2001:db8::42 and fe80::1 are down"),
        ("api2.vendor.io:443 timed out after 30.5 s", "api2.vendor.io:443 timed out after <n> s"),
        ("localhost:6379 said 500", "localhost:6379 said <n>"),
        ("s3.amazonaws.com answered 503", "s3.amazonaws.com answered <n>"),
        # Not addresses: an octet over 255, a version, a time, a hex id.
        ("order 1234 at 999.1.1.1", "order <n> at <n>.<n>"),
        ("client 1.2.3 too old", "client <n>.<n> too old"),
        ("job deadbeefdeadbeefdead stopped", "job <hex> stopped"),
    ],
)
def test_host_addresses_stay_readable_while_numbers_group(message: str, normalised: str) -> None:
    assert normalise_message(message) == normalised


def test_failures_at_two_hosts_are_two_groups_and_retry_counts_are_one() -> None:
    def fingerprint(message: str) -> str:
        return error_fingerprint("connection_error", message, "fetch", "t")

    first = fingerprint("connection refused by 10.0.0.5:5432 after 3 tries")
    assert first == fingerprint("connection refused by 10.0.0.5:5432 after 4 tries")
    assert first != fingerprint("connection refused by 10.0.0.6:5432 after 3 tries")


def histogram(durations: list[int]) -> list[int]:
    counts = dict.fromkeys(HISTOGRAM_COLUMNS, 0)
    for duration in durations:
        counts[histogram_column(duration)] += 1
    return list(counts.values())


def test_histogram_percentile_falls_in_the_bucket_of_the_nearest_rank() -> None:
    durations = list(range(1, 1001))
    for fraction in (0.5, 0.95, 0.99):
        exact = durations[int(fraction * len(durations)) - 1]
        estimate = histogram_percentile(histogram(durations), fraction, max(durations))
        assert estimate is not None
        # Same bucket as the exact nearest-rank value.
        assert histogram_column(estimate) == histogram_column(exact)
    assert histogram_percentile(histogram([]), 0.5, 0) is None
    assert histogram_percentile(histogram([7]), 0.95, 7) == 7
    slowest = DURATION_BOUNDS_MS[-1] * 3
    assert histogram_percentile(histogram([slowest]), 0.5, slowest) == slowest


async def test_error_groups_count_failures_per_fingerprint_for_own_agents_only(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/orders/*", Reply(404))
    owner = await sign_up(client)
    stranger = await sign_up(client)
    database: Database = app.state.database
    agent = await create_agent(database, owner.id, max_concurrent_runs=5)
    other_agent = await create_agent(database, owner.id)
    strangers_agent = await create_agent(database, stranger.id)
    runs = [
        await queue_run(database, agent, http_workflow(fake_vendor.url, f"/orders/{n}"))
        for n in (1, 22, 333)
    ]
    runs.append(await queue_run(database, other_agent, http_workflow(fake_vendor.url, "/orders/4")))
    runs.append(
        await queue_run(database, strangers_agent, http_workflow(fake_vendor.url, "/orders/5"))
    )
    ok = await queue_run(database, agent, THREE_STEPS, input={"n": 1})
    for run_id in [*runs, ok]:
        await wait_for_run(database, run_id)

    response = await client.get("/api/v1/monitoring/errors", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_failed_runs"] == 4
    (group,) = body["items"]
    assert group["count"] == 4 and group["error_kind"] == "http_error"
    assert group["step"] == "call_0" and group["template_slug"] == "zapier-alternative"
    assert group["sample_run_id"] in {str(r) for r in runs[:4]}
    assert group["first_seen"] <= group["last_seen"]

    only_other = await client.get(
        f"/api/v1/monitoring/errors?agent_id={other_agent.id}", headers=owner.headers
    )
    assert only_other.json()["items"][0]["count"] == 1
    future = (utcnow() + timedelta(hours=1)).isoformat()
    later = await client.get(
        "/api/v1/monitoring/errors", params={"since": future}, headers=owner.headers
    )
    assert later.json() == {"items": [], "total_failed_runs": 0}
    foreign = await client.get(
        f"/api/v1/monitoring/errors?agent_id={strangers_agent.id}", headers=owner.headers
    )
    assert foreign.status_code == 404
    naive = await client.get(
        "/api/v1/monitoring/errors", params={"since": "2026-01-01T00:00:00"}, headers=owner.headers
    )
    assert naive.status_code == 422


async def test_agent_health_reports_measured_numbers(
    app: FastAPI, client: httpx.AsyncClient, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/fail", Reply(400))
    account = await sign_up(client)
    database: Database = app.state.database
    agent = await create_agent(database, account.id)
    empty = await client.get(f"/api/v1/agents/{agent.id}/health", headers=account.headers)
    assert empty.status_code == 200
    assert empty.json()["success_rate"] is None and empty.json()["p50_duration_ms"] is None
    for n in range(3):
        await wait_for_run(database, await queue_run(database, agent, THREE_STEPS, input={"n": n}))
    await wait_for_run(
        database, await queue_run(database, agent, http_workflow(fake_vendor.url, "/fail"))
    )
    health = (await client.get(f"/api/v1/agents/{agent.id}/health", headers=account.headers)).json()
    assert health["runs_24h"] == 4 and health["runs_7d"] == 4
    assert health["succeeded_7d"] == 3 and health["failed_7d"] == 1
    assert health["success_rate"] == 0.75
    assert health["consecutive_failures"] == 1
    assert health["last_error"].startswith("http_error:")
    assert 0 <= health["p50_duration_ms"] <= health["p95_duration_ms"]
    assert health["status"] == "active" and health["next_run_at"] is None


async def test_system_health_is_for_superusers_and_shows_queue_and_workers(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    refused = await client.get("/api/v1/monitoring/health", headers=account.headers)
    assert refused.status_code == 403
    database: Database = app.state.database
    async with database.transaction() as session:
        user = await session.get(User, uuid.UUID(account.id))
        assert user is not None
        user.is_superuser = True
    admin = account.headers
    paused = await create_agent(database, account.id, status="paused")
    overdue = await create_agent(
        database,
        account.id,
        trigger={"type": "schedule", "interval_seconds": 3600},
        status="paused",
        next_run_at=utcnow() - timedelta(minutes=5),
    )
    async with database.transaction() as session:
        # A run that is queued but cannot start: its agent already runs one.
        now = utcnow()
        for status in ("running", "queued"):
            session.add(
                Run(
                    agent_id=paused.id,
                    owner_id=paused.owner_id,
                    template_slug=paused.template_slug,
                    trigger="manual",
                    status=status,
                    input={},
                    workflow=THREE_STEPS,
                    worker_id="elsewhere" if status == "running" else None,
                    lease_expires_at=now + timedelta(hours=1) if status == "running" else None,
                    started_at=now if status == "running" else None,
                    queued_at=now - timedelta(seconds=30),
                )
            )
    response = await client.get("/api/v1/monitoring/health", headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["queue_depth"] == 1 and body["running"] == 1
    assert body["oldest_queued_age_seconds"] >= 30
    assert any(not w["stale"] for w in body["workers"])
    assert body["overdue_schedules"] == 0 and body["scheduler_lag_seconds"] == 0
    async with database.transaction() as session:
        await session.execute(
            sa.update(type(overdue)).where(type(overdue).id == overdue.id).values(status="active")
        )
    await wait_for_overdue_cleared(client, admin)


async def wait_for_overdue_cleared(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """An active overdue schedule is fired by the scheduler, so the lag goes back to 0."""
    import asyncio
    import time

    deadline = time.monotonic() + 20
    while True:
        body = (await client.get("/api/v1/monitoring/health", headers=headers)).json()
        if body["overdue_schedules"] == 0:
            return
        assert body["scheduler_lag_seconds"] > 0
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
