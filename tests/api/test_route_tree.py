"""Routes are private by default: whatever is not in a public router needs the caller,
and declares what an API key needs to reach it (scopes, or account management)."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from botskis.api.router import API_PREFIX, PRIVATE, PUBLIC, include_api
from botskis.config import Settings
from botskis.core.auth import account_management, current_user
from botskis.core.errors import install_error_handlers


def takes_caller(dependant: Dependant) -> bool:
    return dependant.call is current_user or any(takes_caller(d) for d in dependant.dependencies)


def access_checks(dependant: Dependant) -> list[object]:
    declared = {id(access) for _router, access in PRIVATE}
    found = [d.call for d in dependant.dependencies if id(d.call) in declared]
    return found + [c for d in dependant.dependencies for c in access_checks(d)]


def test_every_private_api_route_declares_what_an_api_key_needs(app: FastAPI) -> None:
    public = {id(route) for router in PUBLIC for route in router.routes}
    account = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not str(context.path).startswith(API_PREFIX):
            continue
        checks = access_checks(context.dependant)
        if id(route) in public:
            assert checks == [], context.path
        else:
            assert len(checks) == 1, f"{context.methods} {context.path}: {checks}"
            account += checks[0] is account_management
    assert account > 10


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
    include_api(app, [(forgetful, account_management)], [])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.get(f"{API_PREFIX}/forgotten")
    assert response.status_code == 401
    assert "exposed" not in response.text
