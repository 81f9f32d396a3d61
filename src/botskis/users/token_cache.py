"""A per-process cache that makes an authenticated request cost no database query.

Three things are cached:

* verified tokens: the claims of a token string whose signature was checked once
  (bounded; expiry is still checked on every use);
* API keys, by their hash, for at most AUTH_CACHE_SECONDS: owner, scopes and
  expiry (expiry is checked on every use);
* per user, for at most AUTH_CACHE_SECONDS: a frozen snapshot of the user row
  (`Caller`), the set of that user's revoked token ids and the set of their
  revoked sessions (an access token carries its session's id).

Revocation stays correct because every committed change that affects a token —
a User row updated or deleted (password change bumps `token_version`, deactivation,
plan change), a RevokedToken inserted (logout), an ApiKey deleted (revoked) or a
session revoked — is seen by SQLAlchemy session
events: after the commit the user's entry is dropped from every cache in this
process, so the next request reloads it (immediate here). Other processes hear of
it through Redis pub/sub when REDIS_URL is set (milliseconds; a process whose
subscription broke clears its whole cache when it reconnects); without Redis they
reload within AUTH_CACHE_SECONDS. Bulk `update(User)` statements bypass the ORM
events: call `invalidate_users(...)` after such a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from loguru import logger
from sqlalchemy import event, inspect, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, UOWTransaction

from botskis.config import Settings
from botskis.core.security import InvalidToken, TokenClaims, decode_access_token
from botskis.database.connection import Database
from botskis.users import api_keys
from botskis.users.caller import Caller
from botskis.users.models import ApiKey, RevokedToken, User, UserSession
from botskis.users.scopes import Scope

MAX_CACHED_TOKENS = 50_000
# A session's last_used_at is written at most this often per session and process.
SESSION_USE_GRANULARITY_SECONDS = 60.0
CHANGED_KEY = "botskis.auth_changed"

_caches: weakref.WeakSet[TokenCache] = weakref.WeakSet()
_background: set[asyncio.Task[None]] = set()


@dataclass(frozen=True, slots=True)
class CachedUser:
    caller: Caller
    revoked: frozenset[str]
    revoked_sessions: frozenset[uuid.UUID]
    loaded_at: float


@dataclass(frozen=True, slots=True)
class CachedKey:
    key_id: uuid.UUID
    user_id: uuid.UUID
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime | None
    # When this key's use was last recorded (epoch seconds), by anyone we know of.
    used_at: float
    loaded_at: float


class TokenCache:
    def __init__(self, settings: Settings, database: Database) -> None:
        self.secret_key = settings.secret_key
        self.ttl = settings.auth_cache_seconds
        self.database = database
        self.channel = f"{settings.rate_limit_prefix}:auth-invalidate"
        self.redis_url = settings.redis_url
        self.tokens: dict[str, tuple[TokenClaims, float]] = {}
        self.users: dict[uuid.UUID, CachedUser] = {}
        self.keys: dict[str, CachedKey] = {}
        # When this process last recorded each session's use (epoch seconds).
        self.session_uses: dict[uuid.UUID, float] = {}
        self.epoch = 0
        self.redis: Any = None
        self.listener: asyncio.Task[None] | None = None
        _caches.add(self)

    async def resolve(self, token: str) -> tuple[Caller, TokenClaims]:
        """A snapshot of the user a token (or an API key) speaks for, or InvalidToken."""
        if api_keys.is_api_key(token):
            return await self._resolve_key(token)
        cached = self.tokens.get(token)
        if cached is None:
            claims = decode_access_token(self.secret_key, token)
            if len(self.tokens) >= MAX_CACHED_TOKENS:
                self.tokens.clear()
            self.tokens[token] = (claims, claims.expires_at.timestamp())
        else:
            claims, expires = cached
            if expires <= time.time():
                del self.tokens[token]
                raise InvalidToken("expired")
        state = await self._user(claims.subject)
        if (
            claims.jti in state.revoked
            or state.caller.token_version != claims.version
            or claims.session_id in state.revoked_sessions
        ):
            raise InvalidToken("revoked")
        if claims.session_id is not None:
            now = time.time()
            if now - self.session_uses.get(claims.session_id, 0.0) >= (
                SESSION_USE_GRANULARITY_SECONDS
            ):
                await self._record_session_use(claims.session_id, now)
        return state.caller, claims

    async def _record_session_use(self, session_id: uuid.UUID, now: float) -> None:
        if len(self.session_uses) >= MAX_CACHED_TOKENS:
            self.session_uses.clear()
        self.session_uses[session_id] = now
        await self._record_last_use(UserSession, session_id, now)

    async def _record_last_use(
        self, model: type[UserSession] | type[ApiKey], row_id: uuid.UUID, now: float
    ) -> None:
        """last_used_at of a session or an API key, in a transaction of its own: a
        busy database costs the timestamp (logged), never the request. A bulk
        update fires no ORM event, so recording a use invalidates no cache."""
        try:
            async with self.database.transaction() as session:
                await session.execute(
                    update(model)
                    .where(model.id == row_id)
                    .values(last_used_at=datetime.fromtimestamp(now, UTC))
                )
        except SQLAlchemyError as exc:
            logger.bind(error=type(exc).__name__, table=model.__tablename__).warning(
                "last use not recorded"
            )

    async def _user(self, user_id: uuid.UUID) -> CachedUser:
        state = self.users.get(user_id)
        if state is None or time.monotonic() - state.loaded_at >= self.ttl:
            state = await self._load(user_id)
        return state

    async def _resolve_key(self, raw: str) -> tuple[Caller, TokenClaims]:
        """The key's owner, narrowed to the key's scopes. Its claims name the key
        (as `jti`) and its expiry; nothing revokes a key but deleting it."""
        key_hash = api_keys.digest(raw)
        key = self.keys.get(key_hash)
        if key is None or time.monotonic() - key.loaded_at >= self.ttl:
            key = await self._load_key(key_hash)
        now = time.time()
        if key.expires_at is not None and key.expires_at.timestamp() <= now:
            raise InvalidToken("api key expired")
        state = await self._user(key.user_id)
        if now - key.used_at >= api_keys.LAST_USED_GRANULARITY_SECONDS:
            await self._record_use(key_hash, key, now)
        caller = replace(state.caller, api_key_id=key.key_id, scopes=key.scopes)
        claims = TokenClaims(
            subject=key.user_id,
            jti=key.key_id.hex,
            issued_at=key.created_at,
            expires_at=key.expires_at or datetime.max.replace(tzinfo=UTC),
            version=state.caller.token_version,
        )
        return caller, claims

    async def _load_key(self, key_hash: str) -> CachedKey:
        epoch = self.epoch
        async with self.database.sessions() as session:
            row = await api_keys.find_by_hash(session, key_hash)
            if row is None:
                raise InvalidToken("unknown or revoked api key")
            key = CachedKey(
                key_id=row.id,
                user_id=row.user_id,
                scopes=frozenset(Scope(s) for s in row.scopes),
                created_at=row.created_at,
                expires_at=row.expires_at,
                used_at=row.last_used_at.timestamp() if row.last_used_at else 0.0,
                loaded_at=time.monotonic(),
            )
        if self.ttl > 0 and epoch == self.epoch:
            if len(self.keys) >= MAX_CACHED_TOKENS:
                self.keys.clear()
            self.keys[key_hash] = key
        return key

    async def _record_use(self, key_hash: str, key: CachedKey, now: float) -> None:
        used = replace(key, used_at=now)
        if self.keys.get(key_hash) is key:
            self.keys[key_hash] = used
        await self._record_last_use(ApiKey, key.key_id, now)

    async def _load(self, user_id: uuid.UUID) -> CachedUser:
        epoch = self.epoch
        async with self.database.sessions() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise InvalidToken("unknown user")
            revoked = await session.scalars(
                select(RevokedToken.jti).where(
                    RevokedToken.user_id == user_id, RevokedToken.expires_at > datetime.now(UTC)
                )
            )
            # An expired session's access tokens have expired too.
            ended = await session.scalars(
                select(UserSession.id).where(
                    UserSession.user_id == user_id,
                    UserSession.revoked_at.is_not(None),
                    UserSession.expires_at > datetime.now(UTC),
                )
            )
            state = CachedUser(
                Caller.of(user), frozenset(revoked), frozenset(ended), time.monotonic()
            )
        # An invalidation that arrived while we read may describe a newer state.
        if self.ttl > 0 and epoch == self.epoch:
            self.users[user_id] = state
        return state

    def invalidate(self, user_ids: Iterable[uuid.UUID]) -> None:
        self.epoch += 1
        dropped = set(user_ids)
        for user_id in dropped:
            self.users.pop(user_id, None)
        if self.keys:
            self.keys = {h: k for h, k in self.keys.items() if k.user_id not in dropped}

    def clear(self) -> None:
        self.epoch += 1
        self.users.clear()
        self.keys.clear()

    async def start(self) -> None:
        """Listen for other processes' invalidations (only with Redis)."""
        if self.redis_url and self.ttl > 0:
            from redis.asyncio import Redis

            self.redis = Redis.from_url(self.redis_url, socket_connect_timeout=2)
            self.listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self.listener is not None:
            self.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.listener
        if self.redis is not None:
            await self.redis.aclose()

    async def publish(self, user_ids: list[str]) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.publish(self.channel, json.dumps(user_ids))
        except Exception as exc:
            logger.bind(error=type(exc).__name__).warning("auth invalidation not published")

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    # Anything may have changed while we were not listening.
                    self.clear()
                    delay = 0.5
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            ids = json.loads(message["data"])
                            self.invalidate(uuid.UUID(i) for i in ids)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.bind(error=type(exc).__name__).warning(
                    "auth invalidation channel lost; retrying"
                )
                self.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)


def invalidate_users(user_ids: Iterable[uuid.UUID]) -> None:
    """Drop these users from every cache in this process and tell the others."""
    ids = list(user_ids)
    if not ids:
        return
    for cache in list(_caches):
        cache.invalidate(ids)
    publishers = [c for c in list(_caches) if c.redis is not None]
    if not publishers:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    payload = [str(i) for i in ids]
    for cache in publishers:
        task = loop.create_task(cache.publish(payload))
        _background.add(task)
        task.add_done_callback(_background.discard)


@event.listens_for(Session, "after_flush")
def _collect_changed_users(session: Session, _context: UOWTransaction) -> None:
    changed: set[uuid.UUID] | None = None
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, User):
            changed = changed or session.info.setdefault(CHANGED_KEY, set())
            changed.add(obj.id)
    for obj in session.new:
        if isinstance(obj, RevokedToken):
            changed = changed or session.info.setdefault(CHANGED_KEY, set())
            changed.add(obj.user_id)
    for obj in session.dirty:
        # A refresh also changes its session (last use): only a revocation counts.
        if isinstance(obj, UserSession) and inspect(obj).attrs.revoked_at.history.has_changes():
            changed = changed or session.info.setdefault(CHANGED_KEY, set())
            changed.add(obj.user_id)
    for obj in session.deleted:
        if isinstance(obj, ApiKey):
            changed = changed or session.info.setdefault(CHANGED_KEY, set())
            changed.add(obj.user_id)


@event.listens_for(Session, "after_commit")
def _invalidate_committed(session: Session) -> None:
    changed = session.info.pop(CHANGED_KEY, None)
    if changed:
        invalidate_users(changed)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(CHANGED_KEY, None)
