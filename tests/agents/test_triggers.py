from datetime import UTC, datetime

import pytest

from botskis.agents.triggers import next_run_at, normalise, trigger_errors


def test_cron_is_read_in_the_triggers_timezone() -> None:
    trigger = {"type": "schedule", "cron": "0 9 * * *", "timezone": "Europe/Oslo"}
    winter = next_run_at(trigger, datetime(2026, 1, 10, 12, 0, tzinfo=UTC))
    summer = next_run_at(trigger, datetime(2026, 7, 10, 12, 0, tzinfo=UTC))
    assert winter == datetime(2026, 1, 11, 8, 0, tzinfo=UTC)
    assert summer == datetime(2026, 7, 11, 7, 0, tzinfo=UTC)


def test_cron_next_is_strictly_after() -> None:
    trigger = {"type": "schedule", "cron": "*/15 * * * *", "timezone": "UTC"}
    at = datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    assert next_run_at(trigger, at) == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)


def test_interval_adds_seconds_and_others_are_never_due() -> None:
    at = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    due = next_run_at({"type": "schedule", "interval_seconds": 300}, at)
    assert due == datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
    assert next_run_at({"type": "manual"}, at) is None
    assert next_run_at({"type": "webhook"}, at) is None


def test_cron_timezone_defaults_to_utc() -> None:
    assert normalise({"type": "schedule", "cron": "0 * * * *"})["timezone"] == "UTC"


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        ({"type": "schedule", "cron": "61 * * * *"}, "trigger.cron"),
        ({"type": "schedule", "cron": "not cron"}, "trigger.cron"),
        ({"type": "schedule", "cron": "* * * * * *"}, "trigger.cron"),
        ({"type": "schedule", "cron": 5}, "trigger.cron"),
        ({"type": "schedule", "cron": "* * * * *", "timezone": "Mars/Olympus"}, "trigger.timezone"),
        ({"type": "schedule", "interval_seconds": 59}, "trigger.interval_seconds"),
        ({"type": "schedule", "interval_seconds": "300"}, "trigger.interval_seconds"),
        ({"type": "schedule", "interval_seconds": True}, "trigger.interval_seconds"),
        ({"type": "schedule"}, "trigger"),
        ({"type": "schedule", "cron": "* * * * *", "interval_seconds": 60}, "trigger"),
        ({"type": "email"}, "trigger.type"),
        ({"type": "manual", "cron": "* * * * *"}, "trigger.cron"),
        ("manual", "trigger"),
    ],
)
def test_bad_triggers_name_the_field(trigger: object, field: str) -> None:
    assert field in [e["field"] for e in trigger_errors(trigger)]


@pytest.mark.parametrize(
    "trigger",
    [
        {"type": "manual"},
        {"type": "webhook"},
        {"type": "schedule", "interval_seconds": 60},
        {"type": "schedule", "cron": "*/15 * * * *", "timezone": "Europe/Oslo"},
    ],
)
def test_good_triggers_pass(trigger: dict[str, object]) -> None:
    assert trigger_errors(trigger) == []
