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
from botskis.users import api_keys, schemas, service, two_factor, verification
from botskis.users.caller import Caller
from botskis.users.errors import PasswordConfirmationRequired
from botskis.users.lockout import CodeLockout
from botskis.users.models import ApiKey, User

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


def _tokens(settings: Settings, user: User) -> schemas.Token:
    logger.bind(security=True, user_id=str(user.id)).info("login succeeded")
    token = service.issue_token(settings, user)
    return schemas.Token(access_token=token.token, expires_in=token.expires_in)


@public_router.post(
    "/auth/login",
    response_model=schemas.Token | schemas.MfaChallenge,
    responses={401: {"description": "Incorrect email or password"}},
)
async def login(
    request: Request,
    body: schemas.LoginRequest,
    database: DatabaseDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> schemas.Token | schemas.MfaChallenge:
    """Tokens, or for an account with two-factor authentication an `mfa_token` to
    complete with the code at POST /api/v1/auth/login/mfa."""
    user = await _authenticate(request, database, hasher, settings, body.email, body.password)
    if user.two_factor_enabled:
        logger.bind(security=True, user_id=str(user.id)).info("password accepted; code required")
        challenge = service.issue_mfa_token(settings, user)
        return schemas.MfaChallenge(mfa_token=challenge.token, expires_in=challenge.expires_in)
    return _tokens(settings, user)


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
    body: schemas.MfaLogin,
    session: SessionDep,
    settings: SettingsDep,
    lockout: LockoutDep,
) -> schemas.Token:
    user = await _second_factor(request, body, session, settings, lockout)
    return _tokens(settings, user)


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
    return _tokens(settings, user)


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
    hasher: HasherDep,
    settings: SettingsDep,
) -> schemas.BrowserSession | schemas.MfaChallenge:
    """Log in for the web dashboard: the access token goes into an httpOnly cookie
    (`botskis_session`), never into the body, and the CSRF token into the readable
    `botskis_csrf` cookie and the body. Unsafe requests authenticated by the cookie
    must echo it in `X-CSRF-Token`."""
    user = await _authenticate(request, database, hasher, settings, body.email, body.password)
    if user.two_factor_enabled:
        logger.bind(security=True, user_id=str(user.id)).info("password accepted; code required")
        challenge = service.issue_mfa_token(settings, user)
        return schemas.MfaChallenge(mfa_token=challenge.token, expires_in=challenge.expires_in)
    return _browser_session(request, response, settings, user)


def _browser_session(
    request: Request, response: Response, settings: Settings, user: User
) -> schemas.BrowserSession:
    logger.bind(security=True, user_id=str(user.id)).info("login succeeded")
    token = service.issue_token(settings, user)
    csrf = browser_session.set_session_cookies(response, request, settings, token)
    response.headers["cache-control"] = "no-store"
    return schemas.BrowserSession(
        user=schemas.User.model_validate(user), csrf_token=csrf, expires_at=token.expires_at
    )


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
    return _browser_session(request, response, settings, user)


@public_router.delete(
    "/auth/session",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: {"description": "The session cookie came without its X-CSRF-Token"}},
)
async def end_browser_session(
    request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """Log the dashboard out: revoke the cookie's token (with the CSRF echo) and clear
    both cookies. A cookie whose token no longer works is simply cleared."""
    token = browser_session.session_token(request)
    if token is not None:
        try:
            authenticated = await authenticate_token(request.app.state.token_cache, token)
        except AppError:
            pass  # expired, revoked, or a disabled account: nothing left to revoke
        else:
            browser_session.require_csrf(request, authenticated.claims, settings.secret_key)
            await service.revoke_token(session, authenticated.caller.id, authenticated.claims)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    browser_session.clear_session_cookies(response, request, settings)
    return response


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(user: CurrentUser, claims: CurrentClaims, session: SessionDep) -> Response:
    await service.revoke_token(session, user.id, claims)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> Response:
    await service.change_password(
        session,
        hasher,
        user,
        current_password=body.current_password,
        new_password=body.new_password,
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
    session: SessionDep,
    settings: SettingsDep,
    lockout: LockoutDep,
) -> schemas.RecoveryCodes:
    codes = await two_factor.enable(session, settings, lockout, user, body.code)
    logger.bind(security=True, user_id=str(user.id)).info("two-factor authentication on")
    return schemas.RecoveryCodes(recovery_codes=codes)


@router.post("/users/me/2fa/disable", status_code=status.HTTP_204_NO_CONTENT)
async def disable_two_factor(
    body: schemas.TwoFactorDisable,
    user: UserForUpdate,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
    lockout: LockoutDep,
) -> Response:
    await two_factor.disable(
        session, hasher, settings, lockout, user, password=body.password, code=body.code
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
