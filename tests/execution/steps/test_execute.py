"""One attempt of one step: when, foreach, rendering, output caps, filter, notify."""

from __future__ import annotations

from typing import Any

import pytest

from botskis.execution.steps import (
    STEP_KINDS,
    RunStopped,
    StepFailure,
    execute_step,
    validate_step,
)
from botskis.execution.workflow import Step
from tests.execution.steps.conftest import ContextFactory, step_settings
from tests.fakes.vendor_server import FakeVendorServer


def step(kind: str, params: dict[str, Any], **extra: Any) -> Step:
    return Step(id="s", kind=kind, params=params, **extra)


def test_registry_holds_the_six_kinds() -> None:
    assert set(STEP_KINDS) == {"llm", "http", "email", "transform", "filter", "notify"}


async def test_transform_renders_native_values(make_context: ContextFactory) -> None:
    harness = make_context(
        variables={"input": {"n": 3, "tags": ["a", "b"]}, "steps": {"prev": {"output": {"x": 1}}}}
    )
    result = await execute_step(
        step(
            "transform",
            {
                "values": {
                    "double": "{{ input.n * 2 }}",
                    "tags": "{{ input.tags }}",
                    "text": "n={{ input.n }}",
                    "prev": "{{ steps.prev.output.x }}",
                }
            },
        ),
        harness.ctx,
    )
    assert result.output == {"double": 6, "tags": ["a", "b"], "text": "n=3", "prev": 1}
    assert result.skipped is False and result.status == "succeeded" and result.tokens is None


async def test_false_when_skips_the_step(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    harness = make_context(variables={"input": {"urgent": False}})
    result = await execute_step(
        step("http", {"url": f"{fake_vendor.url}/never"}, when="input.urgent"),
        harness.ctx,
    )
    assert result.skipped is True and result.status == "skipped"
    assert "input.urgent" in (result.reason or "")
    assert fake_vendor.requests == []


async def test_true_when_runs_the_step(make_context: ContextFactory) -> None:
    harness = make_context(variables={"input": {"urgent": True}})
    result = await execute_step(step("transform", {"values": 1}, when="input.urgent"), harness.ctx)
    assert result.skipped is False and result.output == 1


async def test_foreach_runs_once_per_item_with_item_and_index(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    harness = make_context(
        variables={"input": {"leads": [{"email": "a@x.io"}, {"email": "b@x.io"}]}}
    )
    result = await execute_step(
        step(
            "http",
            {
                "method": "POST",
                "url": f"{fake_vendor.url}/contacts",
                "json": {"email": "{{ item.email }}", "position": "{{ index }}"},
            },
            foreach="input.leads",
        ),
        harness.ctx,
    )
    assert [r.json for r in fake_vendor.requests_to("/contacts")] == [
        {"email": "a@x.io", "position": 0},
        {"email": "b@x.io", "position": 1},
    ]
    assert [o["status"] for o in result.output] == [200, 200]


async def test_foreach_over_the_cap_fails_loudly_before_any_call(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    harness = make_context(
        settings=step_settings(foreach_max=3), variables={"input": {"rows": [1, 2, 3, 4]}}
    )
    with pytest.raises(StepFailure) as failure:
        await execute_step(
            step("http", {"url": f"{fake_vendor.url}/x"}, foreach="input.rows"), harness.ctx
        )
    assert failure.value.kind == "foreach_limit" and not failure.value.transient
    assert "4 items" in failure.value.message and "FOREACH_MAX" in failure.value.message
    assert fake_vendor.requests == []


async def test_foreach_default_cap_is_100(make_context: ContextFactory) -> None:
    harness = make_context(variables={"input": {"rows": list(range(101))}})
    assert harness.ctx.settings.foreach_max == 100
    with pytest.raises(StepFailure, match="101 items"):
        await execute_step(step("transform", {"values": 1}, foreach="input.rows"), harness.ctx)
    ok = await execute_step(
        step("transform", {"values": "{{ item }}"}, foreach="input.rows[:100]"), harness.ctx
    )
    assert ok.output == list(range(100))


async def test_foreach_over_a_non_list_is_a_config_error(make_context: ContextFactory) -> None:
    harness = make_context(variables={"input": {"name": "abc"}})
    with pytest.raises(StepFailure) as failure:
        await execute_step(step("transform", {"values": 1}, foreach="input.name"), harness.ctx)
    assert failure.value.kind == "invalid_config" and not failure.value.transient


async def test_render_error_names_the_expression(make_context: ContextFactory) -> None:
    harness = make_context(variables={"input": {"customer": {}}})
    with pytest.raises(StepFailure) as failure:
        await execute_step(
            step("transform", {"values": {"x": "{{ input.customer.email.lower() }}"}}),
            harness.ctx,
        )
    assert failure.value.kind == "render" and not failure.value.transient
    assert "input.customer.email.lower()" in failure.value.message
    assert "has no attribute 'email'" in failure.value.message


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("{{ input.n // 0 }}", "input.n // 0"),
        ("total: {{ input.n % 0 }}", "total: {{ input.n % 0 }}"),
        ("{{ input.items[5] }}", "input.items[5]"),
        ("{{ 10.0 ** 400 }}", "10.0 ** 400"),
    ],
)
async def test_arithmetic_and_index_errors_in_a_template_are_render_errors(
    make_context: ContextFactory, template: str, named: str
) -> None:
    """A user's bad arithmetic fails the step naming the template, not the engine."""
    harness = make_context(variables={"input": {"n": 3, "items": [1]}})
    with pytest.raises(StepFailure) as failure:
        await execute_step(step("transform", {"values": {"x": template}}), harness.ctx)
    assert failure.value.kind == "render" and not failure.value.transient
    assert named in failure.value.message


async def test_render_error_in_when_names_it(make_context: ContextFactory) -> None:
    harness = make_context()
    with pytest.raises(StepFailure) as failure:
        await execute_step(step("transform", {"values": 1}, when="nope.value"), harness.ctx)
    assert failure.value.kind == "render" and "when" in failure.value.message
    assert "nope.value" in failure.value.message


async def test_filter_stops_the_run_with_its_reason(make_context: ContextFactory) -> None:
    harness = make_context(variables={"input": {"amount": 20}})
    params = {"condition": "{{ input.amount > 100 }}", "reason": "small order"}
    with pytest.raises(RunStopped) as stopped:
        await execute_step(step("filter", params), harness.ctx)
    assert stopped.value.reason == "small order"


@pytest.mark.parametrize("condition", ["false", "False", "0", "", "none", "no"])
async def test_filter_text_that_reads_false_stops(
    make_context: ContextFactory, condition: str
) -> None:
    with pytest.raises(RunStopped, match="filter condition was false"):
        await execute_step(step("filter", {"condition": condition}), make_context().ctx)


async def test_filter_passes_when_the_condition_holds(make_context: ContextFactory) -> None:
    harness = make_context(variables={"input": {"amount": 200}})
    result = await execute_step(
        step("filter", {"condition": "{{ input.amount > 100 }}"}), harness.ctx
    )
    assert result.output == {"passed": True}


async def test_notify_calls_the_notifier(make_context: ContextFactory) -> None:
    harness = make_context(variables={"input": {"who": "Ada"}})
    result = await execute_step(
        step("notify", {"level": "warning", "title": "Lead {{ input.who }}", "message": "hot"}),
        harness.ctx,
    )
    assert harness.notifications == [("warning", "Lead Ada", "hot")]
    assert result.output == {"notification_id": "n-1", "level": "warning"}


async def test_notify_with_an_unknown_rendered_level_fails(make_context: ContextFactory) -> None:
    harness = make_context(variables={"input": {"level": "panic"}})
    with pytest.raises(StepFailure) as failure:
        await execute_step(
            step("notify", {"level": "{{ input.level }}", "title": "t", "message": "m"}),
            harness.ctx,
        )
    assert failure.value.kind == "invalid_config"
    assert harness.notifications == []


async def test_large_outputs_are_capped_as_a_preview(make_context: ContextFactory) -> None:
    harness = make_context(settings=step_settings(step_output_max_bytes=2048))
    result = await execute_step(step("transform", {"values": "x" * 10_000}), harness.ctx)
    assert result.output["truncated"] is True
    assert result.output["size_bytes"] > 10_000
    assert len(result.output["preview"]) <= 1024


async def test_outputs_become_plain_json(make_context: ContextFactory) -> None:
    harness = make_context(variables={"input": {"pair": ("a", 1)}})
    result = await execute_step(step("transform", {"values": "{{ input.pair }}"}), harness.ctx)
    assert result.output == ["a", 1]


async def test_unknown_kind_is_a_config_error(make_context: ContextFactory) -> None:
    with pytest.raises(StepFailure) as failure:
        await execute_step(step("teleport", {}), make_context().ctx)
    assert failure.value.kind == "invalid_config"


@pytest.mark.parametrize(
    ("kind", "params", "problem"),
    [
        ("teleport", {}, "unknown step kind"),
        ("transform", {}, "params.values is required"),
        ("filter", {}, "params.condition is required"),
        ("notify", {"title": "t"}, "params.message is required"),
        ("notify", {"title": "t", "message": "m", "level": "loud"}, "params.level"),
        ("http", {}, "params.url is required"),
        ("http", {"url": "https://x.io", "method": "FETCH"}, "params.method"),
        ("http", {"url": "https://x.io", "json": {}, "form": {}}, "only one of"),
        ("http", {"url": "https://x.io", "credential": "nope"}, "unknown credential kind"),
        ("email", {"to": "a@x.io", "subject": "s"}, "params.body"),
        ("email", {"subject": "s", "body": "b"}, "params.to is required"),
        ("llm", {}, "params.prompt is required"),
        ("llm", {"prompt": "p", "schema": {"type": "nonsense"}}, "not a valid JSON Schema"),
        ("llm", {"prompt": "p", "output": "xml"}, "params.output"),
        ("transform", {"values": "{{ broken( }}"}, "cannot render"),
        ("http", {"url": "https://x.io", "header": {"a": "b"}}, "params.header is not a parameter"),
        ("llm", {"prompt": "p", "prompt_template": "q"}, "params.prompt_template is not"),
        ("transform", {"values": 1, "value": 2}, "params.value is not"),
    ],
)
def test_validate_step_reports_problems(kind: str, params: dict[str, Any], problem: str) -> None:
    problems = validate_step(step(kind, params))
    assert any(problem in p for p in problems), problems


def test_validate_step_checks_when_and_foreach() -> None:
    problems = validate_step(step("transform", {"values": 1}, when="a ==", foreach="[1,"))
    assert len(problems) == 2


def test_validate_step_accepts_complete_steps() -> None:
    assert validate_step(step("http", {"credential": "slack_webhook", "json": {"t": 1}})) == []
    assert (
        validate_step(step("llm", {"prompt": "{{ input.text }}", "schema": {"type": "object"}}))
        == []
    )
    assert (
        validate_step(step("email", {"to": "{{ config.to }}", "subject": "s", "html": "<b>"})) == []
    )


async def test_non_finite_numbers_become_null(make_context: ContextFactory) -> None:
    harness = make_context(variables={"input": {"x": float("nan"), "y": [float("inf"), 1.5]}})
    result = await execute_step(
        step("transform", {"values": {"x": "{{ input.x }}", "y": "{{ input.y }}"}}), harness.ctx
    )
    assert result.output == {"x": None, "y": [None, 1.5]}


async def test_data_keys_win_over_dict_methods(make_context: ContextFactory) -> None:
    harness = make_context(variables={"input": {"items": [{"sku": "A"}, {"sku": "B"}]}})
    result = await execute_step(
        step("transform", {"values": "{{ item.sku }}"}, foreach="input.items"), harness.ctx
    )
    assert result.output == ["A", "B"]
    methods = await execute_step(
        step("transform", {"values": "{{ input.get('missing', 'default') }}"}), harness.ctx
    )
    assert methods.output == "default"


@pytest.mark.parametrize(
    "template",
    [
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ ''.__class__.__base__.__subclasses__() }}",
        "{{ self._TemplateReference__context }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ input.x.format.__self__.__class__ }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    ],
)
async def test_template_injection_payloads_fail_the_step(
    make_context: ContextFactory, template: str
) -> None:
    harness = make_context(variables={"input": {"x": "s"}})
    with pytest.raises(StepFailure) as failure:
        await execute_step(step("transform", {"values": template}), harness.ctx)
    assert failure.value.kind == "render"


async def test_the_sandbox_still_refuses_internals(make_context: ContextFactory) -> None:
    harness = make_context(variables={"input": {"x": "s"}})
    with pytest.raises(StepFailure) as failure:
        await execute_step(
            step("transform", {"values": "{{ input.x.__class__.__mro__ }}"}), harness.ctx
        )
    assert failure.value.kind == "render"
