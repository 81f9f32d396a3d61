"""`filter`: end the run early, successfully, when `condition` is false.

`condition` is usually one expression (``"{{ input.amount > 100 }}"``), which
renders to a native boolean. A condition that renders to text counts as false
when it reads false, no, off, none, null, 0 or is empty, so
``"{{ a }} and {{ b }}"`` style text does not pass by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botskis.execution.steps.base import RunStopped, StepContext, StepResult, unknown_params

FALSE_WORDS = frozenset({"", "false", "no", "off", "none", "null", "0"})

PARAMS = frozenset({"condition", "reason"})


def is_truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in FALSE_WORDS
    return bool(value)


class FilterStep:
    name = "filter"

    def validate_params(self, params: Mapping[str, Any]) -> list[str]:
        problems = [] if "condition" in params else ["params.condition is required"]
        reason = params.get("reason")
        if reason is not None and not isinstance(reason, str):
            problems.append("params.reason must be a string")
        return problems + unknown_params(params, PARAMS)

    async def run(self, params: dict[str, Any], ctx: StepContext) -> StepResult:
        if not is_truthy(params["condition"]):
            raise RunStopped(str(params.get("reason") or "filter condition was false"))
        return StepResult(output={"passed": True})
