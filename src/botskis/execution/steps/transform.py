"""`transform`: compute values for later steps; the output is `values`, rendered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botskis.execution.steps.base import StepContext, StepResult, unknown_params

PARAMS = frozenset({"values"})


class TransformStep:
    name = "transform"

    def validate_params(self, params: Mapping[str, Any]) -> list[str]:
        problems = [] if "values" in params else ["params.values is required"]
        return problems + unknown_params(params, PARAMS)

    async def run(self, params: dict[str, Any], ctx: StepContext) -> StepResult:
        return StepResult(output=params["values"])
