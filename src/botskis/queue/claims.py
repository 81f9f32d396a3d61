"""Claiming queued runs and reclaiming runs whose worker stopped heartbeating.

The queue is the `runs` table itself. A claim is one short transaction:

1. The oldest queued runs are read in queue order, `(queued_at, id)`, locking
   them with `FOR NO KEY UPDATE SKIP LOCKED`, so concurrent claimers take
   disjoint runs and never wait on one another's candidates. The partial index
   `ix_runs_queue` serves exactly this order, so a claim reads the few rows it
   needs however long the backlog is.
2. On PostgreSQL the claimer takes a transaction-level advisory lock per
   candidate agent and per candidate owner, all keys in one sorted order.
   Only claims take these locks, so two claims wait on each other only when
   they share an agent or an owner, and never in a cycle; nothing else ever
   waits on them. SQLite has one writer, taken first.
3. With those locks held, it counts the running runs of those agents and
   owners (a fresh snapshot, so every earlier claim of them is committed and
   counted) and moves to `running` only what keeps `agents.max_concurrent_runs`
   and `USER_MAX_CONCURRENT_RUNS` within bounds. Only a claim moves a run to
   `running`, so both limits are exact across any number of workers.

The claim also loads what executing a run needs (its row, its agent and, for
a resumed run, its checkpoints), so a run costs no query of its own to start.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

from loguru import logger
from sqlalchemy import Row, Select, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents.models import Agent
from botskis.analytics.rollups import add_finished_runs, finished_run
from botskis.config import Settings
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.execution import healing
from botskis.execution.engine import ClaimedRun
from botskis.monitoring.fingerprints import error_fingerprint
from botskis.queue.wakeup import wake_workers_after_commit
from botskis.runs.models import QUEUED, RUNNING, Run, RunStatus, RunStep, Worker
from botskis.runs.service import elapsed_ms, run_update

# How many queued runs one claim looks at, per run it may start (runs of agents
# or owners at their limit are passed over), and at most.
CLAIM_SCAN_PER_RUN = 4
CLAIM_SCAN_MIN = 32
CLAIM_SCAN_MAX = 500
RECLAIM_BATCH = 500
# A queued run as a claim sees it: id, agent id, owner id.
Candidate = Row[uuid.UUID, uuid.UUID, uuid.UUID]
# A run whose worker died this many times is failed instead of retried forever.
MAX_RUN_ATTEMPTS = 5


def claim_scan(limit: int) -> int:
    return min(CLAIM_SCAN_MAX, max(CLAIM_SCAN_MIN, CLAIM_SCAN_PER_RUN * limit))


def queued_candidates(scan: int) -> Select[uuid.UUID, uuid.UUID, uuid.UUID]:
    """The oldest `scan` queued runs, in queue order. The status is rendered into
    the SQL, not bound: only a literal lets SQLite (and a generic PostgreSQL plan)
    see that the partial index `ix_runs_queue` covers the query."""
    return (
        select(Run.id, Run.agent_id, Run.owner_id)
        .where(Run.status == QUEUED)
        .order_by(Run.queued_at, Run.id)
        .limit(scan)
    )


def running_counts(owner_ids: list[uuid.UUID]) -> Select[uuid.UUID, uuid.UUID, int]:
    """Running runs per (agent, owner) of these owners (their agents included).
    Grouped in `ix_runs_running`'s column order, so a sorted aggregate reads the
    index in order instead of sorting (PostgreSQL 15 does not reorder the keys)."""
    return (
        select(Run.agent_id, Run.owner_id, func.count())
        .where(Run.status == RUNNING, Run.owner_id.in_(owner_ids))
        .group_by(Run.owner_id, Run.agent_id)
    )


def limit_key(kind: bytes, object_id: uuid.UUID) -> int:
    """A signed 64-bit advisory lock key for one agent's or owner's limit."""
    digest = hashlib.blake2b(kind + object_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def _take_writer_lock(session: AsyncSession, worker_id: str | None) -> None:
    """SQLite: a write first makes it take its single writer lock now, not halfway
    through (where a second writer would get SQLITE_BUSY)."""
    await session.execute(
        update(Worker).where(Worker.id == (worker_id or "")).values(last_heartbeat=utcnow())
    )


async def _lock_limits(
    session: AsyncSession, agent_ids: set[uuid.UUID], owner_ids: set[uuid.UUID]
) -> None:
    """Serialise the claims that share an agent or an owner (PostgreSQL)."""
    keys = sorted(
        [limit_key(b"agent", agent_id) for agent_id in agent_ids]
        + [limit_key(b"owner", owner_id) for owner_id in owner_ids]
    )
    # unnest yields the sorted keys in array order: every claim locks in one order.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS BIGINT[])) AS k"),
        {"keys": keys},
    )


def _pick(
    candidates: Sequence[Candidate],
    agents: dict[uuid.UUID, Agent],
    running: Counter[uuid.UUID],
    limit: int,
    user_cap: int,
) -> list[Candidate]:
    """The candidates, in queue order, that fit their agent's and owner's limits;
    `running` (by agent id and by owner id) counts them in."""
    picked: list[Candidate] = []
    for c in candidates:
        if len(picked) >= limit:
            break
        agent = agents.get(c.agent_id)
        # A run's agent exists: deleting an agent deletes its runs (ON DELETE CASCADE).
        if agent is None or running[c.agent_id] >= max(1, agent.max_concurrent_runs):
            continue
        if running[c.owner_id] >= user_cap:
            continue
        running[c.agent_id] += 1
        running[c.owner_id] += 1
        picked.append(c)
    return picked


async def _start(
    session: AsyncSession, settings: Settings, worker_id: str, ids: list[uuid.UUID]
) -> list[Run]:
    """Move these runs to `running`, skipping any another transaction holds (a
    cancel, a deletion) or that is no longer queued; returns those it moved."""
    if not ids:
        return []
    now = utcnow()
    free = (
        select(Run.id)
        .where(Run.id.in_(ids), Run.status == RunStatus.QUEUED)
        .with_for_update(skip_locked=True, key_share=True)
    )
    return list(
        await session.scalars(
            update(Run)
            .where(Run.id.in_(free.scalar_subquery()))
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


async def claim_runs(
    database: Database, settings: Settings, worker_id: str, limit: int
) -> list[ClaimedRun]:
    """Atomically move up to `limit` eligible queued runs to `running` for this
    worker, loading with them what executing them needs."""
    async with database.transaction() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        if not postgres:
            await _take_writer_lock(session, worker_id)
        scan = queued_candidates(claim_scan(limit))
        candidates = (await session.execute(scan)).all()
        if not candidates:
            return []
        agent_ids = {c.agent_id for c in candidates}
        owner_ids = {c.owner_id for c in candidates}
        if postgres:
            await _lock_limits(session, agent_ids, owner_ids)
        # Counted under the locks: every earlier claim of these agents and owners
        # is committed, so it is counted. Agent and owner ids never collide (UUID4).
        running: Counter[uuid.UUID] = Counter()
        for agent_id, owner_id, count in await session.execute(running_counts(list(owner_ids))):
            running[agent_id] += count
            running[owner_id] += count
        agents = {
            agent.id: agent
            for agent in await session.scalars(select(Agent).where(Agent.id.in_(agent_ids)))
        }
        cap = settings.user_max_concurrent_runs
        picked = _pick(candidates, agents, running, limit, cap)
        runs = await _start(session, settings, worker_id, [c.id for c in picked])
        if len(runs) < len(picked):
            # Candidates read before the locks were taken by a claim that committed
            # meanwhile (it is counted above): pick again from a fresh read, among
            # the agents this claim holds.
            started = {run.id for run in runs}
            for c in picked:
                if c.id not in started:
                    running[c.agent_id] -= 1
                    running[c.owner_id] -= 1
            fresh = [c for c in (await session.execute(scan)).all() if c.agent_id in agents]
            again = _pick(fresh, agents, running, limit - len(runs), cap)
            runs += await _start(session, settings, worker_id, [c.id for c in again])
        if not runs:
            return []
        # In queue order: RETURNING promises none.
        runs.sort(key=lambda run: (run.queued_at, run.id))
        # Only a run picked up before (a crash, a lost lease) can have checkpoints.
        resumed = [run.id for run in runs if run.attempts > 1]
        checkpoints: dict[uuid.UUID, dict[str, RunStep]] = {run.id: {} for run in runs}
        if resumed:
            for record in await session.scalars(select(RunStep).where(RunStep.run_id.in_(resumed))):
                checkpoints[record.run_id][record.step_id] = record
        for run in runs:
            run_update(session, run)
        return [ClaimedRun(run, agents[run.agent_id], checkpoints[run.id]) for run in runs]


async def reclaim_expired(database: Database, settings: Settings) -> int:
    """Put runs whose worker stopped heartbeating back in the queue; fail those
    past their timeout or that already killed too many workers."""
    now = utcnow()
    async with database.transaction() as session:
        if session.get_bind().dialect.name != "postgresql":
            await _take_writer_lock(session, None)
        expired = list(
            await session.scalars(
                select(Run)
                .where(Run.status == RunStatus.RUNNING, Run.lease_expires_at < now)
                .limit(RECLAIM_BATCH)
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
