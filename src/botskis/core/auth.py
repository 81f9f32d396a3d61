"""Who is calling: bearer-token dependencies every private route stands on."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from loguru import logger
from starlette.types import Scope

from botskis.api.dependencies import SessionDep
from botskis.config import Settings
from botskis.core.browser_session import VIA_COOKIE_KEY, require_csrf, session_token
from botskis.core.errors import Unauthorized
from botskis.core.ratelimit import RateLimiter
from botskis.core.security import InvalidToken, TokenClaims
from botskis.users.errors import InactiveUser, SuperuserRequired
from botskis.users.models import User
from botskis.users.token_cache import TokenCache

# Describes the scheme in OpenAPI (api/router.py); the header itself is read by
# `bearer_token`, because every dependency node costs a private request measurably.
bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def current_user(request: Request) -> User:
    """The caller, as the process's cached snapshot: no query and no session on a
    hit (see users/token_cache.py for how logout and password changes still take
    effect at once). The snapshot is shared by concurrent requests, so it is read
    only: a route that changes the user row takes `UserForUpdate` instead."""
    token = bearer_token(request.scope)
    from_cookie = False
    if not token:
        # The dashboard's session cookie is the other source of the same token.
        token = session_token(request)
        from_cookie = token is not None
    if not token:
        raise Unauthorized("Not authenticated: send an Authorization: Bearer token")
    cache: TokenCache = request.app.state.token_cache
    try:
        cached, claims = await cache.resolve(token)
    except InvalidToken as exc:
        logger.bind(security=True, reason=str(exc)[:80]).warning("token rejected")
        raise Unauthorized("The access token is invalid, expired or revoked") from exc
    if not cached.is_active:
        raise InactiveUser()
    state = request.scope["state"]
    if from_cookie:
        require_csrf(request, claims, cache.secret_key)
        state[VIA_COOKIE_KEY] = True
    state["user_id"] = cached.id
    state["token_claims"] = claims
    # Settings come from app.state, not a dependency: every private request runs this.
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.enforce(state, settings.rate_limit_user, "user", cached.id_text)
    return cached.user


def bearer_token(scope: Scope) -> str | None:
    """The credentials of the first Authorization header when its scheme is Bearer."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials:
                return credentials.strip()
            return None
    return None


async def user_for_update(
    user: Annotated[User, Depends(current_user)], session: SessionDep
) -> User:
    """A private copy of the caller in the request's session, to change and flush
    like any row (the cached snapshot itself must never be changed)."""
    return await session.merge(user, load=False)


async def current_claims(
    request: Request, _user: Annotated[User, Depends(current_user)]
) -> TokenClaims:
    claims: TokenClaims = request.state.token_claims
    return claims


async def current_superuser(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_superuser:
        logger.bind(security=True, user_id=str(user.id)).warning("permission denied")
        raise SuperuserRequired()
    return user


CurrentUser = Annotated[User, Depends(current_user)]
UserForUpdate = Annotated[User, Depends(user_for_update)]
CurrentClaims = Annotated[TokenClaims, Depends(current_claims)]
Superuser = Annotated[User, Depends(current_superuser)]
