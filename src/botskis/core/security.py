"""Password hashing (bcrypt via pwdlib, in a worker thread) and JWT access tokens."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import secrets
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher

JWT_ALGORITHM = "HS256"
BCRYPT_MAX_BYTES = 72


def _lower_thread_priority() -> None:
    """bcrypt threads yield the CPU to the event loop thread whenever it is runnable,
    so a login storm cannot starve health checks and other requests."""
    # Not Linux, or not permitted: run at normal priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class PasswordHasher:
    """bcrypt at a fixed cost, on a small pool of low-priority threads.

    One thread per core is enough to saturate bcrypt; more threads would only
    compete with the event loop for the same cores.
    """

    def __init__(self, rounds: int, threads: int | None = None) -> None:
        self._hash = PasswordHash((BcryptHasher(rounds=rounds),))
        self._pool = ThreadPoolExecutor(
            max_workers=threads or os.cpu_count() or 2,
            thread_name_prefix="bcrypt",
            initializer=_lower_thread_priority,
        )
        # Verified when the email is unknown, so both paths cost one bcrypt check.
        self._dummy = self._hash.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._hash.hash, password
        )

    async def verify(self, password: str, hashed: str | None) -> bool:
        target = hashed if hashed is not None else self._dummy
        ok = await asyncio.get_running_loop().run_in_executor(
            self._pool, self._hash.verify, password, target
        )
        return ok and hashed is not None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


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
    # The login session the token belongs to (users/sessions.py); None for a token
    # issued before sessions existed.
    session_id: uuid.UUID | None = None


class InvalidToken(Exception):
    """The token is not one we issued, or no longer valid."""


def create_access_token(
    secret_key: str,
    user_id: uuid.UUID,
    token_version: int,
    expire_minutes: int,
    *,
    session_id: uuid.UUID | None = None,
) -> AccessToken:
    now = datetime.now(UTC)
    expires = now + timedelta(minutes=expire_minutes)
    jti = uuid.uuid4().hex
    payload: dict[str, str | int] = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": jti,
        "ver": token_version,
    }
    if session_id is not None:
        payload["sid"] = str(session_id)
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
            session_id=uuid.UUID(str(payload["sid"])) if "sid" in payload else None,
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


MFA_PURPOSE = "mfa"


def _mfa_key(secret_key: str) -> bytes:
    """Its own key, derived from SECRET_KEY: an mfa_token can never pass as an
    access token, nor the other way round."""
    return hmac.new(secret_key.encode(), b"botskis mfa token v1", hashlib.sha256).digest()


def create_mfa_token(
    secret_key: str, user_id: uuid.UUID, token_version: int, expire_minutes: float
) -> AccessToken:
    """The short-lived, single-purpose token that stands between a right password
    and the second factor."""
    now = datetime.now(UTC)
    expires = now + timedelta(minutes=expire_minutes)
    jti = uuid.uuid4().hex
    payload = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": jti,
        "ver": token_version,
        "purpose": MFA_PURPOSE,
    }
    token = jwt.encode(payload, _mfa_key(secret_key), algorithm=JWT_ALGORITHM)
    return AccessToken(
        token=token,
        jti=jti,
        expires_at=expires.replace(microsecond=0),
        expires_in=int(expire_minutes * 60),
    )


def decode_mfa_token(secret_key: str, token: str) -> TokenClaims:
    try:
        payload = jwt.decode(
            token,
            _mfa_key(secret_key),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "iat", "exp", "jti", "ver", "purpose"]},
        )
        if payload["purpose"] != MFA_PURPOSE:
            raise InvalidToken("not an mfa token")
        return TokenClaims(
            subject=uuid.UUID(str(payload["sub"])),
            jti=str(payload["jti"]),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            version=int(payload["ver"]),
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
