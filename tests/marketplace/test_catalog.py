"""The template loader: the packaged catalogue is valid, and each way a file can be
broken stops loading with the file name and the reason."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from botskis.marketplace.catalog import (
    TEMPLATES_DIR,
    TemplateError,
    get_catalog,
    load_catalog,
    template_id,
)

EXPECTED = {
    "gmail-trello-automation": "email",
    "email-response-assistant": "email",
    "invoice-email-processor": "email",
    "lead-qualification-bot": "sales",
    "sales-follow-up-automation": "sales",
    "meeting-scheduler": "sales",
    "customer-support-triager": "support",
    "faq-responder": "support",
    "social-media-scheduler": "marketing",
    "content-repurposer": "marketing",
    "meeting-notes-summarizer": "productivity",
    "expense-report-automation": "productivity",
    "report-generator": "productivity",
    "inventory-monitor": "ecommerce",
    "resume-screener": "hr",
    "payment-reminder-bot": "finance",
    "system-health-monitor": "operations",
    "zapier-alternative": "integration",
    "slack-digest": "communication",
    "churn-predictor": "customer_success",
}
NO_LLM = {
    "system-health-monitor",
    "inventory-monitor",
    "zapier-alternative",
    "payment-reminder-bot",
}

VALID: dict[str, Any] = {
    "slug": "probe",
    "name": "Probe",
    "description": "Calls a URL.",
    "category": "operations",
    "icon": "activity",
    "rating": 4.0,
    "featured": False,
    "features": ["probe"],
    "integrations": ["HTTP"],
    "credentials": ["http_bearer"],
    "trigger": {"type": "schedule", "interval_seconds": 300},
    "config_schema": {
        "type": "object",
        "required": ["url"],
        "properties": {"url": {"type": "string"}, "limit": {"type": "integer", "default": 3}},
    },
    "workflow": {
        "steps": [
            {
                "id": "call",
                "kind": "http",
                "params": {"url": "{{ config.url }}", "credential": "http_bearer"},
            },
            {
                "id": "check",
                "kind": "filter",
                "params": {"condition": "{{ steps.call.output.status == 200 }}"},
            },
            {
                "id": "each",
                "kind": "notify",
                "foreach": "input.get('items', [])[:config.limit]",
                "when": "steps.check.output",
                "params": {"level": "info", "title": "{{ item }}", "message": "#{{ index }}"},
            },
        ]
    },
}


def write(directory: Path, document: Any, name: str = "probe.yaml") -> Path:
    path = directory / name
    text = document if isinstance(document, str) else yaml.safe_dump(document)
    path.write_text(text, encoding="utf-8")
    return path


def broken(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    for dotted, value in changes.items():
        target: Any = document
        *parents, last = dotted.split("__")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return document


def test_packaged_catalogue_has_the_twenty_templates_in_their_categories() -> None:
    catalog = get_catalog()
    assert {t.slug: t.category for t in catalog.all()} == EXPECTED


def test_templates_that_need_no_llm_have_no_llm_step() -> None:
    for template in get_catalog().all():
        kinds = {step.kind for step in template.workflow.steps}
        if template.slug in NO_LLM:
            assert "llm" not in kinds, template.slug


def test_template_ids_are_stable_uuid5_of_the_slug() -> None:
    catalog = get_catalog()
    triager = catalog.get("customer-support-triager")
    assert triager is not None
    assert triager.id == template_id("customer-support-triager")
    assert catalog.get(str(triager.id)) is triager
    assert catalog.get("CUSTOMER-SUPPORT-TRIAGER") is triager
    assert catalog.get("no-such-template") is None


def test_every_packaged_file_is_loaded() -> None:
    files = sorted(p.stem for p in TEMPLATES_DIR.glob("*.yaml"))
    assert files == sorted(t.slug for t in get_catalog().all())


def test_a_valid_file_loads(tmp_path: Path) -> None:
    write(tmp_path, VALID)
    catalog = load_catalog(tmp_path)
    assert [t.slug for t in catalog.all()] == ["probe"]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("slug: [unclosed", "cannot be read as YAML"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        (broken(slug="other"), "must equal the file name"),
        (broken(rating=9), "rating"),
        (broken(name=""), "name"),
        (broken(config_schema={"type": "array"}), 'config_schema must have "type": "object"'),
        (
            broken(config_schema={"type": "object", "properties": {"x": {"type": "strin"}}}),
            "config_schema is not valid JSON Schema",
        ),
        (
            broken(
                config_schema={
                    "type": "object",
                    "properties": {
                        "url": {"type": "string"},
                        "limit": {"type": "integer", "minimum": 1, "default": 0},
                    },
                }
            ),
            "config_schema default of 'limit' is invalid",
        ),
        (broken(credentials=["carrier_pigeon"]), "unknown credential kind 'carrier_pigeon'"),
        (
            broken(trigger={"type": "sometimes"}),
            "trigger.type: must be one of manual, schedule, webhook",
        ),
        (broken(trigger={"type": "schedule", "cron": "61 * * * *"}), "not a valid cron"),
        (
            broken(trigger={"type": "schedule", "cron": "0 * * * *", "timezone": "Mars/Base"}),
            "unknown timezone 'Mars/Base'",
        ),
        (broken(trigger={"type": "schedule", "interval_seconds": 5}), "interval_seconds"),
        (broken(workflow__steps__1__kind="teleport"), "unknown step kind 'teleport'"),
        (broken(workflow__steps__1__params={}), "params.condition is required"),
        (
            broken(
                workflow__steps__0__params={"url": "{{ config.url ", "credential": "http_bearer"}
            ),
            "does not parse",
        ),
        (
            broken(workflow__steps__0__params={"url": "{{ config.url | shout }}"}),
            "does not compile",
        ),
        (broken(workflow__steps__2__when="steps.check.output ==="), "when does not parse"),
        (broken(workflow__steps__2__foreach="input[["), "foreach does not parse"),
        (
            broken(workflow__steps__0__params={"url": "{{ steps.check.output.url }}"}),
            "reads step 'check', which does not run before it",
        ),
        (
            broken(workflow__steps__0__params={"url": "{{ config.adress }}"}),
            "reads config.adress, which config_schema does not declare",
        ),
        (
            broken(workflow__steps__0__params={"url": "{{ secrets.token }}"}),
            "reads unknown name 'secrets'",
        ),
        (
            broken(workflow__steps__1__params={"condition": "{{ item }}"}),
            "reads unknown name 'item'",
        ),
        (
            broken(workflow__steps__0__params={"url": "https://x", "credential": "stripe"}),
            "credential 'stripe' is not listed",
        ),
        (broken(workflow__steps__1__id="call"), "duplicate step id"),
        (broken(workflow={"steps": []}), "workflow.steps"),
    ],
)
def test_a_broken_file_names_the_file_and_the_reason(
    tmp_path: Path, document: Any, reason: str
) -> None:
    write(tmp_path, VALID, "another.yaml")  # a good file beside it changes nothing
    (tmp_path / "another.yaml").write_text(
        yaml.safe_dump({**VALID, "slug": "another"}), encoding="utf-8"
    )
    path = write(tmp_path, document)
    with pytest.raises(TemplateError) as caught:
        load_catalog(tmp_path)
    assert caught.value.path == path
    assert "probe.yaml" in str(caught.value)
    assert reason in caught.value.reason
