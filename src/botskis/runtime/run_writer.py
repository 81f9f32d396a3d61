"""Group commit of the runs a worker executes: checkpoints and finishes.

Each run used to commit its own checkpoints and its finish, so a worker paid a
pool checkout, a round trip per statement and a WAL flush for every run. Here a
run hands its write (step records, and for a finish the run's final values) to
the worker's `RunWriter` and awaits it; the writer commits everything that
queued up while its previous transaction was in flight in ONE transaction:
one statement proves which runs this worker still holds, then one statement
each for the final values, the step records and the events of the whole batch.

A run's write is durable when its `write` returns, exactly as before. A run
that this worker no longer holds (cancelled, or reclaimed after a lost lease)
gets `LeaseLost` and nothing of it is written. If a batch fails, each write is
retried in a transaction of its own, so one bad row (say, an output PostgreSQL
refuses) fails only its own run.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.runs.models import Run, RunStep
from botskis.runs.service import run_update
from botskis.runtime import healing
from botskis.runtime.wakeup import wake_workers_after_commit

# Core tables: executemany with plain dicts, none of the ORM's per-object work.
RUNS: Table = Run.__table__  # type: ignore[assignment]
RUN_STEPS: Table = RunStep.__table__  # type: ignore[assignment]
# Enough to amortise a commit; small enough that one transaction stays short.
MAX_BATCH = 256
# The run columns a finish sets, each bound per run in one executemany UPDATE.
FINAL_COLUMNS = (
    "status",
    "finished_at",
    "duration_ms",
    "error_kind",
    "error_message",
    "error_step",
    "error_fingerprint",
    "stopped_reason",
    "auto_healed",
)


class LeaseLost(Exception):
    """The run was cancelled or reclaimed by another worker; stop quietly."""


@dataclass
class RunWrite:
    """One run's step records and, for a finish, its final column values."""

    run: Run
    records: list[dict[str, Any]]
    final: dict[str, Any] | None = None
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class RunWriter:
    """Commits the writes of one worker's runs in shared transactions."""

    def __init__(self, database: Database, settings: Settings, worker_id: str) -> None:
        self.database = database
        self.settings = settings
        self.worker_id = worker_id
        self._queue: list[RunWrite] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="worker-run-writer")

    async def stop(self) -> None:
        """Stop after the writes already queued; later ones fail with LeaseLost."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for write in self._queue:
            if not write.done.done():
                write.done.set_exception(LeaseLost())
        self._queue = []

    async def write(self, write: RunWrite) -> None:
        """Queue the write and return once it is committed; `LeaseLost` when this
        worker no longer holds the run."""
        if self._task is None:
            raise LeaseLost()
        self._queue.append(write)
        self._wake.set()
        await write.done

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    await self._commit(batch)
                except asyncio.CancelledError:
                    self._queue = batch + self._queue
                    raise
                except Exception as exc:
                    if len(batch) == 1:
                        self._fail(batch, exc)
                        continue
                    for write in batch:
                        try:
                            await self._commit([write])
                        except asyncio.CancelledError:
                            raise
                        except Exception as alone:
                            self._fail([write], alone)

    async def _commit(self, batch: list[RunWrite]) -> None:
        async with self.database.transaction() as session:
            held = await self._hold(session, batch)
            await self._write(session, [w for w in batch if w.run.id in held])
        self._settle(batch, held)

    @staticmethod
    def _settle(batch: list[RunWrite], held: set[uuid.UUID]) -> None:
        for write in batch:
            if write.done.done():
                continue
            if write.run.id in held:
                write.done.set_result(None)
            else:
                write.done.set_exception(LeaseLost())

    @staticmethod
    def _fail(batch: list[RunWrite], error: Exception) -> None:
        """The run's task sees the error: it crashes and its lease expires, so the
        run is retried from its last checkpoint."""
        for write in batch:
            if not write.done.done():
                write.done.set_exception(error)

    async def _hold(self, session: AsyncSession, batch: list[RunWrite]) -> set[uuid.UUID]:
        """Extend the lease of every run in the batch this worker still holds
        (locking their rows) and return their ids."""
        lease = utcnow() + timedelta(seconds=self.settings.worker_lease_seconds)
        held = await session.scalars(
            update(Run)
            .where(
                Run.id.in_([write.run.id for write in batch]),
                Run.status == "running",
                Run.worker_id == self.worker_id,
            )
            .values(lease_expires_at=lease)
            .returning(Run.id)
            .execution_options(synchronize_session=False)
        )
        return set(held)

    async def _write(self, session: AsyncSession, writes: list[RunWrite]) -> None:
        finals = [w for w in writes if w.final is not None]
        healed = [w for w in writes if w.final is None and w.run.auto_healed]
        if finals:
            await session.execute(
                update(RUNS)
                .where(RUNS.c.id == bindparam("b_id"))
                .values(
                    {
                        **{name: bindparam(f"b_{name}") for name in FINAL_COLUMNS},
                        "worker_id": None,
                        "lease_expires_at": None,
                    }
                ),
                [
                    {"b_id": w.run.id, **{f"b_{k}": v for k, v in (w.final or {}).items()}}
                    for w in finals
                ],
            )
        if healed:
            await session.execute(
                update(RUNS).where(RUNS.c.id == bindparam("b_id")).values(auto_healed=True),
                [{"b_id": w.run.id} for w in healed],
            )
        records = [record for w in writes for record in w.records]
        if records:
            await session.execute(insert(RUN_STEPS), records)
        for w in writes:
            for record in w.records:
                run_update(
                    session, w.run, step={"id": record["step_id"], "status": record["status"]}
                )
        for w in finals:
            final = w.final or {}
            w.run.status = final["status"]
            w.run.error_kind = final["error_kind"]
            w.run.error_message = final["error_message"]
            run_update(
                session,
                w.run,
                duration_ms=final["duration_ms"],
                error_kind=final["error_kind"],
                error_message=final["error_message"],
            )
        await healing.record_outcomes(session, self.settings, [w.run for w in finals])
        if finals:
            # Slots (per agent, per user) opened: queued runs may now start.
            await wake_workers_after_commit(session)
