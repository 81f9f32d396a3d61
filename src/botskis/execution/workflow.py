"""The workflow language templates are written in, shared by the template loader
(validation at start-up) and the engine (execution).

A workflow is an ordered list of steps. Each step has an `id`, a `kind` (a key
of the step registry), `params` rendered at run time (see `rendering`), an
optional `when` expression, an optional `foreach` expression and a retry policy.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

StepId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class RetryPolicy(BaseModel):
    """Transient failures are retried with exponential backoff and jitter."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=3, ge=1, le=10)
    backoff_seconds: float = Field(default=1.0, ge=0, le=300)
    max_backoff_seconds: float = Field(default=60.0, ge=0, le=3600)


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: StepId
    kind: str
    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    # A Jinja2 expression (no braces); the step is skipped when it is falsy.
    when: str | None = None
    # A Jinja2 expression giving a list; params render once per `item`.
    foreach: str | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeout_seconds: float | None = Field(default=None, gt=0, le=900)


class Workflow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[Step] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique_ids(self) -> Workflow:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"duplicate step id {step.id!r}")
            seen.add(step.id)
        return self
