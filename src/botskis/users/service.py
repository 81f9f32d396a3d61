"""Accounts: signup, login, profile, password change, token revocation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from loguru import logger
from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.config import Settings
from botskis.core.security import (
    BCRYPT_MAX_BYTES,
    AccessToken,
    InvalidToken,
    PasswordHasher,
    TokenClaims,
    create_mfa_token,
    decode_mfa_token,
)
from botskis.database.base import utcnow
from botskis.runs.locking import lock_running_runs
from botskis.runs.models import Run
from botskis.users.errors import (
    EmailTaken,
    InactiveUser,
    InvalidCredentials,
    MfaTokenInvalid,
    PasswordMismatch,
    WrongPassword,
)
from botskis.users.models import RevokedToken, User


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def create_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    full_name: str,
    company: str | None = None,
    is_superuser: bool = False,
    email_verified: bool = False,
) -> User:
    email = email.strip().lower()
    # Hashed before any query: the session takes a connection at its first query
    # and keeps it to the end, and bcrypt must not hold a pooled connection.
    hashed_password = await hasher.hash(password)
    if await get_by_email(session, email) is not None:
        raise EmailTaken()
    user = User(
        email=email,
        hashed_password=hashed_password,
        full_name=full_name,
        company=company,
        is_superuser=is_superuser,
        email_verified_at=utcnow() if email_verified else None,
    )
    session.add(user)
    await session.flush()
    return user


async def verify_credentials(hasher: PasswordHasher, user: User | None, password: str) -> User:
    """The same 401 and the same bcrypt cost whether the email exists (`user`,
    read by the caller beforehand) or not."""
    if len(password.encode()) > BCRYPT_MAX_BYTES:
        await hasher.verify(password.encode()[:BCRYPT_MAX_BYTES].decode(errors="ignore"), None)
        raise InvalidCredentials()
    ok = await hasher.verify(password, user.hashed_password if user else None)
    if user is None or not ok:
        raise InvalidCredentials()
    if not user.is_active:
        raise InactiveUser()
    return user


def issue_mfa_token(settings: Settings, user: User) -> AccessToken:
    return create_mfa_token(
        settings.secret_key, user.id, user.token_version, settings.mfa_token_minutes
    )


async def user_of_mfa_token(
    session: AsyncSession, settings: Settings, token: str
) -> tuple[User, TokenClaims]:
    """The user an unused, unexpired mfa_token was issued to (spend it with
    `spend_mfa_token` once the code is right)."""
    try:
        claims = decode_mfa_token(settings.secret_key, token)
    except InvalidToken as exc:
        logger.bind(security=True, reason=str(exc)[:80]).warning("mfa token rejected")
        raise MfaTokenInvalid() from exc
    spent = exists().where(RevokedToken.jti == claims.jti)
    row = (
        await session.execute(select(User, spent.label("spent")).where(User.id == claims.subject))
    ).first()
    if row is None:
        raise MfaTokenInvalid()
    user, is_spent = row
    if is_spent or user.token_version != claims.version or not user.two_factor_enabled:
        raise MfaTokenInvalid()
    if not user.is_active:
        raise InactiveUser()
    return user, claims


def spend_mfa_token(session: AsyncSession, user: User, claims: TokenClaims) -> None:
    """One password check buys one successful code at most."""
    session.add(RevokedToken(jti=claims.jti, user_id=user.id, expires_at=claims.expires_at))


async def revoke_token(session: AsyncSession, user_id: uuid.UUID, claims: TokenClaims) -> None:
    session.add(RevokedToken(jti=claims.jti, user_id=user_id, expires_at=claims.expires_at))
    # Expired entries can never match a valid token again; prune them as we go.
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < datetime.now(UTC)))


async def update_profile(
    session: AsyncSession, user: User, *, changes: dict[str, str | None]
) -> User:
    for field in ("full_name", "company"):
        if field in changes:
            value = changes[field]
            if field == "full_name" and value is None:
                continue
            setattr(user, field, value)
    await session.flush()
    return user


async def change_password(
    session: AsyncSession,
    hasher: PasswordHasher,
    user: User,
    *,
    current_password: str,
    new_password: str,
) -> None:
    if not await hasher.verify(current_password, user.hashed_password):
        raise WrongPassword()
    user.hashed_password = await hasher.hash(new_password)
    user.token_version += 1
    await session.flush()


async def check_password(hasher: PasswordHasher, user: User, password: str) -> None:
    """A confirmation password: a 400 naming the field when it is wrong."""
    if not await hasher.verify(password, user.hashed_password):
        raise PasswordMismatch()


async def delete_user(session: AsyncSession, user: User) -> None:
    """Everything the user owns goes with the row (ON DELETE CASCADE)."""
    await lock_running_runs(session, Run.owner_id == user.id)
    await session.delete(user)
    await session.flush()


async def list_users(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[User], int]:
    total = await session.scalar(select(func.count()).select_from(User)) or 0
    users = await session.scalars(
        select(User).order_by(User.created_at, User.id).limit(limit).offset(offset)
    )
    return list(users), total
