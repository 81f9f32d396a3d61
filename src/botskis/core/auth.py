"""Who is calling: the one token check, and the dependencies private routes stand on.

`authenticate_token` is the only place a token string becomes a caller; the
bearer header (HTTP) and the WebSocket handshake both call it, and so does any
other source of the same token. An API key (`bk_live_...`) is such a token too:
its caller carries the key's scopes, which the access each private router
declares (`scoped`, `account_management`, listed in api/router.py) enforces."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from loguru import logger
from sqlalchemy import select

from botskis.api.dependencies import SessionDep, SettingsDep
from botskis.core.browser_session import (
    SAFE_METHODS,
    VIA_COOKIE_KEY,
    require_csrf,
    session_token,
)
from botskis.core.errors import AppError, Unauthorized
from botskis.core.ratelimit import enforce
from botskis.core.security import InvalidToken, TokenClaims
from botskis.users.caller import Caller
from botskis.users.errors import (
    ApiKeyRefused,
    EmailNotVerified,
    InactiveUser,
    MissingScope,
    SuperuserRequired,
)
from botskis.users.models import User
from botskis.users.scopes import Scope
from botskis.users.token_cache import TokenCache

bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
# Where a request keeps the outcome of its token check (scope state).
AUTHENTICATION_KEY = "authentication"


@dataclass(frozen=True, slots=True)
class Authenticated:
    caller: Caller
    claims: TokenClaims


async def authenticate_token(cache: TokenCache, token: str) -> Authenticated:
    """The caller a raw access token speaks for. Raises Unauthorized for a bad,
    expired or revoked token and InactiveUser for a deactivated account."""
    try:
        caller, claims = await cache.resolve(token)
    except InvalidToken as exc:
        logger.bind(security=True, reason=str(exc)[:80]).warning("token rejected")
        raise Unauthorized("The access token is invalid, expired or revoked") from exc
    if not caller.is_active:
        raise InactiveUser()
    return Authenticated(caller, claims)


async def authenticate_request(
    state: MutableMapping[str, Any], cache: TokenCache, token: str
) -> Authenticated:
    """`authenticate_token`, once per request: the rate-limit edge asks first (an
    authenticated caller is outside the per-IP limit), the route's dependency
    reuses the answer, and a bad token is logged once."""
    outcome = state.get(AUTHENTICATION_KEY)
    if outcome is None:
        try:
            outcome = await authenticate_token(cache, token)
        except AppError as exc:
            outcome = exc
        state[AUTHENTICATION_KEY] = outcome
    if isinstance(outcome, AppError):
        raise outcome
    assert isinstance(outcome, Authenticated)
    return outcome


async def current_authentication(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(bearer_scheme)],
) -> Authenticated:
    """The bearer token's caller, or the dashboard's session cookie's (the other
    source of the same token, core/browser_session.py), counted against the
    per-user rate limit."""
    from_cookie = False
    if not token:
        token = session_token(request)
        from_cookie = token is not None
    if not token:
        raise Unauthorized("Not authenticated: send an Authorization: Bearer token")
    cache: TokenCache = request.app.state.token_cache
    state = request.scope.setdefault("state", {})
    authenticated = await authenticate_request(state, cache, token)
    if from_cookie:
        require_csrf(request, authenticated.claims, settings.secret_key)
        state[VIA_COOKIE_KEY] = True
    await enforce(request, settings.rate_limit_user, "user", str(authenticated.caller.id))
    return authenticated


async def current_user(
    authenticated: Annotated[Authenticated, Depends(current_authentication)],
) -> Caller:
    return authenticated.caller


AccessCheck = Callable[..., Awaitable[Caller]]


def scoped(read: Scope, write: Scope) -> AccessCheck:
    """A router's access for API keys: its safe methods (GET, HEAD) need `read`,
    the others `write`. Callers that are not keys pass."""

    async def require_scope(request: Request, caller: CurrentUser) -> Caller:
        needed = read if request.method in SAFE_METHODS else write
        if not caller.allows(needed):
            logger.bind(
                security=True, user_id=str(caller.id), api_key_id=str(caller.api_key_id)
            ).warning("api key scope missing")
            raise MissingScope(needed)
        return caller

    return require_scope


async def account_management(caller: CurrentUser) -> Caller:
    """Routes that change the account itself: no API key reaches them."""
    if caller.api_key_id is not None:
        logger.bind(
            security=True, user_id=str(caller.id), api_key_id=str(caller.api_key_id)
        ).warning("api key refused for account management")
        raise ApiKeyRefused()
    return caller


async def current_claims(
    authenticated: Annotated[Authenticated, Depends(current_authentication)],
) -> TokenClaims:
    return authenticated.claims


async def user_for_update(
    caller: Annotated[Caller, Depends(current_user)], session: SessionDep
) -> User:
    """The caller's row in the request's session, locked, to change and flush."""
    user = await session.scalar(select(User).where(User.id == caller.id).with_for_update())
    if user is None:  # deleted between the token check and this query
        raise Unauthorized("The access token is invalid, expired or revoked")
    return user


async def current_superuser(caller: Annotated[Caller, Depends(current_user)]) -> Caller:
    if not caller.is_superuser:
        logger.bind(security=True, user_id=str(caller.id)).warning("permission denied")
        raise SuperuserRequired()
    return caller


async def verified_user(
    settings: SettingsDep, caller: Annotated[Caller, Depends(current_user)]
) -> Caller:
    """The caller, who must have verified their email address when
    REQUIRE_VERIFIED_EMAIL is on: deploying and running agents stand on this."""
    if settings.email_verification_required and caller.email_verified_at is None:
        raise EmailNotVerified()
    return caller


CurrentUser = Annotated[Caller, Depends(current_user)]
VerifiedUser = Annotated[Caller, Depends(verified_user)]
UserForUpdate = Annotated[User, Depends(user_for_update)]
CurrentClaims = Annotated[TokenClaims, Depends(current_claims)]
Superuser = Annotated[Caller, Depends(current_superuser)]
