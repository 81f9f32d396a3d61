from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response, status
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.api.dependencies import DatabaseDep, HasherDep, SessionDep, SettingsDep
from botskis.config import Settings
from botskis.core import browser_session, metrics
from botskis.core.auth import (
    CurrentClaims,
    CurrentUser,
    Superuser,
    UserForUpdate,
    authenticate_token,
)
from botskis.core.errors import AppError, Unauthorized, ValidationFailed
from botskis.core.pagination import Page, PageDep
from botskis.core.ratelimit import client_ip, enforce
from botskis.database.connection import Database
from botskis.users import api_keys, schemas, service, sessions, two_factor, verification
from botskis.users.caller import Caller
from botskis.users.errors import PasswordConfirmationRequired, RefreshTokenInvalid
from botskis.users.lockout import CodeLockout
from botskis.users.models import ApiKey, User, UserSession
from botskis.users.sessions import RevokeReason

public_router = APIRouter(tags=["auth"])
router = APIRouter(tags=["users"])


@public_router.post("/users", status_code=status.HTTP_201_CREATED, response_model=schemas.User)
async def sign_up(
    request: Request,
    body: schemas.UserCreate,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> User:
    await enforce(request, settings.rate_limit_signup, "signup", client_ip(request))
    user = await service.create_user(
        session,
        hasher,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        company=body.company,
    )
    await verification.send_verification(session, settings, user)
    logger.bind(security=True, user_id=str(user.id)).info("signup")
    return user


@public_router.post("/auth/verify-email", response_model=schemas.User)
async def verify_email(
    body: schemas.VerifyEmail, session: SessionDep, settings: SettingsDep
) -> User:
    user = await verification.verify_email(session, settings, body.token)
    logger.bind(security=True, user_id=str(user.id)).info("email verified")
    return user


RESET_ACCEPTED = schemas.Accepted(
    detail="If an account uses this address, a link to reset its password is on its way"
)


@public_router.post(
    "/auth/password-reset", status_code=status.HTTP_202_ACCEPTED, response_model=schemas.Accepted
)
async def request_password_reset(
    request: Request, body: schemas.PasswordResetRequest, session: SessionDep, settings: SettingsDep
) -> schemas.Accepted:
    """The same answer, after the same work, whether or not the account exists: the
    worker looks the address up when it composes the mail."""
    await enforce(request, settings.rate_limit_login, "reset-ip", client_ip(request))
    await enforce(request, settings.rate_limit_account_mail, "reset-email", body.email)
    verification.request_password_reset(session, body.email)
    return RESET_ACCEPTED


@public_router.post("/auth/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT)
async def confirm_password_reset(
    request: Request,
    body: schemas.PasswordResetConfirm,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> Response:
    await enforce(request, settings.rate_limit_login, "reset-confirm-ip", client_ip(request))
    user = await verification.confirm_password_reset(
        session, hasher, settings, body.token, body.new_password
    )
    logger.bind(security=True, user_id=str(user.id)).info("password reset")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/auth/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.Accepted,
)
async def resend_verification(
    request: Request, user: UserForUpdate, session: SessionDep, settings: SettingsDep
) -> schemas.Accepted:
    await enforce(request, settings.rate_limit_account_mail, "verify-resend", str(user.id))
    await verification.resend_verification(session, settings, user)
    return schemas.Accepted(detail=f"A new verification link is on its way to {user.email}")


async def get_lockout(request: Request) -> CodeLockout:
    lockout: CodeLockout = request.app.state.code_lockout
    return lockout


LockoutDep = Annotated[CodeLockout, Depends(get_lockout)]


async def _authenticate(
    request: Request,
    database: Database,
    hasher: HasherDep,
    settings: SettingsDep,
    email: str,
    password: str,
) -> User:
    """Limited per client IP and, separately, per email, before any bcrypt work."""
    await enforce(request, settings.rate_limit_login, "login-ip", client_ip(request))
    await enforce(request, settings.rate_limit_login, "login-email", email.strip().lower())
    # The row is read in a transaction of its own, ended before the bcrypt check:
    # a login must not hold a pooled connection for a fifth of a second of CPU,
    # or a burst of logins empties the pool for every other request.
    async with database.transaction() as session:
        found = await service.get_by_email(session, email)
    try:
        user = await service.verify_credentials(hasher, found, password)
    except AppError:
        metrics.LOGIN_FAILURES.inc()
        logger.bind(security=True).warning("login failed")
        raise
    return user


def _client(request: Request) -> sessions.Client:
    return sessions.Client(user_agent=request.headers.get("user-agent", ""), ip=client_ip(request))


def _token_body(tokens: sessions.IssuedTokens) -> schemas.Token:
    return schemas.Token(
        access_token=tokens.access.token,
        expires_in=tokens.access.expires_in,
        refresh_token=tokens.refresh_token,
        refresh_expires_in=tokens.refresh_expires_in,
        session_id=tokens.session_id,
    )


async def _tokens(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    user: User,
    lifetime: schemas.TokenLifetime,
) -> schemas.Token:
    minutes = (
        settings.access_token_expire_minutes
        if lifetime == "long"
        else settings.access_token_minutes
    )
    tokens = await sessions.start_session(
        session, settings, user, _client(request), access_minutes=minutes
    )
    logger.bind(security=True, user_id=str(user.id), session_id=str(tokens.session_id)).info(
        "login succeeded"
    )
    return _token_body(tokens)


@public_router.post(
    "/auth/login",
    response_model=schemas.Token | schemas.MfaChallenge,
    responses={401: {"description": "Incorrect email or password"}},
)
async def login(
    request: Request,
    body: schemas.ApiLoginRequest,
    database: DatabaseDep,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> schemas.Token | schemas.MfaChallenge:
    """Tokens of a new session (an access token, by default long-lived, and a
    refresh token), or for an account with two-factor authentication an
    `mfa_token` to complete with the code at POST /api/v1/auth/login/mfa."""
    user = await _authenticate(request, database, hasher, settings, body.email, body.password)
    if user.two_factor_enabled:
        logger.bind(security=True, user_id=str(user.id)).info("password accepted; code required")
        challenge = service.issue_mfa_token(settings, user)
        return schemas.MfaChallenge(mfa_token=challenge.token, expires_in=challenge.expires_in)
    return await _tokens(request, session, settings, user, body.token_lifetime)


@public_router.post(
    "/auth/login/mfa",
    response_model=schemas.Token,
    responses={
        401: {"description": "The mfa_token or the code is not valid"},
        429: {"description": "Too many wrong codes for this account"},
    },
)
async def login_mfa(
    request: Request,
    body: schemas.ApiMfaLogin,
    session: SessionDep,
    settings: SettingsDep,
    lockout: LockoutDep,
) -> schemas.Token:
    user = await _second_factor(request, body, session, settings, lockout)
    return await _tokens(request, session, settings, user, body.token_lifetime)


@public_router.post(
    "/auth/refresh",
    response_model=schemas.Token,
    responses={
        401: {"description": "The refresh token is invalid, expired, revoked or reused"},
        403: {"description": "The account is disabled"},
    },
)
async def refresh(
    request: Request, body: schemas.RefreshRequest, database: DatabaseDep, settings: SettingsDep
) -> schemas.Token:
    """Exchange a refresh token for a new one and a short-lived access token
    (ACCESS_TOKEN_MINUTES). The old refresh token stops working; presenting it
    again revokes the whole session. A 256-bit token cannot be guessed: the per-IP
    limit of anonymous requests is the only one."""
    _user, tokens = await _rotate(request, database, settings, body.refresh_token)
    return _token_body(tokens)


async def _rotate(
    request: Request,
    database: Database,
    settings: Settings,
    raw: str,
) -> tuple[User, sessions.IssuedTokens]:
    """Rotate in a transaction of its own: a detected reuse revokes the session,
    and that must be committed before the 401 goes out."""
    async with database.transaction() as session:
        outcome = await sessions.rotate(session, settings, raw, _client(request))
    if isinstance(outcome, sessions.Reuse):
        raise RefreshTokenInvalid()
    return outcome


async def _second_factor(
    request: Request,
    body: schemas.MfaLogin,
    session: AsyncSession,
    settings: Settings,
    lockout: CodeLockout,
) -> User:
    """The user whose mfa_token and code are right; the token is spent with the
    request's commit."""
    await enforce(request, settings.rate_limit_login, "login-ip", client_ip(request))
    user, claims = await service.user_of_mfa_token(session, settings, body.mfa_token)
    ok = await two_factor.check_code(
        session, settings, lockout, user.id, code=body.code, recovery_code=body.recovery_code
    )
    if not ok:
        metrics.LOGIN_FAILURES.inc()
        logger.bind(security=True, user_id=str(user.id)).warning("second factor failed")
        raise Unauthorized("The code is not valid", reason="code_invalid")
    service.spend_mfa_token(session, user, claims)
    return user


@public_router.post(
    "/auth/token",
    response_model=schemas.Token,
    responses={401: {"description": "Incorrect email or password"}},
)
async def login_form(
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=254)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    database: DatabaseDep,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> schemas.Token:
    """OAuth2 password flow, for the Authorize button in /docs (accounts with
    two-factor authentication log in with /auth/login and /auth/login/mfa)."""
    user = await _authenticate(request, database, hasher, settings, username, password)
    if user.two_factor_enabled:
        raise Unauthorized(
            "This account uses two-factor authentication: log in with POST "
            "/api/v1/auth/login, then POST /api/v1/auth/login/mfa",
            reason="mfa_required",
        )
    return await _tokens(request, session, settings, user, "long")


@public_router.post(
    "/auth/session",
    response_model=schemas.BrowserSession | schemas.MfaChallenge,
    responses={401: {"description": "Incorrect email or password"}},
)
async def start_browser_session(
    request: Request,
    response: Response,
    body: schemas.LoginRequest,
    database: DatabaseDep,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> schemas.BrowserSession | schemas.MfaChallenge:
    """Log in for the web dashboard: the short-lived access token goes into an
    httpOnly cookie (`botskis_session`), never into the body, the refresh token
    into the httpOnly `botskis_refresh` (sent only to /api/v1/auth), and the CSRF
    token into the readable `botskis_csrf` cookie and the body. Unsafe requests
    authenticated by the cookie must echo it in `X-CSRF-Token`."""
    user = await _authenticate(request, database, hasher, settings, body.email, body.password)
    if user.two_factor_enabled:
        logger.bind(security=True, user_id=str(user.id)).info("password accepted; code required")
        challenge = service.issue_mfa_token(settings, user)
        return schemas.MfaChallenge(mfa_token=challenge.token, expires_in=challenge.expires_in)
    tokens = await sessions.start_session(
        session, settings, user, _client(request), access_minutes=settings.access_token_minutes
    )
    logger.bind(security=True, user_id=str(user.id), session_id=str(tokens.session_id)).info(
        "login succeeded"
    )
    return _browser_session(request, response, settings, user, tokens)


def _browser_session(
    request: Request,
    response: Response,
    settings: Settings,
    user: User,
    tokens: sessions.IssuedTokens,
) -> schemas.BrowserSession:
    csrf = browser_session.set_session_cookies(
        response,
        request,
        settings,
        session_id=tokens.session_id,
        access=tokens.access,
        refresh=tokens.refresh_token,
        refresh_max_age=tokens.refresh_expires_in,
    )
    response.headers["cache-control"] = "no-store"
    return schemas.BrowserSession(
        user=schemas.User.model_validate(user), csrf_token=csrf, expires_at=tokens.access.expires_at
    )


@public_router.post(
    "/auth/session/refresh",
    response_model=schemas.BrowserSession,
    responses={
        401: {"description": "No refresh cookie, or it is invalid, expired, revoked or reused"},
        403: {"description": "The refresh cookie came without its X-CSRF-Token"},
    },
)
async def refresh_browser_session(
    request: Request, response: Response, database: DatabaseDep, settings: SettingsDep
) -> schemas.BrowserSession:
    """The dashboard's silent renewal: exchange the `botskis_refresh` cookie (with the
    CSRF echo) for new session and refresh cookies."""
    raw = browser_session.refresh_token(request)
    if raw is None:
        raise RefreshTokenInvalid()
    async with database.transaction() as session:
        row = await sessions.session_of_refresh_token(session, raw)
    browser_session.require_csrf_of(request, row.user_id, str(row.id), settings.secret_key)
    user, tokens = await _rotate(request, database, settings, raw)
    return _browser_session(request, response, settings, user, tokens)


@public_router.post(
    "/auth/session/mfa",
    response_model=schemas.BrowserSession,
    responses={
        401: {"description": "The mfa_token or the code is not valid"},
        429: {"description": "Too many wrong codes for this account"},
    },
)
async def complete_browser_session(
    request: Request,
    response: Response,
    body: schemas.MfaLogin,
    session: SessionDep,
    settings: SettingsDep,
    lockout: LockoutDep,
) -> schemas.BrowserSession:
    """The dashboard's second step for an account with two-factor authentication."""
    user = await _second_factor(request, body, session, settings, lockout)
    tokens = await sessions.start_session(
        session, settings, user, _client(request), access_minutes=settings.access_token_minutes
    )
    logger.bind(security=True, user_id=str(user.id), session_id=str(tokens.session_id)).info(
        "login succeeded"
    )
    return _browser_session(request, response, settings, user, tokens)


@public_router.delete(
    "/auth/session",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: {"description": "The session cookie came without its X-CSRF-Token"}},
)
async def end_browser_session(
    request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """Log the dashboard out: revoke the cookie's session (with the CSRF echo) and
    clear the cookies. Without a working access cookie the refresh cookie names the
    session; cookies that no longer work are simply cleared."""
    token = browser_session.session_token(request)
    ended: tuple[uuid.UUID, uuid.UUID | None] | None = None
    if token is not None:
        try:
            authenticated = await authenticate_token(request.app.state.token_cache, token)
        except AppError:
            pass  # expired, revoked, or a disabled account: try the refresh cookie
        else:
            browser_session.require_csrf(request, authenticated.claims, settings.secret_key)
            await service.revoke_token(session, authenticated.caller.id, authenticated.claims)
            ended = (authenticated.caller.id, authenticated.claims.session_id)
    raw = browser_session.refresh_token(request)
    if ended is None and raw is not None:
        try:
            row = await sessions.session_of_refresh_token(session, raw)
        except RefreshTokenInvalid:
            pass
        else:
            browser_session.require_csrf_of(request, row.user_id, str(row.id), settings.secret_key)
            ended = (row.user_id, row.id)
    if ended is not None and ended[1] is not None:
        await sessions.end_session(session, ended[0], ended[1])
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    browser_session.clear_session_cookies(response, request, settings)
    return response


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(user: CurrentUser, claims: CurrentClaims, session: SessionDep) -> Response:
    """Revoke the presented token and the session it belongs to (with its refresh
    token)."""
    await service.revoke_token(session, user.id, claims)
    if claims.session_id is not None:
        await sessions.end_session(session, user.id, claims.session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _session_view(row: UserSession, current: uuid.UUID | None) -> schemas.LoginSession:
    return schemas.LoginSession(
        id=row.id,
        user_agent=row.user_agent,
        ip=row.ip,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        current=row.id == current,
    )


@router.get("/users/me/sessions", response_model=list[schemas.LoginSession])
async def list_my_sessions(
    user: CurrentUser, claims: CurrentClaims, session: SessionDep
) -> list[schemas.LoginSession]:
    """The account's signed-in sessions, most recently used first; `current` marks
    the one this request belongs to."""
    rows = await sessions.list_sessions(session, user.id)
    return [_session_view(row, claims.session_id) for row in rows]


@router.delete(
    "/users/me/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No such live session of yours"}},
)
async def revoke_my_session(
    request: Request,
    session_id: uuid.UUID,
    user: CurrentUser,
    claims: CurrentClaims,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Sign a session out: its access and refresh tokens stop working at once."""
    await sessions.revoke_session(session, user.id, session_id, RevokeReason.REVOKED)
    logger.bind(security=True, user_id=str(user.id), session_id=str(session_id)).info(
        "session revoked"
    )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    if session_id == claims.session_id and browser_session.is_cookie_session(request):
        browser_session.clear_session_cookies(response, request, settings)
    return response


@router.post("/users/me/sessions/revoke-others", response_model=schemas.RevokedSessions)
async def revoke_my_other_sessions(
    user: CurrentUser, claims: CurrentClaims, session: SessionDep
) -> schemas.RevokedSessions:
    """Sign out every session but the one this request belongs to."""
    count = await sessions.revoke_sessions(
        session, user.id, RevokeReason.REVOKED, keep=claims.session_id
    )
    logger.bind(security=True, user_id=str(user.id), revoked=count).info("other sessions revoked")
    return schemas.RevokedSessions(revoked=count)


@router.get("/users/me", response_model=schemas.User)
async def read_me(user: CurrentUser) -> Caller:
    return user


@router.patch("/users/me", response_model=schemas.User)
async def update_me(
    body: schemas.UserUpdate,
    user: UserForUpdate,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> User:
    if body.email is not None:
        if body.current_password is None:
            raise ValidationFailed(
                "Changing the email address needs the current password",
                [{"field": "current_password", "message": "field required with email"}],
            )
        await verification.request_email_change(
            session, hasher, settings, user, new_email=body.email, password=body.current_password
        )
    changes = body.model_dump(exclude_unset=True, exclude={"email", "current_password"})
    return await service.update_profile(session, user, changes=changes)


@router.post("/users/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: schemas.PasswordChange,
    user: UserForUpdate,
    claims: CurrentClaims,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> Response:
    """Every access token issued before dies (the token version) and every other
    session is revoked; this request's session renews with its refresh token."""
    await service.change_password(
        session,
        hasher,
        user,
        current_password=body.current_password,
        new_password=body.new_password,
    )
    await sessions.revoke_sessions(
        session, user.id, RevokeReason.PASSWORD_CHANGED, keep=claims.session_id
    )
    await verification.notify_password_changed(
        session, settings, user, how="changed from the account settings"
    )
    logger.bind(security=True, user_id=str(user.id)).info("password changed")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/users/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(
    request: Request,
    user: UserForUpdate,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
    lockout: LockoutDep,
    body: schemas.AccountDeletion | None = None,
) -> Response:
    """Delete the account and everything it owns, confirmed with the password (and a
    code when two-factor authentication is on), from any client: a device left
    logged in cannot delete the account alone."""
    if body is None:
        raise PasswordConfirmationRequired()
    await service.check_password(hasher, user, body.password)
    # Before anything is written: a wrong code is counted in a transaction of its own.
    await two_factor.require_code(session, settings, lockout, user, body.code)
    await service.delete_user(session, user)
    logger.bind(security=True, user_id=str(user.id)).info("account deleted")
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    if browser_session.is_cookie_session(request):
        browser_session.clear_session_cookies(response, request, settings)
    return response


@router.get("/users", response_model=Page[schemas.User])
async def list_users(_admin: Superuser, session: SessionDep, page: PageDep) -> Page[schemas.User]:
    users, total = await service.list_users(session, limit=page.limit, offset=page.offset)
    return Page[schemas.User](
        items=[schemas.User.model_validate(u) for u in users],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/users/me/2fa/setup", response_model=schemas.TwoFactorSetup)
async def setup_two_factor(
    user: UserForUpdate, session: SessionDep, settings: SettingsDep
) -> two_factor.Setup:
    """A new TOTP secret with its otpauth:// URI and QR code; it takes effect when
    its first code is sent to POST /users/me/2fa/enable."""
    return await two_factor.begin_setup(session, settings, user)


@router.post("/users/me/2fa/enable", response_model=schemas.RecoveryCodes)
async def enable_two_factor(
    body: schemas.TwoFactorCode,
    user: UserForUpdate,
    claims: CurrentClaims,
    session: SessionDep,
    settings: SettingsDep,
    lockout: LockoutDep,
) -> schemas.RecoveryCodes:
    """Turn two-factor authentication on; every other session is signed out."""
    codes = await two_factor.enable(session, settings, lockout, user, body.code)
    await sessions.revoke_sessions(
        session, user.id, RevokeReason.TWO_FACTOR_CHANGED, keep=claims.session_id
    )
    logger.bind(security=True, user_id=str(user.id)).info("two-factor authentication on")
    return schemas.RecoveryCodes(recovery_codes=codes)


@router.post("/users/me/2fa/disable", status_code=status.HTTP_204_NO_CONTENT)
async def disable_two_factor(
    body: schemas.TwoFactorDisable,
    user: UserForUpdate,
    claims: CurrentClaims,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
    lockout: LockoutDep,
) -> Response:
    """Turn two-factor authentication off; every other session is signed out."""
    await two_factor.disable(
        session, hasher, settings, lockout, user, password=body.password, code=body.code
    )
    await sessions.revoke_sessions(
        session, user.id, RevokeReason.TWO_FACTOR_CHANGED, keep=claims.session_id
    )
    logger.bind(security=True, user_id=str(user.id)).info("two-factor authentication off")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/users/me/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ApiKeyCreated,
    responses={409: {"description": "The account already holds the most keys it may"}},
)
async def create_api_key(
    body: schemas.ApiKeyCreate, response: Response, user: UserForUpdate, session: SessionDep
) -> schemas.ApiKeyCreated:
    """A new API key, returned this once: only its hash is stored."""
    key, raw = await api_keys.create_key(
        session, user, name=body.name, scopes=body.scopes, expires_at=body.expires_at
    )
    logger.bind(security=True, user_id=str(user.id), api_key_id=str(key.id)).info("api key created")
    response.headers["cache-control"] = "no-store"
    return schemas.ApiKeyCreated(**schemas.ApiKey.model_validate(key).model_dump(), key=raw)


@router.get("/users/me/api-keys", response_model=list[schemas.ApiKey])
async def list_api_keys(user: CurrentUser, session: SessionDep) -> list[ApiKey]:
    return await api_keys.list_keys(session, user.id)


@router.delete("/users/me/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(key_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    await api_keys.revoke_key(session, user.id, key_id)
    logger.bind(security=True, user_id=str(user.id), api_key_id=str(key_id)).info("api key revoked")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
