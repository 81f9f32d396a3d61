"""Error fingerprints: failures that differ only in ids, numbers or quoted
values group together."""

from __future__ import annotations

import hashlib
import re

_PATTERNS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "<id>"),
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<value>"),
    (re.compile(r"\b[0-9a-f]{16,}\b", re.I), "<hex>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def normalise_message(message: str | None) -> str:
    text = (message or "").strip()
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text[:300]


def error_fingerprint(
    kind: str | None, message: str | None, step: str | None, template: str
) -> str:
    key = "\x1f".join([kind or "", normalise_message(message), step or "", template])
    return hashlib.sha256(key.encode()).hexdigest()
