"""Replay after reconnect: missed events in order, then live ones; no gap, no duplicate."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect

from botskis.database.connection import Database
from botskis.realtime import replay_log
from botskis.realtime.models import LoggedEvent
from tests.realtime.support import (
    Publisher,
    receive,
    receive_until,
    send,
    sign_up_live,
    socket,
    ws_url,
)
from tests.users.factories import sign_up

EVENT_TYPES = {"notification", "system_update", "agent_update", "run_update"}


async def test_resume_sends_missed_events_then_live_ones(server: str, publisher: Publisher) -> None:
    account = sign_up_live(server)
    async with socket(server, account) as ws:
        for title in ("one", "two", "three"):
            await publisher.notify(account.id, title)
        seen = [(await receive_until(ws, "notification"))["seq"] for _ in range(3)]
    assert seen == [1, 2, 3]

    for title in ("four", "five", "six"):
        await publisher.notify(account.id, title)

    async with connect(ws_url(server, account.id, token=account.token)) as ws:
        hello = await receive(ws)
        assert hello["type"] == "connected" and hello["seq"] == 6
        await send(ws, type="resume", since_seq=3)
        replayed = [await receive(ws) for _ in range(3)]
        assert [(m["type"], m["seq"], m["title"]) for m in replayed] == [
            ("notification", 4, "four"),
            ("notification", 5, "five"),
            ("notification", 6, "six"),
        ]
        await publisher.notify(account.id, "seven")
        live = await receive(ws)
        assert (live["seq"], live["title"]) == (7, "seven")
        await send(ws, type="resume", since_seq=7)
        await send(ws, type="ping")
        # Nothing was missed, so nothing is replayed before the pong.
        assert (await receive(ws))["type"] == "pong"


@pytest.mark.e2e
async def test_resume_while_events_flow_has_no_gap_and_no_duplicate(
    server: str, publisher: Publisher
) -> None:
    account = sign_up_live(server)
    total = 40

    async def produce() -> None:
        for index in range(total):
            await publisher.emit(account.id, "system_update", data={"index": index})

    producer = asyncio.create_task(produce())
    await asyncio.sleep(0)
    url = ws_url(server, account.id, token=account.token, since_seq="0")
    async with connect(url) as ws:
        assert (await receive(ws))["type"] == "connected"
        seqs: list[int] = []
        while len(seqs) < total:
            message = await receive(ws)
            if message["type"] in EVENT_TYPES:
                seqs.append(message["seq"])
    await producer
    assert seqs == list(range(1, total + 1))


@pytest.mark.e2e
async def test_beyond_retention_the_client_must_resync(server: str, publisher: Publisher) -> None:
    account = sign_up_live(server)
    await publisher.emit_many(account.id, replay_log.REPLAY_MAX_EVENTS + 5)
    async with socket(server, account) as ws:
        await send(ws, type="resume", since_seq=4)
        resync = await receive(ws)
        assert resync["type"] == "resync_required"
        assert resync["seq"] == replay_log.REPLAY_MAX_EVENTS + 5
        assert resync["detail"]

        await send(ws, type="resume", since_seq=10_000)
        assert (await receive(ws))["type"] == "resync_required"

        await send(ws, type="resume", since_seq=replay_log.REPLAY_MAX_EVENTS)
        tail = [await receive(ws) for _ in range(5)]
        assert [m["seq"] for m in tail] == list(
            range(replay_log.REPLAY_MAX_EVENTS + 1, replay_log.REPLAY_MAX_EVENTS + 6)
        )
        assert tail[-1]["data"] == {"index": replay_log.REPLAY_MAX_EVENTS + 4}


async def test_events_older_than_a_day_are_not_replayed(app: FastAPI, client: object) -> None:
    import httpx

    assert isinstance(client, httpx.AsyncClient)
    account = await sign_up(client)
    user_id = uuid.UUID(account.id)
    database: Database = app.state.database
    old = datetime.now(UTC) - replay_log.REPLAY_MAX_AGE - timedelta(minutes=1)
    async with database.transaction() as session:
        for seq, created in ((1, old), (2, datetime.now(UTC))):
            session.add(
                LoggedEvent(
                    user_id=user_id, seq=seq, type="system_update", fields={}, created_at=created
                )
            )
    async with database.transaction() as session:
        assert await replay_log.events_between(session, user_id, 0, 2) is None
        recent = await replay_log.events_between(session, user_id, 1, 2)
    assert recent is not None and [e.seq for e in recent] == [2]


async def test_the_log_is_pruned_in_batches_and_reads_keep_the_exact_bound(
    app: FastAPI, client: object
) -> None:
    """Deleting old events only every PRUNE_EVERY seqs keeps storage bounded, and a
    replay never reaches further back than REPLAY_MAX_EVENTS."""
    import httpx

    from botskis.realtime.events import emit

    assert isinstance(client, httpx.AsyncClient)
    account = await sign_up(client)
    user_id = uuid.UUID(account.id)
    database: Database = app.state.database
    total = replay_log.REPLAY_MAX_EVENTS + replay_log.PRUNE_EVERY + 37
    emitted = 0
    sizes: list[int] = []
    while emitted < total:
        batch = min(7, total - emitted)
        async with database.transaction() as session:
            for _ in range(batch):
                emit(session, user_id, "system_update", data={"index": emitted})
                emitted += 1
        async with database.transaction() as session:
            sizes.append(await replay_log.retained_count(session, user_id))
    assert max(sizes) <= replay_log.REPLAY_MAX_EVENTS + replay_log.PRUNE_EVERY + 7
    assert sizes[-1] >= replay_log.REPLAY_MAX_EVENTS
    async with database.transaction() as session:
        assert (
            await replay_log.events_between(
                session, user_id, total - replay_log.REPLAY_MAX_EVENTS - 1, total
            )
            is None
        )
        kept = await replay_log.events_between(
            session, user_id, total - replay_log.REPLAY_MAX_EVENTS, total
        )
    assert kept is not None and [e.seq for e in kept] == list(
        range(total - replay_log.REPLAY_MAX_EVENTS + 1, total + 1)
    )
