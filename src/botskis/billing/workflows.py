"""The worker's billing loop: apply stored Stripe events, end expired grace periods.

Each event is applied in one transaction that first claims it with a conditional
UPDATE (`... WHERE applied_at IS NULL`) and last marks it applied, so it takes
effect exactly once however many workers run, and a worker killed in between
leaves it for the next one. A failure rolls back, is recorded, and is retried
with a capped backoff; nothing is dropped."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from loguru import logger
from sqlalchemy import select, update

from botskis.billing.models import StripeEvent
from botskis.billing.subscriptions import apply_event, expire_grace_periods
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.database.connection import Database

BATCH = 50
MAX_BACKOFF_SECONDS = 3600
ERROR_MAX = 500


async def apply_pending_events(database: Database, settings: Settings) -> int:
    """Apply the due events in Stripe's order of creation; returns how many."""
    now = utcnow()
    async with database.transaction() as session:
        due = list(
            await session.scalars(
                select(StripeEvent.id)
                .where(StripeEvent.applied_at.is_(None), StripeEvent.next_attempt_at <= now)
                .order_by(StripeEvent.created, StripeEvent.received_at)
                .limit(BATCH)
            )
        )
    applied = 0
    for event_id in due:
        try:
            async with database.transaction() as session:
                claimed = await session.execute(
                    update(StripeEvent)
                    .where(StripeEvent.id == event_id, StripeEvent.applied_at.is_(None))
                    .values(attempts=StripeEvent.attempts + 1)
                    .returning(StripeEvent.payload)
                    .execution_options(synchronize_session=False)
                )
                payload = claimed.scalar()
                if payload is None:
                    continue
                await apply_event(session, settings, payload)
                await session.execute(
                    update(StripeEvent)
                    .where(StripeEvent.id == event_id)
                    .values(applied_at=utcnow(), last_error=None)
                    .execution_options(synchronize_session=False)
                )
            applied += 1
        except Exception as error:
            logger.bind(event_id=event_id).exception("stripe event not applied; retrying later")
            await _record_failure(database, event_id, error)
    return applied


async def _record_failure(database: Database, event_id: str, error: Exception) -> None:
    async with database.transaction() as session:
        event = await session.get(StripeEvent, event_id)
        if event is None or event.applied_at is not None:
            return
        event.attempts += 1
        backoff = min(2 ** min(event.attempts, 12), MAX_BACKOFF_SECONDS)
        event.next_attempt_at = utcnow() + timedelta(seconds=backoff)
        event.last_error = f"{type(error).__name__}: {error}"[:ERROR_MAX]


async def expire_grace(database: Database, settings: Settings) -> int:
    async with database.transaction() as session:
        return await expire_grace_periods(session, settings)


async def billing_loop(database: Database, settings: Settings, stop: asyncio.Event) -> None:
    """Runs until `stop` is set; does nothing when billing is not configured."""
    if not settings.stripe_secret_key:
        return
    while not stop.is_set():
        try:
            await apply_pending_events(database, settings)
            await expire_grace(database, settings)
        except Exception:
            logger.exception("billing tick failed")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(settings.worker_poll_seconds):
                await stop.wait()
