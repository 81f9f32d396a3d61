from typing import Any

from botskis.agents.configuration import MAX_CONFIG_BYTES, apply_defaults, config_errors

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "url": {"type": "string"},
        "retries": {"type": "integer", "minimum": 0, "maximum": 5, "default": 2},
        "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
        "alert": {
            "type": "object",
            "default": {},
            "properties": {"level": {"type": "string", "default": "warning"}},
        },
        "routes": {
            "type": "array",
            "default": [],
            "items": {
                "type": "object",
                "properties": {"channel": {"type": "string", "default": "#general"}},
            },
        },
    },
}


def test_defaults_fill_missing_values_at_every_depth() -> None:
    filled = apply_defaults(SCHEMA, {"url": "u", "routes": [{}, {"channel": "#ops"}]})
    assert filled == {
        "url": "u",
        "retries": 2,
        "mode": "safe",
        "alert": {"level": "warning"},
        "routes": [{"channel": "#general"}, {"channel": "#ops"}],
    }


def test_given_values_win_and_defaults_are_not_shared() -> None:
    first = apply_defaults(SCHEMA, {"url": "u", "retries": 0})
    second = apply_defaults(SCHEMA, {"url": "u"})
    assert first["retries"] == 0
    first["alert"]["level"] = "changed"
    assert second["alert"]["level"] == "warning"
    assert SCHEMA["properties"]["alert"]["default"] == {}


def test_every_violation_is_reported_with_its_path() -> None:
    _, errors = config_errors(
        SCHEMA, {"retries": 9, "mode": "reckless", "routes": [{"channel": 5}], "x": 1}
    )
    fields = sorted(e["field"] for e in errors)
    assert fields == [
        "config",
        "config.mode",
        "config.retries",
        "config.routes.0.channel",
        "config.url",
    ]


def test_oversized_config_is_refused_before_validation() -> None:
    _, errors = config_errors(SCHEMA, {"url": "u" * (MAX_CONFIG_BYTES + 1)})
    assert errors == [
        {
            "field": "config",
            "message": f"config is {MAX_CONFIG_BYTES + 11} bytes serialised; "
            f"the limit is {MAX_CONFIG_BYTES}",
        }
    ]
