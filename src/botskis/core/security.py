"""Password hashing (bcrypt via pwdlib, in a worker thread) and JWT access tokens."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio.to_thread
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher

JWT_ALGORITHM = "HS256"
BCRYPT_MAX_BYTES = 72


class PasswordHasher:
    """bcrypt at a fixed cost; every call runs off the event loop."""

    def __init__(self, rounds: int) -> None:
        self._hash = PasswordHash((BcryptHasher(rounds=rounds),))
        # Verified when the email is unknown, so both paths cost one bcrypt check.
        self._dummy = self._hash.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hash.hash, password)

    async def verify(self, password: str, hashed: str | None) -> bool:
        target = hashed if hashed is not None else self._dummy
        ok = await anyio.to_thread.run_sync(self._hash.verify, password, target)
        return ok and hashed is not None


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    jti: str
    expires_at: datetime
    expires_in: int


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: uuid.UUID
    jti: str
    issued_at: datetime
    expires_at: datetime
    version: int


class InvalidToken(Exception):
    """The token is not one we issued, or no longer valid."""


def create_access_token(
    secret_key: str, user_id: uuid.UUID, token_version: int, expire_minutes: int
) -> AccessToken:
    now = datetime.now(UTC)
    expires = now + timedelta(minutes=expire_minutes)
    jti = uuid.uuid4().hex
    payload = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": jti,
        "ver": token_version,
    }
    token = jwt.encode(payload, secret_key, algorithm=JWT_ALGORITHM)
    return AccessToken(
        token=token,
        jti=jti,
        expires_at=expires.replace(microsecond=0),
        expires_in=expire_minutes * 60,
    )


def decode_access_token(secret_key: str, token: str) -> TokenClaims:
    """Verify signature, algorithm (pinned), expiry and the claims we rely on."""
    try:
        payload = jwt.decode(
            token,
            secret_key,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "iat", "exp", "jti", "ver"]},
        )
        return TokenClaims(
            subject=uuid.UUID(str(payload["sub"])),
            jti=str(payload["jti"]),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            version=int(payload["ver"]),
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
