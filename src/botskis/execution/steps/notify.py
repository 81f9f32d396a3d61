"""`notify`: a notification to the agent's owner (stored, and pushed over the
WebSocket by whatever `ctx.notify` the run engine wires in)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botskis.execution.steps.base import (
    StepContext,
    StepFailure,
    StepResult,
    is_template,
    require,
    unknown_params,
)

LEVELS = ("info", "success", "warning", "error")
MAX_TITLE_CHARS = 200
MAX_MESSAGE_CHARS = 4000

PARAMS = frozenset({"level", "title", "message"})


class NotifyStep:
    name = "notify"

    def validate_params(self, params: Mapping[str, Any]) -> list[str]:
        problems = require(params, "title", "message")
        level = params.get("level", "info")
        if not is_template(level) and level not in LEVELS:
            problems.append(f"params.level must be one of {', '.join(LEVELS)}")
        return problems + unknown_params(params, PARAMS)

    async def run(self, params: dict[str, Any], ctx: StepContext) -> StepResult:
        level = str(params.get("level") or "info").lower()
        if level not in LEVELS:
            raise StepFailure(
                f"notify level {level!r} is not one of {', '.join(LEVELS)}", kind="invalid_config"
            )
        title = str(params["title"]).strip()[:MAX_TITLE_CHARS]
        message = str(params["message"]).strip()[:MAX_MESSAGE_CHARS]
        if not title:
            raise StepFailure("notify title rendered empty", kind="invalid_config")
        notification_id = await ctx.notify(level, title, message)
        return StepResult(output={"notification_id": notification_id, "level": level})
