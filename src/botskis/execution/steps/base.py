"""What every step kind shares: its context, its result and its protocol.

A kind is an object with a `name`, a static `validate_params(raw_params)` (run by
the template loader before anything renders) and `async run(params, ctx)`, which
receives already-rendered params and performs ONE attempt. It returns a
`StepResult`, raises `StepFailure` (transient or permanent) or, for `filter`,
`RunStopped`. Adding a kind is a new module and one line in `STEP_KINDS`.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from botskis.config import Settings
from botskis.execution.errors import RunStopped, StepFailure
from botskis.runs.models import StepStatus

__all__ = [
    "CredentialLookup",
    "Notifier",
    "RunStopped",
    "StepContext",
    "StepFailure",
    "StepKind",
    "StepResult",
    "cap_output",
    "is_template",
    "missing_credential",
    "require",
    "unknown_params",
]

# `credential(kind)` -> the owner's decrypted secret of that kind, or None.
CredentialLookup = Callable[[str], Awaitable[dict[str, Any] | None]]
# `notify(level, title, message)` -> the id of the stored notification.
Notifier = Callable[[str, str, str], Awaitable[str]]


@dataclass
class StepContext:
    """Everything a step may use; built by the run engine for each run.

    `variables` is the render context: `input`, `config`, `steps` (``{id:
    {"output": ..., "status": ...}}`` of finished steps) and `now`. `http` is the
    shared outbound client from `runtime.outbound.create_client` (SSRF-safe,
    size-capped); the engine owns and closes it.
    """

    settings: Settings
    run_id: uuid.UUID
    agent_id: uuid.UUID
    owner_id: uuid.UUID
    variables: dict[str, Any]
    credential: CredentialLookup
    notify: Notifier
    http: httpx.AsyncClient


@dataclass
class StepResult:
    """The outcome of one successful (or skipped) attempt.

    `output` is JSON-compatible and capped to STEP_OUTPUT_MAX_BYTES by
    `execute_step`, so what later steps read equals what the engine stores.
    `tokens` is the total LLM token count (None for kinds that use no LLM);
    `usage` breaks it down into prompt/completion/total.
    """

    output: Any = None
    skipped: bool = False
    reason: str | None = None
    tokens: int | None = None
    usage: dict[str, int] | None = field(default=None)

    @property
    def status(self) -> StepStatus:
        return StepStatus.SKIPPED if self.skipped else StepStatus.SUCCEEDED


class StepKind(Protocol):
    name: str

    def validate_params(self, params: Mapping[str, Any]) -> list[str]:
        """Problems visible before rendering (missing keys, bad literals)."""
        ...

    async def run(self, params: dict[str, Any], ctx: StepContext) -> StepResult: ...


def require(params: Mapping[str, Any], *keys: str) -> list[str]:
    return [f"params.{key} is required" for key in keys if params.get(key) in (None, "")]


def unknown_params(params: Mapping[str, Any], allowed: frozenset[str]) -> list[str]:
    """A misspelt key would be silently ignored at run time; report it instead."""
    return [
        f"params.{key} is not a parameter of this step (expected: {', '.join(sorted(allowed))})"
        for key in params
        if key not in allowed
    ]


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def missing_credential(kind: str, hint: str = "") -> StepFailure:
    extra = f" {hint}" if hint else ""
    return StepFailure(
        f"this step needs a {kind!r} credential; add one under Credentials{extra}",
        kind="missing_credential",
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def cap_output(value: Any, max_bytes: int) -> Any:
    """`value` as plain JSON data, or a truncated preview when it is too large.

    NaN and infinities (which `json.loads` accepts from an LLM but a database's
    JSON type does not) become null.
    """
    try:
        encoded = json.dumps(value, default=str, ensure_ascii=False, allow_nan=False)
    except ValueError:
        encoded = json.dumps(_finite(value), default=str, ensure_ascii=False)
    size = len(encoded.encode())
    if size <= max_bytes:
        return json.loads(encoded)
    preview = encoded.encode()[: max_bytes // 2].decode(errors="ignore")
    return {"truncated": True, "size_bytes": size, "preview": preview}
