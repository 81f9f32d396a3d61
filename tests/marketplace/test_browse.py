"""Public marketplace browsing. Popularity is what users actually deployed, so
these tests deploy agents (rows in the agents table) and watch the counts move."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from botskis.agents.models import Agent
from botskis.database.connection import Database
from botskis.marketplace.catalog import get_catalog
from tests.users.factories import sign_up

BASE = "/api/v1/marketplace"


async def add_agents(
    app: FastAPI, owner_id: str, slugs: dict[str, int], status: str = "active"
) -> None:
    database: Database = app.state.database
    async with database.transaction() as session:
        for slug, count in slugs.items():
            for n in range(count):
                session.add(
                    Agent(
                        owner_id=uuid.UUID(owner_id),
                        template_slug=slug,
                        name=f"{slug} {n}",
                        status=status,
                    )
                )


async def test_browsing_needs_no_account(client: httpx.AsyncClient) -> None:
    for path in [
        "/templates",
        "/featured",
        "/popular",
        "/categories",
        "/stats",
        "/search?q=slack",
        "/templates/slack-digest",
    ]:
        response = await client.get(BASE + path)
        assert response.status_code == 200, (path, response.text)


async def test_list_is_paginated_with_totals(client: httpx.AsyncClient) -> None:
    first = (await client.get(f"{BASE}/templates", params={"limit": 5, "sort": "name"})).json()
    second = (
        await client.get(f"{BASE}/templates", params={"limit": 5, "offset": 5, "sort": "name"})
    ).json()
    assert first["total"] == second["total"] == 20
    assert (first["limit"], first["offset"], second["offset"]) == (5, 0, 5)
    names = [t["name"] for t in first["items"] + second["items"]]
    assert names == sorted(names, key=str.casefold)
    assert len(set(names)) == 10
    beyond = (await client.get(f"{BASE}/templates", params={"offset": 40})).json()
    assert beyond["items"] == [] and beyond["total"] == 20


async def test_filter_by_category(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{BASE}/templates", params={"category": "sales"})).json()
    assert body["total"] == 3
    assert {t["slug"] for t in body["items"]} == {
        "lead-qualification-bot",
        "sales-follow-up-automation",
        "meeting-scheduler",
    }
    unknown = (await client.get(f"{BASE}/templates", params={"category": "astrology"})).json()
    assert unknown == {"items": [], "total": 0, "limit": 20, "offset": 0}


async def test_sort_by_rating_puts_the_best_rated_first(client: httpx.AsyncClient) -> None:
    items = (await client.get(f"{BASE}/templates", params={"sort": "rating", "limit": 100})).json()[
        "items"
    ]
    ratings = [t["rating"] for t in items]
    assert ratings == sorted(ratings, reverse=True)


async def test_popularity_comes_from_deployed_agents(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    await add_agents(app, account.id, {"faq-responder": 3, "resume-screener": 2})
    await add_agents(app, account.id, {"resume-screener": 2}, status="paused")

    popular = (await client.get(f"{BASE}/popular", params={"limit": 2})).json()
    assert [(t["slug"], t["deployments"]) for t in popular] == [
        ("resume-screener", 4),
        ("faq-responder", 3),
    ]
    listed = (await client.get(f"{BASE}/templates", params={"sort": "popular"})).json()["items"]
    assert [t["slug"] for t in listed[:2]] == ["resume-screener", "faq-responder"]
    assert all(t["deployments"] == 0 for t in listed[2:])
    detail = (await client.get(f"{BASE}/templates/faq-responder")).json()
    assert detail["deployments"] == 3

    stats = (await client.get(f"{BASE}/stats")).json()
    assert stats["deployments"] == 7
    assert stats["active_deployments"] == 5
    categories = {c["category"]: c for c in (await client.get(f"{BASE}/categories")).json()}
    assert categories["hr"] == {"category": "hr", "templates": 1, "deployments": 4}
    assert categories["support"] == {"category": "support", "templates": 2, "deployments": 3}


async def test_agents_of_a_removed_template_are_not_counted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    await add_agents(app, account.id, {"retired-template": 4})
    stats = (await client.get(f"{BASE}/stats")).json()
    assert stats["deployments"] == 0


async def test_detail_by_slug_and_by_id_includes_schema_and_outline(
    client: httpx.AsyncClient,
) -> None:
    by_slug = await client.get(f"{BASE}/templates/customer-support-triager")
    assert by_slug.status_code == 200
    detail = by_slug.json()
    by_id = (await client.get(f"{BASE}/templates/{detail['id']}")).json()
    assert by_id == detail
    assert detail["config_schema"]["type"] == "object"
    assert "default_webhook_url" in detail["config_schema"]["required"]
    assert detail["trigger"] == {"type": "webhook"}
    assert detail["trigger_type"] == "webhook"
    assert detail["uses_llm"] is True
    outline = [(s["id"], s["kind"]) for s in detail["workflow"]]
    assert outline == [
        ("classify", "llm"),
        ("route", "transform"),
        ("post_to_slack", "http"),
        ("alert", "notify"),
    ]
    assert detail["workflow"][3]["conditional"] is True
    assert all(s["name"] for s in detail["workflow"])


async def test_unknown_template_is_404(client: httpx.AsyncClient) -> None:
    for key in ["no-such-template", str(uuid.uuid4())]:
        response = await client.get(f"{BASE}/templates/{key}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert key in response.json()["detail"]


async def test_featured_lists_only_featured_best_rated_first(client: httpx.AsyncClient) -> None:
    featured = (await client.get(f"{BASE}/featured")).json()
    expected = {t.slug for t in get_catalog().all() if t.featured}
    assert {t["slug"] for t in featured} == expected
    assert all(t["featured"] for t in featured)
    ratings = [t["rating"] for t in featured]
    assert ratings == sorted(ratings, reverse=True)


async def test_categories_cover_every_template(client: httpx.AsyncClient) -> None:
    categories = (await client.get(f"{BASE}/categories")).json()
    assert sum(c["templates"] for c in categories) == 20
    assert [c["category"] for c in categories] == sorted(c["category"] for c in categories)
    assert len(categories) == 12


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("TRELLO", {"gmail-trello-automation"}),  # name and integrations, any case
        ("shopify", {"inventory-monitor"}),  # integrations
        ("hubspot", {"lead-qualification-bot", "sales-follow-up-automation", "churn-predictor"}),
        ("before you SELL out", {"inventory-monitor"}),  # description, every word must match
        (
            "no ai needed",
            {
                "inventory-monitor",
                "payment-reminder-bot",
                "zapier-alternative",
                "system-health-monitor",
            },
        ),  # features
        ("zzzz-nothing", set()),
    ],
)
async def test_search_matches_name_description_features_and_integrations(
    client: httpx.AsyncClient, query: str, expected: set[str]
) -> None:
    response = await client.get(f"{BASE}/search", params={"q": query, "limit": 100})
    assert response.status_code == 200
    assert {t["slug"] for t in response.json()["items"]} == expected
    listed = await client.get(f"{BASE}/templates", params={"q": query, "limit": 100})
    assert {t["slug"] for t in listed.json()["items"]} == expected


async def test_search_combines_with_category(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/search", params={"q": "slack", "category": "support"})
    assert {t["slug"] for t in response.json()["items"]} == {"customer-support-triager"}


@pytest.mark.parametrize(
    "path",
    [
        "/search",
        "/search?q=",
        "/search?q=%20%20",
        "/search?q=" + "x" * 101,
        "/templates?q=",
        "/templates?sort=newest",
        "/search?q=slack&sort=random",
        "/templates?limit=0",
        "/templates?limit=101",
        "/templates?offset=-1",
        "/templates?limit=ten",
        "/popular?limit=0",
        "/popular?limit=51",
        "/templates?category=",
    ],
)
async def test_bad_query_parameters_are_422(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(BASE + path)
    assert response.status_code == 422, response.text
    assert response.json()["errors"]


async def test_oversized_template_key_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/templates/{'a' * 101}")
    assert response.status_code == 422
