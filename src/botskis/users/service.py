"""Accounts: signup, login, profile, password change, token revocation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.config import Settings
from botskis.core.security import (
    BCRYPT_MAX_BYTES,
    AccessToken,
    PasswordHasher,
    TokenClaims,
    create_access_token,
)
from botskis.runs.locking import lock_running_runs
from botskis.runs.models import Run
from botskis.users.errors import (
    EmailTaken,
    InactiveUser,
    InvalidCredentials,
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


def issue_token(settings: Settings, user: User) -> AccessToken:
    return create_access_token(
        settings.secret_key, user.id, user.token_version, settings.access_token_expire_minutes
    )


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


async def delete_user(
    session: AsyncSession,
    user: User,
    *,
    hasher: PasswordHasher | None = None,
    password: str | None = None,
) -> None:
    """Everything the user owns goes with the row (ON DELETE CASCADE). A `password`
    given must be the account's (a confirmation the dashboard asks for)."""
    if password is not None:
        assert hasher is not None, "checking a password needs the hasher"
        if not await hasher.verify(password, user.hashed_password):
            raise PasswordMismatch()
    await lock_running_runs(session, Run.owner_id == user.id)
    await session.delete(user)
    await session.flush()


async def list_users(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[User], int]:
    total = await session.scalar(select(func.count()).select_from(User)) or 0
    users = await session.scalars(
        select(User).order_by(User.created_at, User.id).limit(limit).offset(offset)
    )
    return list(users), total
