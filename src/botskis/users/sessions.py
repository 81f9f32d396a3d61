"""Login sessions: a refresh token that rotates on every use, bound to a session row
that the user can list and revoke.

A refresh token is 32 random bytes (base64url) of which only the SHA-256 is stored.
Exchanging one marks it rotated and issues the next; a rotated token presented
again means two parties hold the family, so the whole session is revoked (reuse
detection). Access tokens carry the session id (`sid`); the token cache refuses
those of a revoked session (users/token_cache.py), immediately in this process and
through Redis in the others."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from loguru import logger
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.config import Settings
from botskis.core.security import AccessToken, create_access_token
from botskis.database.base import utcnow
from botskis.mail.service import MailKind, queue_mail
from botskis.users.errors import InactiveUser, RefreshTokenInvalid, SessionNotFound
from botskis.users.models import RefreshToken, User, UserSession

USER_AGENT_MAX = 400


class RevokeReason(StrEnum):
    LOGOUT = "logout"
    REVOKED = "revoked_by_user"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105
    PASSWORD_RESET = "password_reset"  # noqa: S105
    TWO_FACTOR_CHANGED = "two_factor_changed"
    REUSE = "refresh_token_reuse"


@dataclass(frozen=True, slots=True)
class Client:
    """Where a login comes from, as shown in the sessions list."""

    user_agent: str
    ip: str


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    session_id: uuid.UUID
    access: AccessToken
    refresh_token: str
    refresh_expires_at: datetime
    refresh_expires_in: int


@dataclass(frozen=True, slots=True)
class Reuse:
    """A rotated refresh token came back: its session is revoked (committed by the
    caller before it answers 401)."""

    user_id: uuid.UUID
    session_id: uuid.UUID


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _refresh_lifetime(settings: Settings) -> timedelta:
    return timedelta(days=settings.refresh_token_days)


def _issue(
    session: AsyncSession,
    settings: Settings,
    user: User,
    row: UserSession,
    access_minutes: int,
) -> IssuedTokens:
    raw = secrets.token_urlsafe(32)
    lifetime = _refresh_lifetime(settings)
    expires_at = (utcnow() + lifetime).replace(microsecond=0)
    row.expires_at = expires_at
    session.add(RefreshToken(token_hash=_digest(raw), session_id=row.id, expires_at=expires_at))
    access = create_access_token(
        settings.secret_key, user.id, user.token_version, access_minutes, session_id=row.id
    )
    return IssuedTokens(
        session_id=row.id,
        access=access,
        refresh_token=raw,
        refresh_expires_at=expires_at,
        refresh_expires_in=int(lifetime.total_seconds()),
    )


async def start_session(
    session: AsyncSession, settings: Settings, user: User, client: Client, *, access_minutes: int
) -> IssuedTokens:
    """A new session for a successful login, with its first refresh and access token."""
    now = utcnow()
    # Sessions past their expiry can no longer be refreshed or reused: prune them.
    await session.execute(
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at < now)
    )
    row = UserSession(
        id=uuid.uuid4(),
        user_id=user.id,
        user_agent=client.user_agent[:USER_AGENT_MAX],
        ip=client.ip,
        created_at=now,
        last_used_at=now,
        expires_at=now,
    )
    await _alert_if_new_device(session, settings, user, row)
    session.add(row)
    # The row first: its refresh token references it, with no relationship to
    # order the inserts.
    await session.flush()
    tokens = _issue(session, settings, user, row, access_minutes)
    await session.flush()
    return tokens


async def _alert_if_new_device(
    session: AsyncSession, settings: Settings, user: User, row: UserSession
) -> None:
    """Mail the owner when a login comes from a browser and address that none of the
    account's kept sessions used; never for the account's first login."""
    mine = select(UserSession.id).where(UserSession.user_id == user.id).limit(1)
    if await session.scalar(mine) is None:
        return
    same_device = mine.where(UserSession.user_agent == row.user_agent, UserSession.ip == row.ip)
    if await session.scalar(same_device) is not None:
        return
    await queue_mail(
        session,
        settings,
        kind=MailKind.NEW_LOGIN,
        to=user.email,
        user_id=user.id,
        full_name=user.full_name,
        user_agent=row.user_agent or "unknown browser",
        ip=row.ip or "unknown address",
    )


async def session_of_refresh_token(session: AsyncSession, raw: str) -> UserSession:
    """The live session a refresh token belongs to, without rotating it (the
    dashboard checks its CSRF echo against this session first)."""
    found = await session.scalar(
        select(UserSession)
        .join(RefreshToken, RefreshToken.session_id == UserSession.id)
        .where(RefreshToken.token_hash == _digest(raw))
    )
    if found is None:
        raise RefreshTokenInvalid()
    return found


async def rotate(
    session: AsyncSession, settings: Settings, raw: str, client: Client
) -> tuple[User, IssuedTokens] | Reuse:
    """Exchange a refresh token for the next one and a short-lived access token.
    Raises RefreshTokenInvalid for an unknown, expired or revoked one; returns
    Reuse (having revoked the session) for one that was already exchanged."""
    now = utcnow()
    token = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == _digest(raw)).with_for_update()
    )
    if token is None:
        raise RefreshTokenInvalid()
    row = await session.scalar(
        select(UserSession).where(UserSession.id == token.session_id).with_for_update()
    )
    if row is None or row.revoked_at is not None or token.expires_at <= now:
        raise RefreshTokenInvalid()
    if token.rotated_at is not None:
        _revoke(row, RevokeReason.REUSE, now)
        await session.flush()
        logger.bind(security=True, user_id=str(row.user_id), session_id=str(row.id)).warning(
            "refresh token reused; session revoked"
        )
        return Reuse(user_id=row.user_id, session_id=row.id)
    user = await session.get(User, row.user_id)
    if user is None:
        raise RefreshTokenInvalid()
    if not user.is_active:
        raise InactiveUser()
    token.rotated_at = now
    row.last_used_at = now
    row.ip = client.ip
    row.user_agent = client.user_agent[:USER_AGENT_MAX]
    tokens = _issue(session, settings, user, row, settings.access_token_minutes)
    await session.flush()
    return user, tokens


def _revoke(row: UserSession, reason: RevokeReason, now: datetime) -> None:
    row.revoked_at = now
    row.revoked_reason = reason


def _live(user_id: uuid.UUID) -> tuple[ColumnElement[bool], ...]:
    return (
        UserSession.user_id == user_id,
        UserSession.revoked_at.is_(None),
        UserSession.expires_at > utcnow(),
    )


async def list_sessions(session: AsyncSession, user_id: uuid.UUID) -> list[UserSession]:
    rows = await session.scalars(
        select(UserSession)
        .where(*_live(user_id))
        .order_by(UserSession.last_used_at.desc(), UserSession.id)
    )
    return list(rows)


async def revoke_session(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, reason: RevokeReason
) -> None:
    """Revoke one of the user's live sessions; someone else's, or an unknown or
    already ended one, is not found."""
    row = await session.scalar(
        select(UserSession).where(UserSession.id == session_id, *_live(user_id)).with_for_update()
    )
    if row is None:
        raise SessionNotFound()
    _revoke(row, reason, utcnow())
    await session.flush()


async def end_session(session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """Logout: revoke the session if it is still live."""
    row = await session.scalar(
        select(UserSession).where(UserSession.id == session_id, *_live(user_id)).with_for_update()
    )
    if row is not None:
        _revoke(row, RevokeReason.LOGOUT, utcnow())
        await session.flush()


async def revoke_sessions(
    session: AsyncSession,
    user_id: uuid.UUID,
    reason: RevokeReason,
    *,
    keep: uuid.UUID | None = None,
) -> int:
    """Revoke every live session of the user but `keep`; returns how many. Each row
    is changed through the ORM, so the token caches drop the user after commit."""
    rows = await session.scalars(select(UserSession).where(*_live(user_id)).with_for_update())
    now = utcnow()
    count = 0
    for row in rows:
        if row.id != keep:
            _revoke(row, reason, now)
            count += 1
    await session.flush()
    return count
