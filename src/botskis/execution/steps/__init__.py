"""The step engine: step kinds and `execute_step`, one attempt of one step.

Public interface (stable; the run engine and the template loader use it):
`STEP_KINDS`, `execute_step`, `validate_step`, `StepContext`, `StepResult`,
`StepFailure`, `RunStopped`, `StepKind`, `cap_output`. See `execute` for what one
attempt does and what it leaves to the caller.
"""

from botskis.execution.steps.base import (
    RunStopped,
    StepContext,
    StepFailure,
    StepKind,
    StepResult,
    cap_output,
)
from botskis.execution.steps.execute import STEP_KINDS, execute_step, validate_step

__all__ = [
    "STEP_KINDS",
    "RunStopped",
    "StepContext",
    "StepFailure",
    "StepKind",
    "StepResult",
    "cap_output",
    "execute_step",
    "validate_step",
]
