"""Agent triggers: validation of what a user asks for, and when a schedule is next due.

`next_run_at` is the single place the next due time is computed; the API uses it
on deploy, resume and trigger changes, and the scheduler after each firing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

MIN_INTERVAL_SECONDS = 60
MAX_INTERVAL_SECONDS = 366 * 24 * 3600
TRIGGER_TYPES = ("manual", "schedule", "webhook")


def trigger_errors(trigger: Any, *, field: str = "trigger") -> list[dict[str, str]]:
    """Every problem with a trigger, as `errors` entries of a 422."""
    if not isinstance(trigger, dict):
        return [{"field": field, "message": "must be an object with a 'type'"}]
    kind = trigger.get("type")
    if kind not in TRIGGER_TYPES:
        return [{"field": f"{field}.type", "message": "must be one of manual, schedule, webhook"}]
    allowed = {"type"}
    errors: list[dict[str, str]] = []
    if kind == "schedule":
        has_cron, has_interval = "cron" in trigger, "interval_seconds" in trigger
        if has_cron == has_interval:
            return [
                {
                    "field": field,
                    "message": "a schedule needs exactly one of cron, interval_seconds",
                }
            ]
        if has_cron:
            allowed |= {"cron", "timezone"}
            errors += _cron_errors(trigger, field)
        else:
            allowed.add("interval_seconds")
            errors += _interval_errors(trigger["interval_seconds"], field)
    for key in trigger:
        if key not in allowed:
            errors.append(
                {"field": f"{field}.{key}", "message": f"not allowed for a {kind} trigger"}
            )
    return errors


def _cron_errors(trigger: dict[str, Any], field: str) -> list[dict[str, str]]:
    errors = []
    cron = trigger["cron"]
    if not isinstance(cron, str) or len(cron) > 100 or not croniter.is_valid(cron):
        errors.append({"field": f"{field}.cron", "message": "not a valid cron expression"})
    elif len(cron.split()) != 5:
        errors.append(
            {"field": f"{field}.cron", "message": "use five fields: minute hour day month weekday"}
        )
    timezone = trigger.get("timezone", "UTC")
    if not isinstance(timezone, str) or not _is_timezone(timezone):
        errors.append({"field": f"{field}.timezone", "message": f"unknown timezone {timezone!r}"})
    return errors


def _interval_errors(interval: Any, field: str) -> list[dict[str, str]]:
    if isinstance(interval, bool) or not isinstance(interval, int):
        return [{"field": f"{field}.interval_seconds", "message": "must be an integer"}]
    if not MIN_INTERVAL_SECONDS <= interval <= MAX_INTERVAL_SECONDS:
        return [
            {
                "field": f"{field}.interval_seconds",
                "message": f"must be between {MIN_INTERVAL_SECONDS} and {MAX_INTERVAL_SECONDS}",
            }
        ]
    return []


def _is_timezone(name: str) -> bool:
    if not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def normalise(trigger: dict[str, Any]) -> dict[str, Any]:
    """A valid trigger with its defaults spelled out (cron schedules get a timezone)."""
    if trigger["type"] == "schedule" and "cron" in trigger:
        return {
            "type": "schedule",
            "cron": trigger["cron"],
            "timezone": trigger.get("timezone", "UTC"),
        }
    return dict(trigger)


def next_run_at(trigger: dict[str, Any], after: datetime) -> datetime | None:
    """When a schedule is next due strictly after `after` (UTC); None for other triggers.

    Cron expressions are read in the trigger's timezone, so "0 9 * * *" in
    Europe/Oslo stays 09:00 local across daylight-saving changes.
    """
    if trigger.get("type") != "schedule":
        return None
    if "interval_seconds" in trigger:
        return after + timedelta(seconds=int(trigger["interval_seconds"]))
    zone = ZoneInfo(trigger.get("timezone", "UTC"))
    following: datetime = croniter(trigger["cron"], after.astimezone(zone)).get_next(datetime)
    return following.astimezone(ZoneInfo("UTC"))
