"""The OpenAPI document and the server agree about errors: every error is the
documented problem+json schema, under a status the operation documents."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI

from botskis.api.openapi import document_errors
from botskis.app import create_app
from tests.conftest import make_settings
from tests.users.factories import sign_up

JSON = {"content-type": "application/json"}


def operation_of(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method.lower()]
    return operation


def assert_documented(
    document: dict[str, Any], method: str, path: str, response: httpx.Response
) -> None:
    """The response's status is documented for the operation, with its content
    type, and the body validates against the documented schema."""
    responses = operation_of(document, method, path)["responses"]
    assert str(response.status_code) in responses, (method, path, response.status_code)
    content = responses[str(response.status_code)]["content"]
    media_type = response.headers["content-type"].split(";")[0]
    assert media_type in content, (media_type, list(content))
    schema = {**content[media_type]["schema"], "components": document["components"]}
    jsonschema.validate(response.json(), schema)


async def test_every_error_response_is_documented_as_a_problem(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"422", "503"} <= codes or path == "/health", (method, path)
            if operation.get("security"):
                assert {"401", "403", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method in {"post", "put", "patch"}:
                assert {"400", "409", "413", "415"} <= codes, (method, path)
            for code, response in operation["responses"].items():
                if code[0] in "45":
                    assert list(response["content"]) == ["application/problem+json"]
                    schema = response["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}


async def test_errors_the_server_sends_match_the_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    account = await sign_up(client)
    agent = f"/api/v1/agents/{uuid.uuid4()}"
    sent: list[tuple[str, str, httpx.Response]] = [
        ("GET", "/api/v1/agents", await client.get("/api/v1/agents")),
        (
            "GET",
            "/api/v1/users",
            await client.get("/api/v1/users", headers=account.headers),
        ),
        (
            "GET",
            "/api/v1/agents/{agent_id}",
            await client.get(agent, headers=account.headers),
        ),
        (
            "GET",
            "/api/v1/agents",
            await client.get("/api/v1/agents?limit=many", headers=account.headers),
        ),
        (
            "POST",
            "/api/v1/users",
            await client.post("/api/v1/users", content=b'{"email": ', headers=JSON),
        ),
        (
            "POST",
            "/api/v1/users",
            await client.post(
                "/api/v1/users", content=b"{}", headers={"content-type": "text/plain"}
            ),
        ),
        (
            "POST",
            "/api/v1/users",
            await client.post("/api/v1/users", content=b"[" * (2 * 1024 * 1024), headers=JSON),
        ),
        (
            "POST",
            "/api/v1/users",
            await client.post(
                "/api/v1/users",
                json={"email": account.email, "password": "long enough pw", "full_name": "Dup"},
            ),
        ),
        (
            "POST",
            "/api/v1/auth/login",
            await client.post(
                "/api/v1/auth/login", json={"email": account.email, "password": "no"}
            ),
        ),
        (
            "POST",
            "/api/v1/agents/deploy",
            await client.post(
                "/api/v1/agents/deploy",
                json={"template_id": "no-such-template", "config": {}},
                headers=account.headers,
            ),
        ),
    ]
    statuses = [response.status_code for _, _, response in sent]
    assert statuses == [401, 403, 404, 422, 400, 415, 413, 409, 401, 404]
    for method, path, response in sent:
        assert_documented(document, method, path, response)


async def test_a_database_that_cannot_be_opened_is_a_documented_503(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-directory" / "botskis.db"
    settings = make_settings(
        f"sqlite+aiosqlite:///{missing}", tmp_path / "logs", worker_embedded=False
    )
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            document = (await client.get("/openapi.json")).json()
            response = await client.post(
                "/api/v1/users",
                json={"email": "a@example.com", "password": "long enough pw", "full_name": "A"},
            )
            stats = await client.get("/api/v1/marketplace/stats")
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert_documented(document, "POST", "/api/v1/users", response)
    assert stats.status_code == 503
    assert_documented(document, "GET", "/api/v1/marketplace/stats", stats)


def test_a_route_declares_an_extra_status_and_gets_the_problem_schema() -> None:
    router = APIRouter()

    @router.get("/things", responses={402: {"description": "Pay first"}})
    async def things() -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router)
    document_errors(app)
    responses = app.openapi()["paths"]["/things"]["get"]["responses"]
    assert responses["402"] == {
        "description": "Pay first",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    assert {"422", "429", "503"} <= set(responses)
    assert "401" not in responses  # nothing marks it as taking the caller


@pytest.mark.parametrize("status", ["429", "503"])
async def test_throttling_and_unavailability_document_retry_after(
    client: httpx.AsyncClient, status: str
) -> None:
    document = (await client.get("/openapi.json")).json()
    response = operation_of(document, "GET", "/api/v1/agents")["responses"][status]
    assert "Retry-After" in response["headers"]
