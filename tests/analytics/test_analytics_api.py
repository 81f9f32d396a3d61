"""GET /analytics/overview and /agents/{id}/analytics: figures from the
rollups, owner-scoped, exported as CSV, with clear 422s for bad ranges."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from botskis.analytics.rollups import FinishedRun, add_finished_runs
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.monitoring.fingerprints import error_fingerprint
from botskis.runs.models import RunStatus
from tests.agents.factories import deploy
from tests.billing.factories import set_plan
from tests.users.factories import Account, sign_up

PRICE = 0.6


def _run(
    agent: dict[str, object],
    owner: Account,
    status: RunStatus,
    at: datetime,
    *,
    message: str | None = None,
    duration_ms: int = 100,
    tokens: int = 0,
) -> FinishedRun:
    fingerprint = (
        error_fingerprint("http_error", message, "fetch", str(agent["template_slug"]))
        if message
        else None
    )
    return FinishedRun(
        run_id=uuid.uuid4(),
        agent_id=uuid.UUID(str(agent["id"])),
        owner_id=uuid.UUID(owner.id),
        template_slug=str(agent["template_slug"]),
        status=status,
        finished_at=at,
        duration_ms=duration_ms,
        auto_healed=False,
        error_fingerprint=fingerprint,
        error_kind="http_error" if message else None,
        error_message=message,
        error_step="fetch" if message else None,
        tokens=tokens,
    )


async def _finish(database: Database, runs: list[FinishedRun]) -> None:
    async with database.transaction() as session:
        await add_finished_runs(session, runs, price_per_million_tokens=PRICE)


@pytest.fixture
def day() -> datetime:
    """Midnight (UTC) two days ago: the range [day, day + 2 days) lies in the past."""
    return utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)


async def _seeded(
    app: FastAPI, client: httpx.AsyncClient, day: datetime
) -> tuple[Account, Account, dict[str, object], dict[str, object], dict[str, object]]:
    owner, stranger = await sign_up(client), await sign_up(client)
    steady = await deploy(client, owner, minutes_saved_per_run=10)
    flaky = await deploy(client, owner, minutes_saved_per_run=3)
    foreign = await deploy(client, stranger)
    at = day + timedelta(hours=5, minutes=30)
    later = day + timedelta(days=1, hours=2)
    await _finish(
        app.state.database,
        [
            _run(steady, owner, RunStatus.SUCCEEDED, at, duration_ms=100),
            _run(steady, owner, RunStatus.SUCCEEDED, at, duration_ms=200),
            _run(steady, owner, RunStatus.SUCCEEDED, later, duration_ms=300),
            _run(steady, owner, RunStatus.FAILED, later, message="answered 500 for 1"),
            _run(flaky, owner, RunStatus.FAILED, at, message="answered 500 for 2"),
            _run(flaky, owner, RunStatus.FAILED, later, message="answered 500 for 3"),
            _run(flaky, owner, RunStatus.FAILED, later, message="refused 'x'"),
            _run(flaky, owner, RunStatus.CANCELLED, later),
            # The day before the range: the trend's comparison.
            _run(
                flaky,
                owner,
                RunStatus.FAILED,
                day - timedelta(hours=3),
                message="answered 500 for 4",
            ),
            _run(foreign, stranger, RunStatus.FAILED, at, message="answered 500 for 5"),
        ],
    )
    return owner, stranger, steady, flaky, foreign


def _range(day: datetime, granularity: str = "day") -> dict[str, str]:
    return {
        "from": day.isoformat(),
        "to": (day + timedelta(days=2)).isoformat(),
        "granularity": granularity,
    }


async def test_overview_adds_up_the_owners_runs_only(
    app: FastAPI, client: httpx.AsyncClient, day: datetime
) -> None:
    owner, _, steady, flaky, _ = await _seeded(app, client, day)
    response = await client.get(
        "/api/v1/analytics/overview", params=_range(day), headers=owner.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from"] == day.isoformat().replace("+00:00", "Z") or body["from"].startswith(
        day.date().isoformat()
    )
    totals = body["totals"]
    assert (totals["runs"], totals["succeeded"], totals["failed"], totals["cancelled"]) == (
        8,
        3,
        4,
        1,
    )
    assert totals["success_rate"] == round(3 / 7, 4)
    # Tokens come from step records (none here); tests/analytics/test_rollups.py counts them.
    assert totals["tokens"] == 0 and totals["cost_usd"] == 0
    assert 0 < totals["p50_duration_ms"] <= totals["p95_duration_ms"] <= totals["p99_duration_ms"]
    assert totals["p99_duration_ms"] <= 300
    assert [p["runs"] for p in body["series"]] == [3, 5]
    assert [a["agent_id"] for a in body["top_failing_agents"]] == [flaky["id"], steady["id"]]
    assert body["top_failing_agents"][0]["failed"] == 3
    numbers, refused = body["top_errors"]
    assert (numbers["count"], numbers["previous_count"], numbers["trend"]) == (3, 1, "rising")
    assert numbers["message"] == "answered <n> for <n>" and numbers["step"] == "fetch"
    assert (refused["count"], refused["trend"]) == (1, "new")
    # Each group names its latest failure in the range, to link to.
    assert refused["sample_agent_id"] == flaky["id"] and refused["sample_run_id"]
    assert numbers["sample_agent_id"] in (steady["id"], flaky["id"]) and numbers["sample_run_id"]
    # 3 successful runs of an agent saving 10 minutes each.
    assert body["time_saved"] == {"minutes": 30.0, "hours": 0.5}

    hourly = await client.get(
        "/api/v1/analytics/overview", params=_range(day, "hour"), headers=owner.headers
    )
    series = hourly.json()["series"]
    assert len(series) == 48
    assert {p["bucket"][11:13]: p["runs"] for p in series if p["runs"]} == {"05": 3, "02": 5}


async def test_changing_minutes_saved_changes_time_saved(
    app: FastAPI, client: httpx.AsyncClient, day: datetime
) -> None:
    owner, _, steady, _, _ = await _seeded(app, client, day)
    patched = await client.patch(
        f"/api/v1/agents/{steady['id']}", json={"minutes_saved_per_run": 20}, headers=owner.headers
    )
    assert patched.status_code == 200 and patched.json()["minutes_saved_per_run"] == 20
    body = (
        await client.get(
            f"/api/v1/agents/{steady['id']}/analytics", params=_range(day), headers=owner.headers
        )
    ).json()
    assert body["time_saved"]["minutes"] == 60.0 and body["minutes_saved_per_run"] == 20
    for bad in (-1, 1441, "lots", None):
        refused = await client.patch(
            f"/api/v1/agents/{steady['id']}",
            json={"minutes_saved_per_run": bad},
            headers=owner.headers,
        )
        assert refused.status_code in (200, 422)
        if bad is not None:
            assert refused.status_code == 422, bad
            assert refused.headers["content-type"].startswith("application/problem+json")


async def test_a_new_agent_takes_the_templates_minutes_saved(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    agent = await deploy(client, owner)
    assert agent["minutes_saved_per_run"] == 45  # report-generator.yaml


async def test_agent_analytics_is_the_agents_share(
    app: FastAPI, client: httpx.AsyncClient, day: datetime
) -> None:
    owner, _, _, flaky, _ = await _seeded(app, client, day)
    response = await client.get(
        f"/api/v1/agents/{flaky['id']}/analytics", params=_range(day), headers=owner.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["agent_id"] == flaky["id"]
    assert (body["totals"]["failed"], body["totals"]["cancelled"]) == (3, 1)
    assert body["totals"]["success_rate"] == 0.0
    assert [e["count"] for e in body["top_errors"]] == [2, 1]
    assert "top_failing_agents" not in body


async def test_csv_exports_the_series(
    app: FastAPI, client: httpx.AsyncClient, day: datetime
) -> None:
    owner, _, steady, _, _ = await _seeded(app, client, day)
    for path in ("/api/v1/analytics/overview", f"/api/v1/agents/{steady['id']}/analytics"):
        response = await client.get(
            path, params={**_range(day), "format": "csv"}, headers=owner.headers
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == 2
        assert rows[0]["bucket"].startswith(day.date().isoformat())
        assert {"runs", "succeeded", "failed", "p95_duration_ms", "cost_usd"} <= set(rows[0])
    overview_rows = list(
        csv.DictReader(
            io.StringIO(
                (
                    await client.get(
                        "/api/v1/analytics/overview",
                        params={**_range(day), "format": "csv"},
                        headers=owner.headers,
                    )
                ).text
            )
        )
    )
    assert [int(r["runs"]) for r in overview_rows] == [3, 5]


async def test_someone_elses_or_an_unknown_agent_is_404(
    app: FastAPI, client: httpx.AsyncClient, day: datetime
) -> None:
    owner, _, _, _, foreign = await _seeded(app, client, day)
    for agent_id in (foreign["id"], uuid.uuid4()):
        response = await client.get(
            f"/api/v1/agents/{agent_id}/analytics", params=_range(day), headers=owner.headers
        )
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
    bad_id = await client.get("/api/v1/agents/not-a-uuid/analytics", headers=owner.headers)
    assert bad_id.status_code == 422


async def test_analytics_need_a_logged_in_user(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/analytics/overview", f"/api/v1/agents/{uuid.uuid4()}/analytics"):
        response = await client.get(path)
        assert response.status_code == 401
        bogus = await client.get(path, headers={"Authorization": "Bearer nonsense"})
        assert bogus.status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        (
            {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z", "granularity": "hour"},
            "to",
        ),
        ({"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
        ({"granularity": "minute"}, "granularity"),
        ({"format": "xml"}, "format"),
        ({"from": "2026-01-01T00:00:00"}, "from"),
        ({"to": "yesterday"}, "to"),
    ],
)
async def test_bad_ranges_are_422_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    owner = await sign_up(client)
    agent = await deploy(client, owner)
    for path in ("/api/v1/analytics/overview", f"/api/v1/agents/{agent['id']}/analytics"):
        response = await client.get(path, params=params, headers=owner.headers)
        assert response.status_code == 422, response.text
        body = response.json()
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in [error["field"] for error in body["errors"]], body


async def test_an_empty_range_is_zeros_not_an_error(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    response = await client.get("/api/v1/analytics/overview", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["totals"]["runs"] == 0 and body["totals"]["success_rate"] is None
    assert len(body["series"]) in (7, 8)  # the default: the last 7 days, by day
    assert body["top_errors"] == [] and body["top_failing_agents"] == []


async def test_top_failing_agents_are_the_ten_with_most_failures_most_first(
    app: FastAPI, client: httpx.AsyncClient, day: datetime
) -> None:
    owner = await sign_up(client)
    await set_plan(app.state.database, owner.id, "enterprise")
    agents = [await deploy(client, owner, minutes_saved_per_run=2) for _ in range(13)]
    at = day + timedelta(hours=5)
    runs = [_run(agents[0], owner, RunStatus.SUCCEEDED, at)]
    # Agent n fails n times; agents 11 and 12 tie on 11 failures.
    for n, agent in enumerate(agents[1:], start=1):
        failures = min(n, 11)
        runs += [_run(agent, owner, RunStatus.FAILED, at, message="x") for _ in range(failures)]
        runs.append(_run(agent, owner, RunStatus.SUCCEEDED, at))
    await _finish(app.state.database, runs)
    response = await client.get(
        "/api/v1/analytics/overview", params=_range(day), headers=owner.headers
    )
    assert response.status_code == 200, response.text
    top = response.json()["top_failing_agents"]
    tied = sorted(str(agents[n]["id"]) for n in (11, 12))
    expected = [*tied, *(str(agents[n]["id"]) for n in range(10, 2, -1))]
    assert [a["agent_id"] for a in top] == expected
    assert [a["failed"] for a in top] == [11, 11, 10, 9, 8, 7, 6, 5, 4, 3]
    assert top[2]["runs"] == 11 and top[2]["success_rate"] == round(1 / 11, 4)
    # Thirteen agents, each with one success saving 2 minutes.
    assert response.json()["time_saved"]["minutes"] == 13 * 2.0
