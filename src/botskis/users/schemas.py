from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from botskis.core.security import BCRYPT_MAX_BYTES

PASSWORD_MIN_BYTES = 8


def _password_length(value: str) -> str:
    size = len(value.encode("utf-8"))
    if size < PASSWORD_MIN_BYTES or size > BCRYPT_MAX_BYTES:
        raise ValueError(
            f"password must be {PASSWORD_MIN_BYTES} to {BCRYPT_MAX_BYTES} bytes of UTF-8 "
            f"(got {size})"
        )
    return value


def _normalise_email(value: str) -> str:
    return value.strip().lower()


Password = Annotated[str, Field(max_length=1024), AfterValidator(_password_length)]
Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(_normalise_email)]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Company = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(StrictModel):
    email: Email
    password: Password
    full_name: FullName
    company: Company | None = None


class UserUpdate(StrictModel):
    full_name: FullName | None = None
    company: Company | None = None


class PasswordChange(StrictModel):
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Password


class AccountDeletion(StrictModel):
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class LoginRequest(StrictModel):
    email: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int


class User(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str
    company: str | None
    is_active: bool
    is_superuser: bool
    plan: str
    created_at: datetime


class BrowserSession(BaseModel):
    """A dashboard login: the token itself is only in the httpOnly cookie."""

    user: User
    csrf_token: str
    expires_at: datetime
