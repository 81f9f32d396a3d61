"""Agent config: checked against the template's JSON Schema with defaults filled in."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

MAX_CONFIG_BYTES = 64 * 1024
_REQUIRED = re.compile(r"^'(.+)' is a required property$")


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """`value` with every missing property that has a `default` filled in, recursively."""
    if not isinstance(schema, dict):
        return value
    items = schema.get("items")
    if isinstance(value, list):
        return [apply_defaults(items, v) for v in value] if isinstance(items, dict) else value
    if not isinstance(value, dict):
        return value
    result = dict(value)
    for name, sub in schema.get("properties", {}).items():
        if not isinstance(sub, dict):
            continue
        if name not in result and "default" in sub:
            result[name] = copy.deepcopy(sub["default"])
        if name in result:
            result[name] = apply_defaults(sub, result[name])
    return result


def _entry(error: ValidationError) -> dict[str, str]:
    parts = [str(p) for p in error.absolute_path]
    missing = _REQUIRED.match(error.message) if error.validator == "required" else None
    if missing:
        parts.append(missing.group(1))
    return {"field": ".".join(["config", *parts]), "message": error.message}


def config_errors(schema: dict[str, Any], config: Any) -> tuple[Any, list[dict[str, str]]]:
    """(config with defaults, every violation as {field, message}); empty list when valid."""
    size = len(json.dumps(config, separators=(",", ":")).encode())
    if size > MAX_CONFIG_BYTES:
        message = f"config is {size} bytes serialised; the limit is {MAX_CONFIG_BYTES}"
        return config, [{"field": "config", "message": message}]
    filled = apply_defaults(schema, config)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(filled), key=lambda e: [str(p) for p in e.absolute_path])
    return filled, [_entry(e) for e in errors]
