"""The executor: claims queued runs from the database and executes them.

The queue is the `runs` table itself; `queue.claims` moves queued runs to this
worker within the per-agent and per-user limits. A claimed run carries a lease
that the worker's heartbeat extends; when a worker dies its leases expire and
any live worker puts those runs back in the queue, where they resume from
their last checkpoint.

Workers sleep until woken: a committed run wakes the workers of the same
process directly and other processes through PostgreSQL `LISTEN/NOTIFY`; a
slow poll (`WORKER_POLL_SECONDS`) is only the safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from loguru import logger
from sqlalchemy import delete, func, select, update

from botskis.billing.workflows import billing_loop
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.execution import healing, scheduler
from botskis.execution.engine import ClaimedRun, RunExecution
from botskis.execution.outbound import create_client
from botskis.queue.claims import claim_runs, reclaim_expired
from botskis.queue.wakeup import CHANNEL, local_wake_events, wake_workers_after_commit
from botskis.queue.writer import RunWriter
from botskis.runs.models import Run, RunStatus, Worker
from botskis.runs.retention import retention_loop
from botskis.users.mail_outbox import start_mail_delivery

STOP_GRACE_SECONDS = 2.0


def new_worker_id() -> str:
    return f"{socket.gethostname()[:60]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class RunWorker:
    """One executor process's (or the embedded worker's) loops."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        worker_id: str | None = None,
        run_scheduler: bool = True,
    ) -> None:
        self.database = database
        self.settings = settings
        self.id = worker_id or new_worker_id()
        self.run_scheduler = run_scheduler
        self.wake = asyncio.Event()
        self.running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self.log = logger.bind(worker_id=self.id)
        self.http = create_client(settings)
        self.writer = RunWriter(database, settings, self.id)

    async def start(self) -> None:
        async with self.database.transaction() as session:
            session.add(Worker(id=self.id, hostname=socket.gethostname()[:200], pid=os.getpid()))
        local_wake_events.add(self.wake)
        self.writer.start()
        self._loops = [
            asyncio.create_task(self._claim_loop(), name="worker-claim"),
            asyncio.create_task(self._heartbeat_loop(), name="worker-heartbeat"),
            start_mail_delivery(self.database, self.settings, self._stop_requested),
        ]
        if self.database.engine.dialect.name == "postgresql":
            self._loops.append(asyncio.create_task(self._listen_loop(), name="worker-listen"))
        if self.run_scheduler:
            self._loops.append(asyncio.create_task(self._schedule_loop(), name="worker-schedule"))
        self._loops.append(
            asyncio.create_task(
                billing_loop(self.database, self.settings, self._stop_requested),
                name="worker-billing",
            )
        )
        self._loops.append(
            asyncio.create_task(
                retention_loop(self.database, self.settings, self._stop_requested),
                name="worker-retention",
            )
        )
        self.log.info("worker started")

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop claiming, let running runs finish for `grace` seconds, then hand
        the rest back to the queue so another worker resumes them."""
        self._stopping = True
        self._stop_requested.set()
        self.wake.set()
        local_wake_events.discard(self.wake)
        for task in self._loops:
            if task.get_name() == "worker-listen":
                task.cancel()
        # Loops finish their current unit of work; only a stuck one is cancelled.
        _finished, stuck = await asyncio.wait(self._loops, timeout=grace)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self.running:
            _done, pending = await asyncio.wait(list(self.running.values()), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.writer.stop(grace)
        with contextlib.suppress(Exception):
            async with self.database.transaction() as session:
                released = await session.execute(
                    update(Run)
                    .where(Run.worker_id == self.id, Run.status == RunStatus.RUNNING)
                    .values(status=RunStatus.QUEUED, worker_id=None, lease_expires_at=None)
                    .execution_options(synchronize_session=False)
                )
                if getattr(released, "rowcount", 0):
                    await wake_workers_after_commit(session)
                await session.execute(delete(Worker).where(Worker.id == self.id))
        await self.http.aclose()
        self.log.info("worker stopped")

    async def _claim_loop(self) -> None:
        while not self._stopping:
            self.wake.clear()
            free = self.settings.worker_concurrency - len(self.running)
            claimed: Sequence[ClaimedRun] = []
            if free > 0:
                try:
                    claimed = await claim_runs(self.database, self.settings, self.id, free)
                except Exception as exc:
                    self._failed("claiming runs failed", exc)
                    await self._pause(self.settings.worker_poll_seconds)
                    continue
                for run in claimed:
                    self._spawn(run)
            if free > 0 and len(claimed) == free:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.worker_poll_seconds):
                    await self.wake.wait()

    def _spawn(self, claimed: ClaimedRun) -> None:
        run_id = claimed.run.id
        execution = RunExecution(self.database, self.settings, self.writer, claimed, self.http)
        task = asyncio.create_task(execution.execute(), name=f"run-{run_id}")
        stale = self.running.get(run_id)
        if stale is not None:
            # This worker's own lease on the run expired (a stalled event loop) and
            # it claimed the run again: the older attempt may no longer write.
            stale.cancel()
        self.running[run_id] = task

        def _done(finished: asyncio.Task[None]) -> None:
            if self.running.get(run_id) is finished:
                del self.running[run_id]
            error = None if finished.cancelled() else finished.exception()
            if error is not None and self.database.availability.report(error) is None:
                self.log.bind(run_id=str(run_id)).opt(exception=error).error(
                    "run execution crashed; its lease will expire and it will be retried"
                )
            self.wake.set()

        task.add_done_callback(_done)

    async def _heartbeat_loop(self) -> None:
        while not self._stopping:
            try:
                await self.heartbeat()
                await reclaim_expired(self.database, self.settings)
                await healing.queue_due_probes(self.database)
            except Exception as exc:
                self._failed("heartbeat failed", exc)
            await self._pause(self.settings.worker_heartbeat_seconds)

    async def heartbeat(self) -> None:
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.worker_lease_seconds)
        async with self.database.transaction() as session:
            beat = await session.execute(
                update(Worker)
                .where(Worker.id == self.id)
                .values(last_heartbeat=now, running=len(self.running))
            )
            if getattr(beat, "rowcount", 0) == 0:
                session.add(
                    Worker(id=self.id, hostname=socket.gethostname()[:200], pid=os.getpid())
                )
            if self.running:
                # Rows the run writer has locked are skipped (it extends their
                # leases itself): two multi-row UPDATEs locking in plan order could
                # otherwise deadlock.
                mine = (
                    select(Run.id)
                    .where(
                        Run.worker_id == self.id,
                        Run.status == RunStatus.RUNNING,
                        Run.id.in_(list(self.running)),
                    )
                    .with_for_update(skip_locked=True, key_share=True)
                )
                await session.execute(
                    update(Run)
                    .where(Run.id.in_(mine.scalar_subquery()))
                    .values(lease_expires_at=lease)
                    .execution_options(synchronize_session=False)
                )
            stale = now - timedelta(seconds=max(10 * self.settings.worker_lease_seconds, 300))
            await session.execute(delete(Worker).where(Worker.last_heartbeat < stale))

    async def _listen_loop(self) -> None:
        import psycopg

        url = self.database.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        while not self._stopping:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.wake.set()
                    async for _notice in conn.notifies():
                        self.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed("LISTEN connection lost; reconnecting", exc)
                await self._pause(1.0)

    async def _schedule_loop(self) -> None:
        while not self._stopping:
            try:
                await scheduler.fire_due_schedules(self.database, self.settings)
            except Exception as exc:
                self._failed("scheduler tick failed", exc)
            await self._pause(scheduler.TICK_SECONDS)

    def _failed(self, what: str, exc: Exception) -> None:
        """A database outage is logged once, by `Availability`, not per loop pass;
        anything else with its trace."""
        if self.database.availability.report(exc) is None:
            self.log.opt(exception=exc).error(what)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when the worker is asked to stop."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stop_requested.wait()


async def last_heartbeat_on(database: Database, hostname: str) -> datetime | None:
    """The newest heartbeat of a worker on `hostname` (a container's own name):
    `botskis worker-health` compares it with the lease."""
    async with database.transaction() as session:
        beat: datetime | None = await session.scalar(
            select(func.max(Worker.last_heartbeat)).where(Worker.hostname == hostname[:200])
        )
        return beat


async def run_worker_process(settings: Settings) -> None:
    """`botskis worker`: one executor until SIGTERM or SIGINT, then a graceful stop."""
    import signal

    from botskis.core.logging import setup_logging
    from botskis.realtime.bus import create_bus
    from botskis.realtime.sink import attach

    setup_logging(settings)
    database = Database(settings)
    bus = create_bus(settings)
    await bus.start()
    attach(database, bus)
    worker = RunWorker(database, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await worker.start()
        # Start-up objects live as long as the process: no collection walks them.
        gc.freeze()
        await stop.wait()
    finally:
        await worker.stop()
        await bus.stop()
        await database.dispose()
