"""Personal API keys for scripts and integrations.

A key is `bk_live_` followed by 256 random bits; only its SHA-256 is stored (a
fast hash is enough for that much entropy) and its first characters, to show.
The token check (users/token_cache.py) finds a key by that hash; scopes are
enforced by the routers' declared access (core/auth.py, api/router.py)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.core.errors import ValidationFailed
from botskis.database.base import utcnow
from botskis.users.errors import ApiKeyNotFound, TooManyApiKeys
from botskis.users.models import ApiKey, User
from botskis.users.scopes import Scope

KEY_PREFIX = "bk_live_"
PREFIX_CHARS = len(KEY_PREFIX) + 8
MAX_KEYS_PER_USER = 50
# last_used_at is written at most this often per key and process.
LAST_USED_GRANULARITY_SECONDS = 60


def is_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(
    session: AsyncSession,
    user: User,
    *,
    name: str,
    scopes: list[Scope],
    expires_at: datetime | None,
) -> tuple[ApiKey, str]:
    """A new key and its one and only plain-text copy. `user` is locked for update,
    so concurrent creations cannot pass the limit together."""
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed(
            "The expiry is in the past",
            [{"field": "expires_at", "message": "must be in the future"}],
        )
    held = await session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user.id)
    )
    if (held or 0) >= MAX_KEYS_PER_USER:
        raise TooManyApiKeys(MAX_KEYS_PER_USER)
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        user_id=user.id,
        name=name,
        prefix=raw[:PREFIX_CHARS],
        key_hash=digest(raw),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    return key, raw


async def list_keys(session: AsyncSession, user_id: uuid.UUID) -> list[ApiKey]:
    keys = await session.scalars(
        select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at.desc())
    )
    return list(keys)


async def revoke_key(session: AsyncSession, user_id: uuid.UUID, key_id: uuid.UUID) -> None:
    """Delete the key; the commit drops it from every process's token cache."""
    key = await session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id))
    if key is None:
        raise ApiKeyNotFound()
    await session.delete(key)
    await session.flush()


async def revoke_all(session: AsyncSession, user: User) -> None:
    """Every key of the user, for a password reset (the account may have been in
    someone else's hands). The user row changes in the same commit, which
    invalidates the token caches."""
    await session.execute(delete(ApiKey).where(ApiKey.user_id == user.id))


async def find_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    found: ApiKey | None = await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
    return found
