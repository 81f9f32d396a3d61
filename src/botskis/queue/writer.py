"""Group commit of the runs a worker executes: checkpoints and finishes.

Why: committing each run's checkpoints and finish on its own costs a pool
checkout, a round trip per statement and a WAL flush for every run. Instead a
run hands its write (step records, and for a finish the run's final values) to
the worker's `RunWriter` and awaits it; the writer commits everything that
queued up while its previous transaction was in flight in ONE transaction:
one statement proves which runs this worker still holds, then one statement
each for the final values, the step records and the events of the whole batch.

A run's write is durable when its `write` returns. A run that this worker no
longer holds (cancelled, or reclaimed after a lost lease) gets `LeaseLost` and
nothing of it is written. Holding means the attempt too: when a lease expires
under load, the same worker may reclaim and claim the run again while the old
execution still runs, and only the newest attempt may write (two attempts
writing the same step would break `uq_run_steps_run_step`). If a batch fails, each
write is retried in a transaction of its own, so one bad row (say, an output PostgreSQL
refuses) fails only its own run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from loguru import logger
from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.analytics.rollups import add_finished_runs, finished_run
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.execution import healing
from botskis.queue.wakeup import wake_workers_after_commit
from botskis.runs.models import Run, RunStatus, RunStep
from botskis.runs.service import run_update

# Core tables: executemany with plain dicts, none of the ORM's per-object work.
RUNS: Table = Run.__table__  # type: ignore[assignment]
RUN_STEPS: Table = RunStep.__table__  # type: ignore[assignment]
# Enough to amortise a commit; small enough that one transaction stays short.
MAX_BATCH = 256


class LeaseLost(Exception):
    """The run was cancelled or reclaimed by another worker; stop quietly."""


@dataclass(frozen=True)
class RunEnding:
    """How a run ended, as the engine decided it."""

    status: RunStatus  # SUCCEEDED or FAILED
    error_kind: str | None = None
    error_message: str | None = None
    error_step: str | None = None
    stopped_reason: str | None = None


@dataclass(frozen=True)
class RunFinal:
    """The columns a finish sets, bound per run in one executemany UPDATE."""

    ending: RunEnding
    finished_at: datetime
    duration_ms: int
    error_fingerprint: str | None
    auto_healed: bool

    def columns(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self.ending),
            "finished_at": self.finished_at,
            "duration_ms": self.duration_ms,
            "error_fingerprint": self.error_fingerprint,
            "auto_healed": self.auto_healed,
        }


FINAL_COLUMNS = (
    *(f.name for f in dataclasses.fields(RunEnding)),
    "finished_at",
    "duration_ms",
    "error_fingerprint",
    "auto_healed",
)


@dataclass
class RunWrite:
    """One run's step records and, for a finish, its final column values."""

    run: Run
    records: list[dict[str, Any]]
    final: RunFinal | None = None
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _holds(write: RunWrite, held: dict[uuid.UUID, int]) -> bool:
    """The write comes from the attempt this worker holds now, not an older one
    (each claim loads its own `Run` with the attempt it started)."""
    return held.get(write.run.id) == write.run.attempts


class RunWriter:
    """Commits the writes of one worker's runs in shared transactions."""

    def __init__(self, database: Database, settings: Settings, worker_id: str) -> None:
        self.database = database
        self.settings = settings
        self.worker_id = worker_id
        self._queue: list[RunWrite] = []
        self._wake = asyncio.Event()
        # Set while nothing is queued or being committed.
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="worker-run-writer")
        self._task.add_done_callback(self._loop_ended)

    async def stop(self, grace: float) -> None:
        """Commit what is queued or in flight (for up to `grace` seconds), then stop.
        Writes still queued after that, or submitted from now on, get `LeaseLost`:
        the worker hands those runs back to the queue, where they resume from
        their last committed checkpoint."""
        self._closing = True
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await self._idle.wait()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._fail(self._queue, LeaseLost())
        self._queue = []

    async def write(self, write: RunWrite) -> None:
        """Queue the write and return once it is committed; `LeaseLost` when this
        worker no longer holds the run (or is stopping)."""
        if self._closing:
            raise LeaseLost()
        if self._task is None or self._task.done():
            raise RuntimeError("the run writer is not running")
        self._queue.append(write)
        self._idle.clear()
        self._wake.set()
        await write.done

    def _loop_ended(self, task: asyncio.Task[None]) -> None:
        """A loop that died of a bug must not leave runs waiting forever: their
        tasks fail, so the worker stops extending their leases and another
        attempt resumes them."""
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        logger.opt(exception=error).error("the run writer stopped; runs will be retried")
        self._fail(self._queue, RuntimeError("the run writer stopped"))
        self._queue = []

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
                    await self._commit_one_by_one(batch, exc)
            self._idle.set()

    async def _commit_one_by_one(self, batch: list[RunWrite], error: Exception) -> None:
        """A failed batch: each write alone, so one refused row fails one run."""
        if len(batch) == 1:
            self._fail(batch, error)
            return
        for index, write in enumerate(batch):
            try:
                await self._commit([write])
            except asyncio.CancelledError:
                self._queue = batch[index:] + self._queue
                raise
            except Exception as alone:
                self._fail([write], alone)

    async def _commit(self, batch: list[RunWrite]) -> None:
        async with self.database.transaction() as session:
            held = await self._hold(session, batch)
            await self._write(session, [w for w in batch if _holds(w, held)])
        self._settle(batch, held)

    @staticmethod
    def _settle(batch: list[RunWrite], held: dict[uuid.UUID, int]) -> None:
        for write in batch:
            if write.done.done():
                continue
            if _holds(write, held):
                write.done.set_result(None)
            else:
                write.done.set_exception(LeaseLost())

    @staticmethod
    def _fail(batch: list[RunWrite], error: BaseException) -> None:
        """The run's task sees the error: it crashes and its lease expires, so the
        run is retried from its last checkpoint."""
        for write in batch:
            if not write.done.done():
                write.done.set_exception(error)

    async def _hold(self, session: AsyncSession, batch: list[RunWrite]) -> dict[uuid.UUID, int]:
        """Extend the lease of every run in the batch this worker still holds
        (locking their rows) and return their current attempts by id."""
        lease = utcnow() + timedelta(seconds=self.settings.worker_lease_seconds)
        held = await session.execute(
            update(Run)
            .where(
                Run.id.in_([write.run.id for write in batch]),
                Run.status == RunStatus.RUNNING,
                Run.worker_id == self.worker_id,
            )
            .values(lease_expires_at=lease)
            .returning(Run.id, Run.attempts)
            .execution_options(synchronize_session=False)
        )
        return {run_id: attempts for run_id, attempts in held.all()}

    async def _write(self, session: AsyncSession, writes: list[RunWrite]) -> None:
        finals = [(w.run, w.final) for w in writes if w.final is not None]
        healed = [w.run.id for w in writes if w.final is None and w.run.auto_healed]
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
                    {"b_id": run.id, **{f"b_{k}": v for k, v in final.columns().items()}}
                    for run, final in finals
                ],
            )
        if healed:
            await session.execute(
                update(RUNS).where(RUNS.c.id == bindparam("b_id")).values(auto_healed=True),
                [{"b_id": run_id} for run_id in healed],
            )
        records = [record for w in writes for record in w.records]
        if records:
            await session.execute(insert(RUN_STEPS), records)
        for w in writes:
            for record in w.records:
                # A step finishes while its run is running, whatever the run's
                # in-memory state says by the time a batch is retried.
                run_update(
                    session,
                    w.run,
                    status=RunStatus.RUNNING,
                    step={"id": record["step_id"], "status": record["status"]},
                )
        for run, final in finals:
            # The healing rules read the finished run.
            run.status = final.ending.status
            run.error_kind = final.ending.error_kind
            run.error_message = final.ending.error_message
            run_update(
                session,
                run,
                duration_ms=final.duration_ms,
                error_kind=run.error_kind,
                error_message=run.error_message,
            )
        await healing.record_outcomes(session, self.settings, [run for run, _ in finals])
        # Only runs this transaction proved it still holds get here: counted once.
        await add_finished_runs(
            session,
            [finished_run(run, final.columns()) for run, final in finals],
            price_per_million_tokens=self.settings.llm_price_per_million_tokens,
        )
        if finals:
            # Slots (per agent, per user) opened: queued runs may now start.
            await wake_workers_after_commit(session)
