from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status
from loguru import logger

from botskis.api.dependencies import DatabaseDep, HasherDep, SessionDep, SettingsDep
from botskis.core import metrics
from botskis.core.auth import CurrentClaims, CurrentUser, Superuser, UserForUpdate
from botskis.core.errors import AppError
from botskis.core.pagination import Page, PageDep
from botskis.core.ratelimit import client_ip, enforce
from botskis.database.connection import Database
from botskis.users import schemas, service
from botskis.users.caller import Caller
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
    token = service.issue_token(settings, user)
    return schemas.Token(access_token=token.token, expires_in=token.expires_in)


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
async def delete_me(user: UserForUpdate, session: SessionDep) -> Response:
    await service.delete_user(session, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users", response_model=Page[schemas.User])
async def list_users(_admin: Superuser, session: SessionDep, page: PageDep) -> Page[schemas.User]:
    users, total = await service.list_users(session, limit=page.limit, offset=page.offset)
    return Page[schemas.User](
        items=[schemas.User.model_validate(u) for u in users],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )
