"""Single-use account links: email verification, email change and password reset.

A link carries a random token; only its SHA-256 is stored (the token has 256
bits of entropy, so a fast hash is enough), with its purpose, the address it
proves and an expiry. Using a link consumes it in the same transaction as the
change it makes. Issuing a new link of a purpose deletes the user's unused
ones of that purpose, so only the latest mail works.

A password reset request is queued as an outbox mail without a body whatever
the address: the worker composes it (looking the account up, making the
token) or discards it. The request itself does the same work, one insert,
whether or not an account exists, so neither its body nor its timing tells.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.config import Settings
from botskis.core.security import PasswordHasher
from botskis.database.base import utcnow
from botskis.mail.models import OutboxMail
from botskis.mail.service import MailKind, RenderedMail, queue_composed_later, queue_mail, render
from botskis.users import api_keys
from botskis.users.errors import (
    AccountTokenExpired,
    AccountTokenInvalid,
    AccountTokenUsed,
    EmailAlreadyVerified,
    EmailTaken,
    WrongPassword,
)
from botskis.users.models import AccountToken, TokenPurpose, User

TOKEN_BYTES = 32


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _ttl_text(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "1 hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


def _verify_ttl(settings: Settings) -> timedelta:
    return timedelta(hours=settings.email_verify_ttl_hours)


def _reset_ttl(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.password_reset_ttl_minutes)


async def _issue(
    session: AsyncSession, user: User, purpose: TokenPurpose, email: str, ttl: timedelta
) -> str:
    await session.execute(
        delete(AccountToken).where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
    )
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        AccountToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(raw),
            email=email,
            expires_at=utcnow() + ttl,
        )
    )
    return raw


async def _consume(session: AsyncSession, raw: str, purposes: set[TokenPurpose]) -> AccountToken:
    token = await session.scalar(
        select(AccountToken).where(AccountToken.token_hash == hash_token(raw)).with_for_update()
    )
    if token is None or token.purpose not in purposes:
        raise AccountTokenInvalid()
    if token.used_at is not None:
        raise AccountTokenUsed()
    now = utcnow()
    if token.expires_at <= now:
        raise AccountTokenExpired()
    used = await session.execute(
        update(AccountToken)
        .where(AccountToken.id == token.id, AccountToken.used_at.is_(None))
        .values(used_at=now)
    )
    if getattr(used, "rowcount", 0) != 1:
        raise AccountTokenUsed()
    return token


async def _locked_user(session: AsyncSession, token: AccountToken) -> User:
    user = await session.get(User, token.user_id, with_for_update=True, populate_existing=True)
    if user is None:
        raise AccountTokenInvalid()
    return user


async def send_verification(session: AsyncSession, settings: Settings, user: User) -> None:
    ttl = _verify_ttl(settings)
    raw = await _issue(session, user, TokenPurpose.VERIFY_EMAIL, user.email, ttl)
    await queue_mail(
        session,
        settings,
        kind=MailKind.VERIFY_EMAIL,
        to=user.email,
        user_id=user.id,
        link=f"{settings.public_base_url}/verify-email?token={raw}",
        full_name=user.full_name,
        ttl=_ttl_text(ttl),
    )


async def resend_verification(session: AsyncSession, settings: Settings, user: User) -> None:
    if user.email_verified_at is not None:
        raise EmailAlreadyVerified()
    await send_verification(session, settings, user)


async def verify_email(session: AsyncSession, settings: Settings, raw: str) -> User:
    """Consume a verification or email-change link and apply it."""
    token = await _consume(session, raw, {TokenPurpose.VERIFY_EMAIL, TokenPurpose.CHANGE_EMAIL})
    user = await _locked_user(session, token)
    now = utcnow()
    if token.purpose == TokenPurpose.VERIFY_EMAIL:
        if token.email != user.email:
            raise AccountTokenInvalid("This link is for an address the account no longer uses")
        user.email_verified_at = user.email_verified_at or now
    else:
        taken = await session.scalar(
            select(User.id).where(User.email == token.email, User.id != user.id)
        )
        if taken is not None:
            raise EmailTaken()
        old = user.email
        user.email = token.email
        user.email_verified_at = now
        await queue_mail(
            session,
            settings,
            kind=MailKind.EMAIL_CHANGED,
            to=old,
            user_id=user.id,
            full_name=user.full_name,
            new_address=token.email,
        )
    await session.flush()
    return user


async def request_email_change(
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    user: User,
    *,
    new_email: str,
    password: str,
) -> None:
    """Mail a confirmation link to the new address; the login address changes only
    when it is opened."""
    if not await hasher.verify(password, user.hashed_password):
        raise WrongPassword()
    if new_email == user.email:
        return
    if await session.scalar(select(User.id).where(User.email == new_email)) is not None:
        raise EmailTaken()
    ttl = _verify_ttl(settings)
    raw = await _issue(session, user, TokenPurpose.CHANGE_EMAIL, new_email, ttl)
    await queue_mail(
        session,
        settings,
        kind=MailKind.CHANGE_EMAIL,
        to=new_email,
        user_id=user.id,
        link=f"{settings.public_base_url}/verify-email?token={raw}",
        full_name=user.full_name,
        ttl=_ttl_text(ttl),
    )


def request_password_reset(session: AsyncSession, email: str) -> None:
    queue_composed_later(session, kind=MailKind.PASSWORD_RESET, to=email.strip().lower())


async def compose_password_reset(
    session: AsyncSession, settings: Settings, mail: OutboxMail
) -> RenderedMail | None:
    """The reset mail for the account with the requested address, or None when
    there is no such (active) account."""
    user = await session.scalar(select(User).where(User.email == mail.to_address))
    if user is None or not user.is_active:
        return None
    ttl = _reset_ttl(settings)
    raw = await _issue(session, user, TokenPurpose.RESET_PASSWORD, user.email, ttl)
    mail.user_id = user.id
    return render(
        settings,
        MailKind.PASSWORD_RESET,
        link=f"{settings.public_base_url}/reset-password?token={raw}",
        to_address=user.email,
        full_name=user.full_name,
        ttl=_ttl_text(ttl),
    )


async def confirm_password_reset(
    session: AsyncSession, hasher: PasswordHasher, settings: Settings, raw: str, new_password: str
) -> User:
    """Set the new password and end every token of the user (the token version)
    and every API key: whoever else held the account may have made some."""
    token = await _consume(session, raw, {TokenPurpose.RESET_PASSWORD})
    user = await _locked_user(session, token)
    if token.email != user.email:
        raise AccountTokenInvalid("This link is for an address the account no longer uses")
    user.hashed_password = await hasher.hash(new_password)
    user.token_version += 1
    await api_keys.revoke_all(session, user)
    # Opening the link proved the address is the user's.
    user.email_verified_at = user.email_verified_at or utcnow()
    await session.flush()
    await notify_password_changed(
        session, settings, user, how="reset with a link sent to this address"
    )
    return user


async def notify_password_changed(
    session: AsyncSession, settings: Settings, user: User, *, how: str
) -> None:
    await queue_mail(
        session,
        settings,
        kind=MailKind.PASSWORD_CHANGED,
        to=user.email,
        user_id=user.id,
        full_name=user.full_name,
        how=how,
    )
