from typing import Annotated

import pytest
from fastapi import APIRouter, Depends

from botskis.api.router import PRIVATE, UnauthenticatedRoute, require_caller
from botskis.core.auth import CurrentUser, current_user
from botskis.users.models import User


def test_every_private_router_takes_the_caller_on_every_route() -> None:
    for router in PRIVATE:
        require_caller(router)


def test_a_private_route_without_the_caller_stops_start_up() -> None:
    router = APIRouter(prefix="/things")

    @router.get("/mine")
    async def mine(user: CurrentUser) -> dict[str, str]:
        return {"id": str(user.id)}

    @router.get("/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    with pytest.raises(UnauthenticatedRoute, match="GET /things/forgotten"):
        require_caller(router)


def test_the_caller_may_come_through_another_dependency() -> None:
    async def owner_name(user: Annotated[User, Depends(current_user)]) -> str:
        return user.full_name or ""

    router = APIRouter()

    @router.delete("/nested")
    async def nested(name: Annotated[str, Depends(owner_name)]) -> dict[str, str]:
        return {"name": name}

    require_caller(router)
