import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from botskis.database.connection import Database
from botskis.notifications.service import create_notification
from botskis.realtime.models import LoggedEvent
from tests.users.factories import sign_up


async def notify(app: FastAPI, user_id: str, title: str = "Hello", **kwargs: object) -> str:
    database: Database = app.state.database
    async with database.transaction() as session:
        notification = await create_notification(
            session,
            uuid.UUID(user_id),
            level=str(kwargs.get("level", "info")),
            title=title,
            message=str(kwargs.get("message", "body")),
        )
        return str(notification.id)


async def test_list_shows_only_own_notifications_newest_first(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice = await sign_up(client)
    bob = await sign_up(client)
    for title in ("first", "second", "third"):
        await notify(app, alice.id, title)
    await notify(app, bob.id, "bob's")

    page = await client.get("/api/v1/notifications", headers=alice.headers)
    assert page.status_code == 200
    body = page.json()
    assert body["total"] == 3
    assert [n["title"] for n in body["items"]] == ["third", "second", "first"]
    assert body["items"][0]["read_at"] is None
    assert set(body["items"][0]) == {
        "id",
        "agent_id",
        "level",
        "title",
        "message",
        "read_at",
        "created_at",
    }

    second_page = await client.get(
        "/api/v1/notifications", params={"limit": 2, "offset": 2}, headers=alice.headers
    )
    assert [n["title"] for n in second_page.json()["items"]] == ["first"]


async def test_mark_read_is_idempotent_and_filters_unread(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    first = await notify(app, account.id, "first")
    await notify(app, account.id, "second")

    read = await client.post(f"/api/v1/notifications/{first}/read", headers=account.headers)
    assert read.status_code == 200
    read_at = read.json()["read_at"]
    assert read_at is not None
    again = await client.post(f"/api/v1/notifications/{first}/read", headers=account.headers)
    assert again.json()["read_at"] == read_at

    unread = await client.get(
        "/api/v1/notifications", params={"unread": "true"}, headers=account.headers
    )
    assert [n["title"] for n in unread.json()["items"]] == ["second"]
    assert unread.json()["total"] == 1


async def test_read_all_marks_every_unread_notification(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    other = await sign_up(client)
    await notify(app, account.id)
    await notify(app, account.id)
    await notify(app, other.id)
    response = await client.post("/api/v1/notifications/read-all", headers=account.headers)
    assert response.json() == {"marked_read": 2}
    others = await client.get(
        "/api/v1/notifications", params={"unread": "true"}, headers=other.headers
    )
    assert others.json()["total"] == 1


async def test_someone_elses_notification_is_404(app: FastAPI, client: httpx.AsyncClient) -> None:
    alice = await sign_up(client)
    bob = await sign_up(client)
    alices = await notify(app, alice.id)
    response = await client.post(f"/api/v1/notifications/{alices}/read", headers=bob.headers)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    listed = await client.get(
        "/api/v1/notifications", params={"unread": True}, headers=alice.headers
    )
    assert listed.json()["total"] == 1


async def test_unknown_and_malformed_ids(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    unknown = await client.post(
        f"/api/v1/notifications/{uuid.uuid4()}/read", headers=account.headers
    )
    assert unknown.status_code == 404
    malformed = await client.post("/api/v1/notifications/not-a-uuid/read", headers=account.headers)
    assert malformed.status_code == 422


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"unread": "x"}])
async def test_bad_query_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, object]
) -> None:
    account = await sign_up(client)
    response = await client.get("/api/v1/notifications", params=params, headers=account.headers)
    assert response.status_code == 422


async def test_notification_routes_need_auth(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/notifications"),
        ("POST", f"/api/v1/notifications/{uuid.uuid4()}/read"),
        ("POST", "/api/v1/notifications/read-all"),
    ]:
        assert (await client.request(method, path)).status_code == 401, path


async def test_create_notification_logs_a_notification_event(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    notification_id = await notify(app, account.id, "t" * 500, level="warning", message="m")
    database: Database = app.state.database
    async with database.transaction() as session:
        logged = (
            await session.scalars(
                select(LoggedEvent).where(LoggedEvent.user_id == uuid.UUID(account.id))
            )
        ).all()
    assert [(e.seq, e.type) for e in logged] == [(1, "notification")]
    assert logged[0].fields["id"] == notification_id
    assert logged[0].fields["level"] == "warning"
    assert logged[0].fields["title"] == "t" * 200


async def test_unknown_level_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    with pytest.raises(ValueError, match="level"):
        await notify(app, account.id, level="shouting")
