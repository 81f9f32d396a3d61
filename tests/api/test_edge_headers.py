"""Request ids, security headers, CORS and the docs pages' CSP on every response."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from botskis.app import create_app
from botskis.config import Settings
from tests.conftest import make_settings
from tests.users.factories import sign_up

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "x-xss-protection": "1; mode=block",
    "referrer-policy": "no-referrer",
}


def assert_hardened(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    assert "camera=()" in response.headers["permissions-policy"]
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def _boom() -> None:
    raise RuntimeError("secret internal detail")


@pytest.fixture
async def edge_client(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app with a route that fails unexpectedly and a low signup limit."""
    settings = make_settings(database_url, tmp_path / "logs", rate_limit_signup="1/minute")
    application = create_app(settings)
    application.add_api_route("/boom", _boom, methods=["GET"])
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_every_kind_of_response_carries_security_headers(
    edge_client: httpx.AsyncClient,
) -> None:
    ok = await edge_client.get("/health")
    not_found = await edge_client.get("/api/v1/nothing-here")
    not_allowed = await edge_client.put("/health")
    too_large = await edge_client.post(
        "/api/v1/users",
        content=b"x" * (2 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    invalid = await edge_client.post("/api/v1/users", json={"email": "nope"})
    body = {"email": "a@example.com", "password": "long enough pw", "full_name": "A"}
    await edge_client.post("/api/v1/users", json=body)
    limited = await edge_client.post("/api/v1/users", json={**body, "email": "b@example.com"})
    crashed = await edge_client.get("/boom")
    statuses = [
        r.status_code for r in (ok, not_found, not_allowed, too_large, invalid, limited, crashed)
    ]
    assert statuses == [200, 404, 405, 413, 422, 429, 500]
    for response in (ok, not_found, not_allowed, too_large, invalid, limited, crashed):
        assert_hardened(response)


async def test_unexpected_error_is_a_generic_problem_with_request_id(
    edge_client: httpx.AsyncClient,
) -> None:
    response = await edge_client.get("/boom", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["request_id"] == "trace-500" == response.headers["x-request-id"]
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text


async def test_sane_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "lb-1234.abc:9"})
    assert response.headers["x-request-id"] == "lb-1234.abc:9"


@pytest.mark.parametrize("incoming", ["x" * 129, "bad id", "<script>", "é"])
async def test_unsafe_incoming_request_id_is_replaced(
    client: httpx.AsyncClient, incoming: str
) -> None:
    response = await client.get("/health", headers={"X-Request-ID": incoming.encode("utf-8")})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_problem_body_names_the_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/users/me", headers={"X-Request-ID": "rid-401"})
    assert response.status_code == 401
    assert response.json()["request_id"] == "rid-401"


async def test_authenticated_responses_are_not_cached(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    me = await client.get("/api/v1/users/me", headers=account.headers)
    assert me.headers["cache-control"] == "no-store"
    rejected = await client.get("/api/v1/users/me", headers={"Authorization": "Bearer nope"})
    assert rejected.headers["cache-control"] == "no-store"
    public = await client.get("/health")
    assert "cache-control" not in public.headers


async def test_hsts_is_off_in_development_and_on_in_production(
    database_url: str, tmp_path: Path
) -> None:
    async def hsts(settings: Settings) -> str | None:
        application = create_app(settings)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return (await c.get("/health")).headers.get("strict-transport-security")

    assert await hsts(make_settings(database_url, tmp_path / "a")) is None
    production = make_settings(
        database_url,
        tmp_path / "b",
        environment="production",
        secret_key="p" * 40,
        credentials_key="k1:" + base64.b64encode(b"0" * 32).decode(),
    )
    value = await hsts(production)
    assert value is not None and "includeSubDomains" in value
    assert int(value.split("max-age=")[1].split(";")[0]) >= 31536000


def _inline_script_hashes(html: str) -> list[str]:
    scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in scripts
    ]


def _directive(csp: str, name: str) -> list[str]:
    for part in csp.split(";"):
        words = part.split()
        if words and words[0] == name:
            return words[1:]
    return []


async def test_swagger_docs_page_is_allowed_to_load_its_scripts(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    csp = response.headers["content-security-policy"]
    scripts = _directive(csp, "script-src")
    external = re.findall(r'<script src="([^"]+)"', response.text)
    assert external == ["/docs/assets/swagger-ui-bundle.js"]
    hashes = _inline_script_hashes(response.text)
    assert hashes and all(h in scripts for h in hashes)
    assert "'unsafe-inline'" not in scripts
    stylesheets = re.findall(
        r'<link type="text/css" rel="stylesheet" href="([^"]+)"', response.text
    )
    assert stylesheets == ["/docs/assets/swagger-ui.css"]
    assert "'self'" in _directive(csp, "connect-src")  # fetches /openapi.json


async def test_redoc_page_is_allowed_to_load_its_bundle(client: httpx.AsyncClient) -> None:
    response = await client.get("/redoc")
    csp = response.headers["content-security-policy"]
    external = re.findall(r'<script src="([^"]+)"', response.text)
    assert external == ["/docs/assets/redoc.standalone.js"]
    assert "'self'" in _directive(csp, "script-src")
    assert "blob:" in _directive(csp, "worker-src")
    assert "fonts.googleapis.com" not in response.text


async def test_docs_assets_are_served_from_the_installed_package(
    client: httpx.AsyncClient,
) -> None:
    """/docs works offline: every file the pages load comes from this server."""
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        urls = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert urls
        for url in urls:
            assert url.startswith("/"), url
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000, url
    for page in ("/docs", "/redoc"):
        csp = (await client.get(page)).headers["content-security-policy"]
        assert "https:" not in csp and "http:" not in csp, csp
    bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"]
    redirect = await client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "oauth2" in redirect.text.lower()


async def test_api_responses_get_the_strict_csp(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    csp = response.headers["content-security-policy"]
    assert _directive(csp, "default-src") == ["'none'"]
    assert _directive(csp, "frame-ancestors") == ["'none'"]


@pytest.fixture
async def cors_app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = make_settings(database_url, tmp_path / "logs", cors_origins=["https://app.example"])
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


async def test_cors_allows_only_configured_origins(cors_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=cors_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        preflight = {"Access-Control-Request-Method": "GET"}
        allowed = await c.options(
            "/api/v1/users/me", headers={"Origin": "https://app.example", **preflight}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert allowed.headers["x-content-type-options"] == "nosniff"
        denied = await c.options(
            "/api/v1/users/me", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in denied.headers
        simple = await c.get("/health", headers={"Origin": "https://app.example"})
        assert simple.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()


async def test_wildcard_cors_never_allows_credentials(database_url: str, tmp_path: Path) -> None:
    application = create_app(make_settings(database_url, tmp_path / "logs", cors_origins=["*"]))
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        response = await c.get("/health", headers={"Origin": "https://any.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
