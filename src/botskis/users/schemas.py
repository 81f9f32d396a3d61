from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from botskis.core.security import BCRYPT_MAX_BYTES
from botskis.users.scopes import Scope

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


CurrentPassword = Annotated[str, Field(min_length=1, max_length=1024)]
OneTimeCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=40)]
LinkToken = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class UserUpdate(StrictModel):
    full_name: FullName | None = None
    company: Company | None = None
    # A new login address takes effect once the link mailed to it is opened; asking
    # for it needs the current password.
    email: Email | None = None
    current_password: CurrentPassword | None = None


class AccountDeletion(StrictModel):
    password: CurrentPassword
    # The current TOTP code or a recovery code, when two-factor authentication is on.
    code: OneTimeCode | None = None


class VerifyEmail(StrictModel):
    token: LinkToken


class PasswordResetRequest(StrictModel):
    email: Email


class PasswordResetConfirm(StrictModel):
    token: LinkToken
    new_password: Password


class Accepted(BaseModel):
    detail: str


class MfaChallenge(BaseModel):
    """A 2FA account's answer to a right password: complete it with the code at
    POST /api/v1/auth/login/mfa."""

    mfa_required: Literal[True] = True
    mfa_token: str
    expires_in: int


class MfaLogin(StrictModel):
    mfa_token: Annotated[str, Field(min_length=1, max_length=2048)]
    code: OneTimeCode | None = None
    recovery_code: OneTimeCode | None = None

    @model_validator(mode="after")
    def _one_code(self) -> MfaLogin:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("send exactly one of code and recovery_code")
        return self


class TwoFactorSetup(BaseModel):
    secret: str
    otpauth_uri: str
    # An SVG document of the QR code for otpauth_uri, made on the server.
    qr_svg: str


class TwoFactorCode(StrictModel):
    code: OneTimeCode


class TwoFactorDisable(StrictModel):
    password: CurrentPassword
    # The current TOTP code or a recovery code.
    code: OneTimeCode


class RecoveryCodes(BaseModel):
    """Shown once: only their hashes are kept."""

    recovery_codes: list[str]


class PasswordChange(StrictModel):
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Password


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
    email_verified_at: datetime | None
    two_factor_enabled: bool


class BrowserSession(BaseModel):
    """A dashboard login: the token itself is only in the httpOnly cookie."""

    user: User
    csrf_token: str
    expires_at: datetime


ApiKeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ApiKeyCreate(StrictModel):
    name: ApiKeyName
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(Scope))]
    expires_at: AwareDatetime | None = None


class ApiKey(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it by")
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None = Field(description="Recorded at most once a minute")
    expires_at: datetime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The key itself, shown this once: only its hash is stored")
