"""The executor: claims queued runs from the database and executes them.

The queue is the `runs` table itself. A worker claims runs inside one short
transaction that holds a claim lock (a PostgreSQL advisory lock; on SQLite the
single writer lock), so the per-agent limit (`agents.max_concurrent_runs`) and
the per-user cap (`USER_MAX_CONCURRENT_RUNS`) hold across every process.
A claimed run carries a lease that the worker's heartbeat extends; when a
worker dies its leases expire and any live worker puts those runs back in the
queue, where they resume from their last checkpoint.

Workers sleep until woken: a committed run wakes the workers of the same
process directly and other processes through PostgreSQL `LISTEN/NOTIFY`; a
slow poll (`WORKER_POLL_SECONDS`) is only the safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from loguru import logger
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents.models import Agent
from botskis.analytics.rollups import add_finished_runs, finished_run
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.execution import healing, scheduler
from botskis.execution.engine import ClaimedRun, RunExecution
from botskis.execution.outbound import create_client
from botskis.monitoring.fingerprints import error_fingerprint
from botskis.queue.wakeup import CHANNEL, local_wake_events, wake_workers_after_commit
from botskis.queue.writer import RunWriter
from botskis.runs.models import Run, RunStatus, RunStep, Worker
from botskis.runs.retention import retention_loop
from botskis.runs.service import elapsed_ms, run_update

# Arbitrary constant naming the claim lock among PostgreSQL advisory locks.
CLAIM_LOCK_KEY = 0x626F74736B6973
CLAIM_SCAN = 500
# A run whose worker died this many times is failed instead of retried forever.
MAX_RUN_ATTEMPTS = 5
STOP_GRACE_SECONDS = 2.0


def new_worker_id() -> str:
    return f"{socket.gethostname()[:60]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


async def _take_claim_lock(session: AsyncSession, worker_id: str | None) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK_KEY})
    else:
        # A write first makes SQLite take its writer lock now, not halfway through.
        await session.execute(
            update(Worker).where(Worker.id == (worker_id or "")).values(last_heartbeat=utcnow())
        )


async def claim_runs(
    database: Database, settings: Settings, worker_id: str, limit: int
) -> list[ClaimedRun]:
    """Atomically move up to `limit` eligible queued runs to `running` for this
    worker, loading with them what executing them needs."""
    async with database.transaction() as session:
        await _take_claim_lock(session, worker_id)
        candidates = (
            await session.execute(
                select(Run.id, Run.agent_id, Run.owner_id, Agent.max_concurrent_runs)
                .join(Agent, Agent.id == Run.agent_id)
                .where(Run.status == RunStatus.QUEUED)
                .order_by(Run.queued_at, Run.id)
                .limit(CLAIM_SCAN)
            )
        ).all()
        if not candidates:
            return []
        agent_ids = {c.agent_id for c in candidates}
        owner_ids = {c.owner_id for c in candidates}
        running_per_agent: dict[uuid.UUID, int] = {
            agent_id: count
            for agent_id, count in await session.execute(
                select(Run.agent_id, func.count())
                .where(Run.status == RunStatus.RUNNING, Run.agent_id.in_(agent_ids))
                .group_by(Run.agent_id)
            )
        }
        running_per_owner: dict[uuid.UUID, int] = {
            owner_id: count
            for owner_id, count in await session.execute(
                select(Run.owner_id, func.count())
                .where(Run.status == RunStatus.RUNNING, Run.owner_id.in_(owner_ids))
                .group_by(Run.owner_id)
            )
        }
        picked: list[Any] = []
        for c in candidates:
            if len(picked) >= limit:
                break
            if running_per_agent.get(c.agent_id, 0) >= max(1, c.max_concurrent_runs):
                continue
            if running_per_owner.get(c.owner_id, 0) >= settings.user_max_concurrent_runs:
                continue
            running_per_agent[c.agent_id] = running_per_agent.get(c.agent_id, 0) + 1
            running_per_owner[c.owner_id] = running_per_owner.get(c.owner_id, 0) + 1
            picked.append(c)
        if not picked:
            return []
        now = utcnow()
        ids = [c.id for c in picked]
        runs = list(
            await session.scalars(
                update(Run)
                .where(Run.id.in_(ids), Run.status == RunStatus.QUEUED)
                .values(
                    status=RunStatus.RUNNING,
                    worker_id=worker_id,
                    lease_expires_at=now + timedelta(seconds=settings.worker_lease_seconds),
                    attempts=Run.attempts + 1,
                    started_at=func.coalesce(Run.started_at, now),
                )
                .returning(Run)
                .execution_options(synchronize_session=False)
            )
        )
        # In queue order: RETURNING promises none.
        position = {run_id: index for index, run_id in enumerate(ids)}
        runs.sort(key=lambda run: position[run.id])
        agents = {
            agent.id: agent
            for agent in await session.scalars(
                select(Agent).where(Agent.id.in_({run.agent_id for run in runs}))
            )
        }
        # Only a run picked up before (a crash, a lost lease) can have checkpoints.
        resumed = [run.id for run in runs if run.attempts > 1]
        checkpoints: dict[uuid.UUID, dict[str, RunStep]] = {run_id: {} for run_id in ids}
        if resumed:
            for record in await session.scalars(select(RunStep).where(RunStep.run_id.in_(resumed))):
                checkpoints[record.run_id][record.step_id] = record
        for run in runs:
            run_update(session, run)
        # A run's agent exists: deleting an agent deletes its runs (ON DELETE CASCADE).
        return [ClaimedRun(run, agents[run.agent_id], checkpoints[run.id]) for run in runs]


async def reclaim_expired(database: Database, settings: Settings) -> int:
    """Put runs whose worker stopped heartbeating back in the queue; fail those
    past their timeout or that already killed too many workers."""
    now = utcnow()
    async with database.transaction() as session:
        await _take_claim_lock(session, None)
        expired = list(
            await session.scalars(
                select(Run)
                .where(Run.status == RunStatus.RUNNING, Run.lease_expires_at < now)
                .limit(500)
                .with_for_update(skip_locked=True)
            )
        )
        if not expired:
            return 0
        timeouts: dict[uuid.UUID, int] = {
            agent_id: timeout
            for agent_id, timeout in await session.execute(
                select(Agent.id, Agent.timeout_seconds).where(
                    Agent.id.in_({r.agent_id for r in expired})
                )
            )
        }
        failed: list[Run] = []
        for run in expired:
            timeout = timeouts.get(run.agent_id, 900)
            started = run.started_at or now
            past_timeout = now > started + timedelta(seconds=timeout)
            if past_timeout or run.attempts >= MAX_RUN_ATTEMPTS:
                kind = "timeout" if past_timeout else "crashed"
                message = (
                    f"the run exceeded the agent's timeout of {timeout} s"
                    if past_timeout
                    else f"the worker executing this run stopped {run.attempts} times"
                )
                run.status = RunStatus.FAILED
                run.error_kind = kind
                run.error_message = message
                run.error_fingerprint = error_fingerprint(kind, message, None, run.template_slug)
                run.finished_at = now
                run.duration_ms = elapsed_ms(started, now)
                run.worker_id = None
                run.lease_expires_at = None
                await session.flush()
                run_update(session, run, error_kind=kind, error_message=message)
                failed.append(run)
            else:
                logger.bind(run_id=str(run.id), worker_id=run.worker_id).warning(
                    "lease expired; run returned to the queue"
                )
                run.status = RunStatus.QUEUED
                run.worker_id = None
                run.lease_expires_at = None
                await session.flush()
                run_update(session, run)
        await healing.record_outcomes(session, settings, failed)
        await add_finished_runs(
            session,
            [finished_run(run) for run in failed],
            price_per_million_tokens=settings.llm_price_per_million_tokens,
        )
        await wake_workers_after_commit(session)
        return len(expired)


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
        ]
        if self.database.engine.dialect.name == "postgresql":
            self._loops.append(asyncio.create_task(self._listen_loop(), name="worker-listen"))
        if self.run_scheduler:
            self._loops.append(asyncio.create_task(self._schedule_loop(), name="worker-schedule"))
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
        self.running[run_id] = task

        def _done(finished: asyncio.Task[None]) -> None:
            self.running.pop(run_id, None)
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
        await stop.wait()
    finally:
        await worker.stop()
        await bus.stop()
        await database.dispose()
