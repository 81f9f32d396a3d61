from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status
from loguru import logger

from botskis.api.dependencies import DatabaseDep, HasherDep, SessionDep, SettingsDep
from botskis.core import browser_session, metrics
from botskis.core.auth import (
    CurrentClaims,
    CurrentUser,
    Superuser,
    UserForUpdate,
    authenticate_token,
)
from botskis.core.errors import AppError
from botskis.core.pagination import Page, PageDep
from botskis.core.ratelimit import client_ip, enforce
from botskis.core.security import AccessToken
from botskis.database.connection import Database
from botskis.users import schemas, service
from botskis.users.caller import Caller
from botskis.users.errors import PasswordConfirmationRequired
from botskis.users.models import User

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
    logger.bind(security=True, user_id=str(user.id)).info("signup")
    return user


async def _login(
    request: Request,
    database: Database,
    hasher: HasherDep,
    settings: SettingsDep,
    email: str,
    password: str,
) -> schemas.Token:
    _, token = await _authenticate(request, database, hasher, settings, email, password)
    return schemas.Token(access_token=token.token, expires_in=token.expires_in)


async def _authenticate(
    request: Request,
    database: Database,
    hasher: HasherDep,
    settings: SettingsDep,
    email: str,
    password: str,
) -> tuple[User, AccessToken]:
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
    logger.bind(security=True, user_id=str(user.id)).info("login succeeded")
    return user, service.issue_token(settings, user)


@public_router.post(
    "/auth/login",
    response_model=schemas.Token,
    responses={401: {"description": "Incorrect email or password"}},
)
async def login(
    request: Request,
    body: schemas.LoginRequest,
    database: DatabaseDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> schemas.Token:
    return await _login(request, database, hasher, settings, body.email, body.password)


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
    """OAuth2 password flow, for the Authorize button in /docs."""
    return await _login(request, database, hasher, settings, username, password)


@public_router.post(
    "/auth/session",
    response_model=schemas.BrowserSession,
    responses={401: {"description": "Incorrect email or password"}},
)
async def start_browser_session(
    request: Request,
    response: Response,
    body: schemas.LoginRequest,
    database: DatabaseDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> schemas.BrowserSession:
    """Log in for the web dashboard: the access token goes into an httpOnly cookie
    (`botskis_session`), never into the body, and the CSRF token into the readable
    `botskis_csrf` cookie and the body. Unsafe requests authenticated by the cookie
    must echo it in `X-CSRF-Token`."""
    user, token = await _authenticate(
        request, database, hasher, settings, body.email, body.password
    )
    csrf = browser_session.set_session_cookies(response, request, settings, token)
    response.headers["cache-control"] = "no-store"
    return schemas.BrowserSession(
        user=schemas.User.model_validate(user), csrf_token=csrf, expires_at=token.expires_at
    )


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
async def update_me(body: schemas.UserUpdate, user: UserForUpdate, session: SessionDep) -> User:
    return await service.update_profile(session, user, changes=body.model_dump(exclude_unset=True))


@router.post("/users/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: schemas.PasswordChange, user: UserForUpdate, session: SessionDep, hasher: HasherDep
) -> Response:
    await service.change_password(
        session,
        hasher,
        user,
        current_password=body.current_password,
        new_password=body.new_password,
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
    body: schemas.AccountDeletion | None = None,
) -> Response:
    """Delete the account and everything it owns. With `{"password"}` the password is
    checked first (400 on field `password` when wrong); a browser session (the cookie)
    must send it, so a device left logged in cannot delete the account alone."""
    password = body.password if body is not None else None
    cookie_session = browser_session.is_cookie_session(request)
    if password is None and cookie_session:
        raise PasswordConfirmationRequired()
    await service.delete_user(session, user, hasher=hasher, password=password)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    if cookie_session:
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
