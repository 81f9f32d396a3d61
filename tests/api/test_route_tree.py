"""Routes are private by default: whatever is not in a public router needs the caller."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from botskis.api.router import API_PREFIX, PUBLIC, api_router
from botskis.config import Settings
from botskis.core.auth import current_user
from botskis.core.errors import install_error_handlers


def takes_caller(dependant: Dependant) -> bool:
    return dependant.call is current_user or any(takes_caller(d) for d in dependant.dependencies)


def test_every_api_route_outside_the_public_routers_takes_the_caller(app: FastAPI) -> None:
    public = {id(route) for router in PUBLIC for route in router.routes}
    private = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not str(context.path).startswith(API_PREFIX):
            continue
        if id(route) in public:
            assert not takes_caller(context.dependant), context.path
        else:
            private += 1
            assert takes_caller(context.dependant), f"{context.methods} {context.path}"
    assert private > 30


async def test_a_private_route_that_forgets_the_caller_still_requires_it(
    settings: Settings,
) -> None:
    forgetful = APIRouter()

    @forgetful.get("/forgotten")
    async def forgotten() -> dict[str, str]:
        return {"secret": "exposed"}

    app = FastAPI()
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(api_router([forgetful], []))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.get(f"{API_PREFIX}/forgotten")
    assert response.status_code == 401
    assert "exposed" not in response.text
