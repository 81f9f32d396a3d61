"""The run lifecycle: execute a claimed run step by step, durably.

Each step is attempted through the step engine (`steps.execute_step`, one
attempt), retried here when its failure is transient, and checkpointed in
`run_steps` when it finishes. A run resumed after a crash skips the steps that
have a checkpoint, so their side effects are not repeated. Writes go through
the worker's `RunWriter` (group commit) and are conditional on this worker
still holding the run: a run that was cancelled or reclaimed (lease lost)
stops at its next checkpoint.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from loguru import logger

from botskis.agents.models import Agent
from botskis.config import Settings
from botskis.core.errors import AppError
from botskis.credentials.service import get_secret
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.execution.errors import RunStopped, StepFailure
from botskis.execution.steps import execute_step
from botskis.execution.steps.base import StepContext
from botskis.execution.workflow import RetryPolicy, Step, Workflow
from botskis.monitoring.fingerprints import error_fingerprint
from botskis.notifications.service import create_notification
from botskis.queue.writer import LeaseLost, RunEnding, RunFinal, RunWrite, RunWriter
from botskis.runs.models import Run, RunStatus, RunStep, StepStatus
from botskis.runs.service import elapsed_ms

MAX_ERROR_CHARS = 2000
# Steps without side effects: recomputing them after a crash is harmless, so
# their records wait for the next checkpoint instead of costing a commit each.
PURE_KINDS = frozenset({"transform", "filter"})


@dataclass
class StepOutcome:
    status: StepStatus
    attempts: int
    output: Any = None
    tokens: int | None = None
    error_kind: str | None = None
    error_message: str | None = None
    healed: bool = False
    started_at: Any = field(default_factory=utcnow)


def backoff_delay(policy: RetryPolicy, attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter in the upper half; `Retry-After` wins
    when it asks for longer (capped by the policy's maximum)."""
    base = min(policy.max_backoff_seconds, policy.backoff_seconds * (2 ** (attempt - 1)))
    delay = random.uniform(base / 2, base) if base > 0 else 0.0
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.max_backoff_seconds))
    return delay


async def attempt_step(step: Step, ctx: StepContext) -> StepOutcome:
    """Run one step to its outcome, retrying transient failures per its policy."""
    started = utcnow()
    attempt = 1
    healed = False
    while True:
        try:
            if step.timeout_seconds is not None:
                async with asyncio.timeout(step.timeout_seconds):
                    result = await execute_step(step, ctx)
            else:
                result = await execute_step(step, ctx)
        except RunStopped as stop:
            return StepOutcome(
                StepStatus.STOPPED, attempt, output={"reason": stop.reason}, started_at=started
            )
        except (StepFailure, TimeoutError) as exc:
            failure = (
                exc
                if isinstance(exc, StepFailure)
                else StepFailure(
                    f"step timed out after {step.timeout_seconds} s", kind="timeout", transient=True
                )
            )
            if failure.transient and attempt < step.retry.max_attempts:
                delay = backoff_delay(step.retry, attempt, failure.retry_after)
                logger.bind(step=step.id, attempt=attempt, delay=round(delay, 3)).info(
                    "transient step failure, retrying: {}", str(failure)[:200]
                )
                await asyncio.sleep(delay)
                attempt += 1
                healed = True
                continue
            return StepOutcome(
                StepStatus.FAILED,
                attempt,
                error_kind=failure.kind,
                error_message=str(failure)[:MAX_ERROR_CHARS],
                started_at=started,
            )
        except Exception:
            logger.bind(step=step.id).exception("step crashed")
            return StepOutcome(
                StepStatus.FAILED,
                attempt,
                error_kind="internal",
                error_message="the step failed with an internal error; see the server log",
                started_at=started,
            )
        return StepOutcome(
            result.status,
            attempt,
            output=result.output,
            tokens=getattr(result, "tokens", None),
            healed=healed,
            started_at=started,
        )


@dataclass
class ClaimedRun:
    """A run as its claim left it, with what executing it needs: loaded in the
    claiming transaction so a run costs no query of its own before it starts."""

    run: Run
    agent: Agent
    # Step records of earlier attempts, by step id (empty on a first attempt).
    checkpoints: dict[str, RunStep]


class RunExecution:
    """One claimed run on one worker."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        writer: RunWriter,
        claimed: ClaimedRun,
        http: httpx.AsyncClient,
    ) -> None:
        self.database = database
        self.settings = settings
        self.writer = writer
        self.http = http
        self.claimed = claimed
        # Records of finished steps not yet committed (see PURE_KINDS).
        self.pending: list[dict[str, Any]] = []
        self.log = logger.bind(run_id=str(claimed.run.id), worker_id=writer.worker_id)

    async def execute(self) -> None:
        run, agent, done = self.claimed.run, self.claimed.agent, self.claimed.checkpoints
        started_at = run.started_at or utcnow()
        deadline = started_at + timedelta(seconds=agent.timeout_seconds)
        remaining = (deadline - utcnow()).total_seconds()
        try:
            workflow = Workflow.model_validate(run.workflow)
        except ValueError as exc:
            await self.finish(
                run,
                RunEnding(
                    RunStatus.FAILED, error_kind="invalid_workflow", error_message=str(exc)[:500]
                ),
            )
            return
        outputs: dict[str, Any] = {
            step_id: {"output": record.output, "status": record.status}
            for step_id, record in done.items()
        }
        ctx = self.context(run, agent, outputs)
        # How the run ends is decided under the deadline, but the finish is written
        # outside it: a finish still queued in the writer when the deadline passed
        # would otherwise be followed by a second one (`timeout`) for the same run.
        ending = RunEnding(RunStatus.SUCCEEDED)
        try:
            async with asyncio.timeout(max(remaining, 0.001)):
                for position, step in enumerate(workflow.steps):
                    record = done.get(step.id)
                    if record is not None and record.status in (
                        StepStatus.SUCCEEDED,
                        StepStatus.SKIPPED,
                    ):
                        continue
                    outcome = await attempt_step(step, ctx)
                    self.pending.append(self.record(run, step, position, outcome))
                    if outcome.healed:
                        run.auto_healed = True
                    if step.kind not in PURE_KINDS and outcome.status in (
                        StepStatus.SUCCEEDED,
                        StepStatus.SKIPPED,
                    ):
                        await self.checkpoint(run)
                    outputs[step.id] = {"output": outcome.output, "status": outcome.status}
                    if outcome.status == StepStatus.FAILED:
                        ending = RunEnding(
                            RunStatus.FAILED,
                            error_kind=outcome.error_kind,
                            error_message=outcome.error_message,
                            error_step=step.id,
                        )
                        break
                    if outcome.status == StepStatus.STOPPED:
                        reason = str((outcome.output or {}).get("reason") or "stopped by filter")
                        ending = RunEnding(RunStatus.SUCCEEDED, stopped_reason=reason[:500])
                        break
        except TimeoutError:
            ending = RunEnding(
                RunStatus.FAILED,
                error_kind="timeout",
                error_message=f"the run exceeded the agent's timeout of {agent.timeout_seconds} s",
            )
        except LeaseLost:
            self.log.info("run cancelled or reclaimed; stopping")
            return
        await self.finish(run, ending)

    def context(self, run: Run, agent: Agent, outputs: dict[str, Any]) -> StepContext:
        variables = {
            "input": run.input,
            "config": agent.config,
            "steps": outputs,
            "now": utcnow(),
        }
        return StepContext(
            settings=self.settings,
            run_id=run.id,
            agent_id=agent.id,
            owner_id=agent.owner_id,
            variables=variables,
            credential=self._credential_lookup(agent.owner_id),
            notify=self._notifier(agent.owner_id, agent.id),
            http=self.http,
        )

    def _credential_lookup(
        self, owner_id: uuid.UUID
    ) -> Callable[[str], Awaitable[dict[str, Any] | None]]:
        async def credential(kind: str) -> dict[str, Any] | None:
            try:
                async with self.database.transaction() as session:
                    return await get_secret(session, owner_id, kind, settings=self.settings)
            except AppError as exc:
                raise StepFailure(exc.detail, kind="missing_credential") from exc

        return credential

    def _notifier(
        self, owner_id: uuid.UUID, agent_id: uuid.UUID
    ) -> Callable[[str, str, str], Awaitable[str]]:
        async def notify(level: str, title: str, message: str) -> str:
            async with self.database.transaction() as session:
                notification = await create_notification(
                    session, owner_id, level=level, title=title, message=message, agent_id=agent_id
                )
                return str(notification.id)

        return notify

    @staticmethod
    def record(run: Run, step: Step, position: int, outcome: StepOutcome) -> dict[str, Any]:
        """A `run_steps` row, as the values the run writer inserts."""
        finished = utcnow()
        return {
            "id": uuid.uuid4(),
            "run_id": run.id,
            "step_id": step.id,
            "position": position,
            "kind": step.kind,
            "status": outcome.status,
            "attempts": outcome.attempts,
            "output": outcome.output,
            "error_kind": outcome.error_kind,
            "error_message": outcome.error_message,
            "tokens": outcome.tokens,
            "started_at": outcome.started_at,
            "finished_at": finished,
            "duration_ms": elapsed_ms(outcome.started_at, finished),
        }

    async def checkpoint(self, run: Run) -> None:
        """Commit the finished steps' records: a resumed run starts after them."""
        records, self.pending = self.pending, []
        await self.writer.write(RunWrite(run, records))

    async def finish(self, run: Run, ending: RunEnding) -> None:
        now = utcnow()
        duration = elapsed_ms(run.started_at or now, now)
        fingerprint = (
            error_fingerprint(
                ending.error_kind, ending.error_message, ending.error_step, run.template_slug
            )
            if ending.status == RunStatus.FAILED
            else None
        )
        records, self.pending = self.pending, []
        final = RunFinal(ending, now, duration, fingerprint, run.auto_healed)
        try:
            await self.writer.write(RunWrite(run, records, final))
        except LeaseLost:
            self.log.info("run cancelled or reclaimed before it finished")
            return
        self.log.bind(status=ending.status, duration_ms=duration).info("run finished")
