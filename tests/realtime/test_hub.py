"""The hub's ordering guarantees, driven directly: the bus may deliver late,
twice or out of order; sockets still see every event once, in seq order."""

from __future__ import annotations

import json
import uuid

import httpx
from fastapi import FastAPI

from botskis.database.connection import Database
from botskis.realtime import replay_log
from botskis.realtime.events import emit
from botskis.realtime.hub import Hub
from tests.users.factories import sign_up


def drained(queue_owner: object) -> list[dict[str, object]]:
    queue = queue_owner.queue  # type: ignore[attr-defined]
    return [json.loads(queue.get_nowait()[0]) for _ in range(queue.qsize())]


async def test_skipped_events_are_fetched_from_the_log_and_duplicates_dropped(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    user_id = uuid.UUID(account.id)
    database: Database = app.state.database
    hub = Hub(database, max_per_user=5, queue_limit=100)
    conn = hub.new_connection(user_id)
    await hub.connect(conn)
    assert [m["type"] for m in drained(conn)] == ["connected"]

    async with database.transaction() as session:
        for index in range(3):
            emit(session, user_id, "system_update", data={"index": index})
    async with database.transaction() as session:
        events = await replay_log.events_between(session, user_id, 0, 3)
    assert events is not None

    await hub.deliver([events[2]])
    await hub.deliver([events[1], events[0]])
    await hub.deliver([events[2]])
    received = drained(conn)
    assert [(m["seq"], m["data"]) for m in received] == [
        (1, {"index": 0}),
        (2, {"index": 1}),
        (3, {"index": 2}),
    ]
    hub.disconnect(conn)
    assert hub.connection_count() == 0


async def test_a_full_queue_closes_that_socket_only(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await sign_up(client)
    user_id = uuid.UUID(account.id)
    hub = Hub(app.state.database, max_per_user=5, queue_limit=3)
    slow, fast = hub.new_connection(user_id), hub.new_connection(user_id)
    await hub.connect(slow)
    await hub.connect(fast)
    drained(fast)
    async with app.state.database.transaction() as session:
        for index in range(5):
            emit(session, user_id, "system_update", data={"index": index})
    async with app.state.database.transaction() as session:
        events = await replay_log.events_between(session, user_id, 0, 5)
    assert events is not None
    for event in events:
        await hub.deliver([event])
        drained(fast)
    assert slow.close_code == 1013
    assert slow.queue.qsize() == 0
    assert fast.close_code is None
