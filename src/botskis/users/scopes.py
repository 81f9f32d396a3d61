"""What an API key may do. A full login (password, the dashboard's session) may do
everything; a key only what its scopes grant, and never manage the account.

Each private router declares, in api/router.py, the pair of scopes its routes
need (safe methods the `read` one, others the `write` one) or that it is account
management, which no key reaches. A `write` scope includes its `read` scope: a
key that may change agents may see them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Scope(StrEnum):
    AGENTS_READ = "agents:read"
    AGENTS_WRITE = "agents:write"
    RUNS_READ = "runs:read"
    RUNS_WRITE = "runs:write"
    CREDENTIALS_READ = "credentials:read"
    CREDENTIALS_WRITE = "credentials:write"


IMPLIED_BY = {
    Scope.AGENTS_READ: Scope.AGENTS_WRITE,
    Scope.RUNS_READ: Scope.RUNS_WRITE,
    Scope.CREDENTIALS_READ: Scope.CREDENTIALS_WRITE,
}


def granted(scopes: Iterable[Scope], needed: Scope) -> bool:
    held = set(scopes)
    return needed in held or IMPLIED_BY.get(needed) in held
