"""The caller of a request: a frozen copy of their user row.

Requests share it (the token cache hands the same snapshot to concurrent
requests), so it cannot be an ORM object, whose attributes a session may expire
or change under another request. Code that changes the user loads the row for
update on purpose (`core.auth.UserForUpdate`).

A caller authenticated by an API key carries the key's id and scopes; any other
caller has `scopes` None, which allows everything."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from botskis.users.models import User
from botskis.users.scopes import Scope, granted


@dataclass(frozen=True, slots=True)
class Caller:
    id: uuid.UUID
    email: str
    full_name: str
    company: str | None
    is_active: bool
    is_superuser: bool
    plan: str
    token_version: int
    created_at: datetime
    email_verified_at: datetime | None
    two_factor_enabled: bool
    api_key_id: uuid.UUID | None = None
    scopes: frozenset[Scope] | None = None

    def allows(self, scope: Scope) -> bool:
        return self.scopes is None or granted(self.scopes, scope)

    @classmethod
    def of(cls, user: User) -> Caller:
        return cls(
            id=user.id,
            email=user.email,
            full_name=user.full_name,
            company=user.company,
            is_active=user.is_active,
            is_superuser=user.is_superuser,
            plan=user.plan,
            token_version=user.token_version,
            created_at=user.created_at,
            email_verified_at=user.email_verified_at,
            two_factor_enabled=user.two_factor_enabled,
        )
