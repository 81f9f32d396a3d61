"""Request-scoped dependencies: the session, settings and shared services on app.state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.config import Settings
from botskis.core.security import PasswordHasher
from botskis.database.connection import Database


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    database: Database = request.app.state.database
    async with database.transaction() as session:
        yield session


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


# The providers are `async def` so FastAPI calls them inline instead of in a thread.
# scope="function" ends the transaction before the response leaves: a 2xx means committed.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
HasherDep = Annotated[PasswordHasher, Depends(get_hasher)]
DatabaseDep = Annotated[Database, Depends(get_database)]
