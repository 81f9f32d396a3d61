"""`execute_step`: ONE attempt of one step — the interface the run engine builds on.

For a step and a context it:
1. evaluates `when` against `ctx.variables`; falsy -> a skipped result;
2. evaluates `foreach` (a list, at most FOREACH_MAX items, else a permanent
   failure) and renders params once per item with `item` and `index` in scope;
3. renders params (a render error is a permanent failure naming the expression);
4. calls the kind once per rendering and returns its result (a list of outputs
   for `foreach`, tokens summed), the output capped to STEP_OUTPUT_MAX_BYTES.

It raises `StepFailure` (check `.transient`, `.retry_after`, `.kind`) or
`RunStopped`. It never retries, sleeps between attempts, records anything or
enforces `step.timeout_seconds`: retries, timeouts, checkpoints and run state
belong to the run engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botskis.execution.rendering import (
    RenderError,
    check_expression,
    check_template,
    evaluate,
    iter_templates,
    render_value,
)
from botskis.execution.steps.base import StepContext, StepFailure, StepKind, StepResult, cap_output
from botskis.execution.steps.email import EmailStep
from botskis.execution.steps.filter import FilterStep, is_truthy
from botskis.execution.steps.http import HttpStep
from botskis.execution.steps.llm import LlmStep
from botskis.execution.steps.notify import NotifyStep
from botskis.execution.steps.transform import TransformStep
from botskis.execution.workflow import Step

STEP_KINDS: dict[str, StepKind] = {
    kind.name: kind
    for kind in (LlmStep(), HttpStep(), EmailStep(), TransformStep(), FilterStep(), NotifyStep())
}


def _render_failure(step: Step, where: str, exc: RenderError) -> StepFailure:
    return StepFailure(f"step {step.id!r} {where}: {exc}", kind="render")


def validate_step(step: Step) -> list[str]:
    """Everything checkable before a run: the kind exists, its params are
    complete, and every template and expression parses."""
    kind = STEP_KINDS.get(step.kind)
    if kind is None:
        return [f"unknown step kind {step.kind!r} (known: {', '.join(sorted(STEP_KINDS))})"]
    problems = list(kind.validate_params(step.params))
    for text in iter_templates(step.params):
        try:
            check_template(text)
        except RenderError as exc:
            problems.append(str(exc))
    for name, expression in (("when", step.when), ("foreach", step.foreach)):
        if expression is not None:
            try:
                check_expression(expression)
            except RenderError as exc:
                problems.append(f"{name}: {exc}")
    return problems


async def execute_step(step: Step, ctx: StepContext) -> StepResult:
    kind = STEP_KINDS.get(step.kind)
    if kind is None:
        raise StepFailure(f"unknown step kind {step.kind!r}", kind="invalid_config")
    variables: Mapping[str, Any] = ctx.variables
    if step.when is not None:
        try:
            condition = evaluate(step.when, variables)
        except RenderError as exc:
            raise _render_failure(step, "when", exc) from None
        if not is_truthy(condition):
            return StepResult(skipped=True, reason=f"condition {step.when!r} was false")

    max_bytes = ctx.settings.step_output_max_bytes
    if step.foreach is None:
        try:
            params = render_value(step.params, variables)
        except RenderError as exc:
            raise _render_failure(step, "params", exc) from None
        result = await kind.run(params, ctx)
        result.output = cap_output(result.output, max_bytes)
        return result

    items = _foreach_items(step, variables, ctx.settings.foreach_max)
    outputs: list[Any] = []
    tokens: int | None = None
    usage: dict[str, int] | None = None
    for index, item in enumerate(items):
        scope = {**variables, "item": item, "index": index}
        try:
            params = render_value(step.params, scope)
        except RenderError as exc:
            raise _render_failure(step, f"params (item {index})", exc) from None
        result = await kind.run(params, ctx)
        outputs.append(result.output)
        if result.tokens is not None:
            tokens = (tokens or 0) + result.tokens
        if result.usage is not None:
            usage = usage or {}
            for key, value in result.usage.items():
                usage[key] = usage.get(key, 0) + value
    return StepResult(output=cap_output(outputs, max_bytes), tokens=tokens, usage=usage)


def _foreach_items(step: Step, variables: Mapping[str, Any], limit: int) -> list[Any]:
    assert step.foreach is not None
    try:
        items = evaluate(step.foreach, variables)
    except RenderError as exc:
        raise _render_failure(step, "foreach", exc) from None
    if items is None:
        return []
    if isinstance(items, Mapping):
        items = list(items.items())
    if isinstance(items, str | bytes) or not isinstance(items, list | tuple):
        raise StepFailure(
            f"step {step.id!r} foreach {step.foreach!r} gave {type(items).__name__}, not a list",
            kind="invalid_config",
        )
    if len(items) > limit:
        raise StepFailure(
            f"step {step.id!r} foreach {step.foreach!r} gave {len(items)} items;"
            f" the limit is {limit} (FOREACH_MAX)",
            kind="foreach_limit",
        )
    return list(items)
