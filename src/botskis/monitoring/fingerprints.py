"""Error fingerprints: failures that differ only in ids, numbers or quoted
values group together.

Host addresses (IPv4, IPv6, dotted host names, `host:port`) stay as they are:
"connection refused by 10.0.0.5:5432" is another failure than the same refusal
by the cache, and a group title reads better with the address than with
`<n>.<n>`."""

from __future__ import annotations

import hashlib
import ipaddress
import re

_VALUES = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "<id>"),
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<value>"),
]
_NUMBERS = [
    (re.compile(r"\b[0-9a-f]{16,}\b", re.I), "<hex>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
]
_SPACE = re.compile(r"\s+")
_PORT = r"(?::\d{1,5})?"
_HOST = re.compile(
    # [IPv6]:port
    rf"\[(?P<bracketed>[0-9a-f:.]+)\]{_PORT}"
    # IPv4, bare IPv6 (both checked by `ipaddress` below), with an optional port
    rf"|(?<![\w.:])(?P<ipv4>(?:\d{{1,3}}\.){{3}}\d{{1,3}}){_PORT}(?!\w|\.\d)"
    r"|(?<![\w.:])(?P<ipv6>[0-9a-f]*:[0-9a-f:.]*:[0-9a-f.]*)(?![\w:])"
    # a dotted host name ending in a letter label (api2.vendor.io), or localhost
    rf"|(?<![\w.-])(?:(?:[a-z0-9-]+\.)+[a-z]{{2,}}|localhost){_PORT}(?![\w-])",
    re.I,
)


def _is_host(match: re.Match[str]) -> bool:
    address = match.group("bracketed") or match.group("ipv4") or match.group("ipv6")
    if address is None:
        return True
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _numbers(text: str) -> str:
    for pattern, replacement in _NUMBERS:
        text = pattern.sub(replacement, text)
    return text


def normalise_message(message: str | None) -> str:
    text = (message or "").strip()
    for pattern, replacement in _VALUES:
        text = pattern.sub(replacement, text)
    parts: list[str] = []
    end = 0
    for match in _HOST.finditer(text):
        if _is_host(match):
            parts += [_numbers(text[end : match.start()]), match.group()]
            end = match.end()
    parts.append(_numbers(text[end:]))
    return _SPACE.sub(" ", "".join(parts))[:300]


def error_fingerprint(
    kind: str | None, message: str | None, step: str | None, template: str
) -> str:
    key = "\x1f".join([kind or "", normalise_message(message), step or "", template])
    return hashlib.sha256(key.encode()).hexdigest()
