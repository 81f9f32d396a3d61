from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CredentialName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
SecretValue = Annotated[str, Field(max_length=4096)] | int | bool
Secret = Annotated[dict[Annotated[str, Field(max_length=64)], SecretValue], Field(max_length=16)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CredentialCreate(StrictModel):
    kind: Annotated[str, Field(min_length=1, max_length=32)]
    name: CredentialName
    secret: Secret


class CredentialUpdate(StrictModel):
    """`secret`, when given, replaces the whole secret (it is never read back to merge)."""

    name: CredentialName | None = None
    secret: Secret | None = None


class Credential(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    name: str
    hint: str
    key_id: str
    created_at: datetime
    updated_at: datetime


class CredentialKind(BaseModel):
    name: str
    description: str
    required: list[str]
    optional: list[str]
