"""`botskis serve` serves the built dashboard at `/`: files, the client-side route
fallback, cache headers, the UI's CSP, and the API's paths left exactly as they were."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from botskis.app import create_app
from tests.conftest import make_settings

INDEX = b'<!doctype html><html><head><script type="module" src="/assets/index-4f2a9c.js">'
ASSET = b"console.log('dashboard')"
LIBRARY = b"export const words = [" + b",".join(b'"w%d"' % i for i in range(2000)) + b"];"


def _build(root: Path) -> Path:
    """A stand-in for `npm run build`: what Vite writes, in miniature."""
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX + b"</script></head><body></body></html>")
    (root / "assets" / "index-4f2a9c.js").write_bytes(ASSET)
    (root / "assets" / "lib-9e8d7c.js").write_bytes(LIBRARY)
    (root / "favicon.svg").write_bytes(b"<svg/>")
    return root


async def _client(
    database_url: str, tmp_path: Path, dist: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url, tmp_path / "logs", web_dist_dir=str(dist))
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
async def site(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(database_url, tmp_path, _build(tmp_path / "dist")):
        yield c


@pytest.fixture
async def unbuilt(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(database_url, tmp_path, tmp_path / "no-build-here"):
        yield c


def _directive(csp: str, name: str) -> list[str]:
    for part in csp.split(";"):
        words = part.split()
        if words and words[0] == name:
            return words[1:]
    raise AssertionError(f"{name} missing from {csp!r}")


async def test_root_serves_the_index_revalidated_on_every_load(site: httpx.AsyncClient) -> None:
    response = await site.get("/")
    assert response.status_code == 200
    assert response.content.startswith(INDEX)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/agents", "/agents/7d1c/runs", "/login?next=%2Fagents", "/apis"])
async def test_client_side_routes_fall_back_to_the_index(
    site: httpx.AsyncClient, path: str
) -> None:
    response = await site.get(path)
    assert response.status_code == 200
    assert response.content.startswith(INDEX)
    assert response.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_cached_for_a_year_as_immutable(site: httpx.AsyncClient) -> None:
    response = await site.get("/assets/index-4f2a9c.js")
    assert response.status_code == 200
    assert response.content == ASSET
    assert "javascript" in response.headers["content-type"]
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_text_files_are_gzipped_for_clients_that_take_it(site: httpx.AsyncClient) -> None:
    zipped = await site.get("/assets/lib-9e8d7c.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == LIBRARY  # httpx decodes it
    assert int(zipped.headers["content-length"]) < len(LIBRARY) / 3
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in zipped.headers["content-type"]
    again = await site.get(
        "/assets/lib-9e8d7c.js", headers={"If-None-Match": zipped.headers["etag"]}
    )
    assert again.status_code == 304
    for refused in ("identity", "gzip;q=0", "br"):
        plain = await site.get("/assets/lib-9e8d7c.js", headers={"Accept-Encoding": refused})
        assert "content-encoding" not in plain.headers, refused
        assert plain.content == LIBRARY
        assert plain.headers["etag"] != zipped.headers["etag"]
    # Too small to be worth it.
    tiny = await site.get("/assets/index-4f2a9c.js", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in tiny.headers


async def test_other_files_are_served_but_revalidated(site: httpx.AsyncClient) -> None:
    response = await site.get("/favicon.svg")
    assert response.status_code == 200
    assert response.content == b"<svg/>"
    assert response.headers["cache-control"] == "no-cache"


async def test_a_missing_file_is_a_404_not_the_index(site: httpx.AsyncClient) -> None:
    for path in ("/assets/index-000000.js", "/robots.txt"):
        response = await site.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"


async def test_paths_outside_the_build_are_never_served(
    site: httpx.AsyncClient, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("top secret")
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt"):
        response = await site.get(path)
        assert b"top secret" not in response.content, path


async def test_the_index_answers_304_to_its_own_etag(site: httpx.AsyncClient) -> None:
    first = await site.get("/agents")
    again = await site.get("/agents", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_head_gets_the_headers_without_a_body(site: httpx.AsyncClient) -> None:
    response = await site.head("/assets/index-4f2a9c.js")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(ASSET))


async def test_the_ui_csp_allows_only_its_own_origin_and_socket(site: httpx.AsyncClient) -> None:
    for path in ("/", "/agents", "/assets/index-4f2a9c.js"):
        csp = (await site.get(path)).headers["content-security-policy"]
        assert _directive(csp, "default-src") == ["'self'"]
        assert _directive(csp, "script-src")[0] == "'self'"
        assert "'unsafe-inline'" not in csp
        assert _directive(csp, "connect-src") == ["'self'", "ws://testserver", "wss://testserver"]
        assert _directive(csp, "frame-ancestors") == ["'none'"]
        assert _directive(csp, "object-src") == ["'none'"]
        for directive in csp.split(";"):
            assert "http" not in directive, directive  # no other origin anywhere


async def test_the_ui_keeps_the_common_hardening_headers(site: httpx.AsyncClient) -> None:
    response = await site.get("/agents")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert len(response.headers.get_list("content-security-policy")) == 1


async def test_a_forged_host_header_does_not_reach_the_csp(site: httpx.AsyncClient) -> None:
    response = await site.get("/", headers={"Host": "evil.example; script-src *"})
    assert _directive(response.headers["content-security-policy"], "connect-src") == ["'self'"]


@pytest.mark.parametrize(
    "path",
    ["/api", "/api/", "/api/v1/nothing", "/api/v1/agents/x/nothing", "/ws", "/ws/abc", "/docs/x"],
)
async def test_reserved_paths_stay_problem_json_404s(site: httpx.AsyncClient, path: str) -> None:
    response = await site.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert _directive(response.headers["content-security-policy"], "default-src") == ["'none'"]


async def test_api_and_operations_paths_answer_as_before(site: httpx.AsyncClient) -> None:
    health = await site.get("/health")
    assert health.json() == {"status": "ok"}
    assert _directive(health.headers["content-security-policy"], "default-src") == ["'none'"]
    assert (await site.get("/openapi.json")).json()["info"]["title"] == "Botskis"
    assert (await site.get("/api/v1/users/me")).status_code == 401
    assert (await site.get("/docs")).status_code == 200


async def test_other_methods_are_not_the_apps(site: httpx.AsyncClient) -> None:
    post = await site.post("/agents", json={})
    assert post.status_code == 404
    assert post.headers["content-type"] == "application/problem+json"
    # A path the API has for other methods still says 405, not the dashboard.
    wrong_method = await site.delete("/api/v1/marketplace/templates")
    assert wrong_method.status_code == 405
    assert (await site.put("/health")).status_code == 405


async def test_without_a_build_the_root_says_how_to_build_it(
    unbuilt: httpx.AsyncClient, tmp_path: Path
) -> None:
    log = (tmp_path / "logs" / "app.log").read_text()
    assert "web dashboard not built: cd web && npm ci && npm run build" in log
    for path in ("/", "/agents"):
        response = await unbuilt.get(path)
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("text/html")
        assert "npm run build" in response.text
        assert response.headers["cache-control"] == "no-cache"
    assert (await unbuilt.get("/health")).status_code == 200
    assert (await unbuilt.get("/api/v1/nothing")).status_code == 404
