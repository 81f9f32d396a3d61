"""Hostile and broken request bodies get a clear 4xx problem, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, Request

from tests.users.factories import sign_up

SIGNUP = "/api/v1/users"
LOGIN = "/api/v1/auth/login"
JSON = {"content-type": "application/json"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "request_id"} <= body.keys()
    return body


@pytest.mark.parametrize("path", [SIGNUP, LOGIN])
async def test_malformed_json_is_400(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, content=b'{"email": "a@example.com",', headers=JSON)
    assert_problem(response, 400)


async def test_malformed_json_names_the_line_and_column(client: httpx.AsyncClient) -> None:
    text = b'{\n  "email": "a@example.com",\n  "password": "long enough" "x"\n}'
    body = assert_problem(await client.post(SIGNUP, content=text, headers=JSON), 400)
    assert body["errors"] == [
        {"field": "body", "message": "Expecting ',' delimiter at line 3, column 29"}
    ]


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
@pytest.mark.parametrize("path", [SIGNUP, LOGIN])
async def test_wrong_content_type_is_415(
    client: httpx.AsyncClient, path: str, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(
        path, content=b'{"email": "a@example.com", "password": "x"}', headers=headers
    )
    assert_problem(response, 415)


async def test_form_endpoint_still_takes_forms(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/token", data={"username": "u@example.com"})
    assert_problem(response, 422)


@pytest.mark.parametrize("path", [SIGNUP, LOGIN])
async def test_json_array_instead_of_object_is_422(client: httpx.AsyncClient, path: str) -> None:
    body = assert_problem(await client.post(path, json=[{"email": "a@example.com"}]), 422)
    assert body["errors"]


@pytest.mark.parametrize("path", [SIGNUP, LOGIN])
async def test_wrong_field_types_are_422_naming_the_field(
    client: httpx.AsyncClient, path: str
) -> None:
    body = assert_problem(await client.post(path, json={"email": ["x"], "password": 12345678}), 422)
    fields = {e["field"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert "email" in fields


async def test_duplicate_keys_are_read_as_the_last_one_not_an_error(
    client: httpx.AsyncClient,
) -> None:
    text = (
        b'{"email": "first@example.com", "email": "dup-last@example.com", '
        b'"password": "long enough pw", "full_name": "D", "full_name": "Dup"}'
    )
    response = await client.post(SIGNUP, content=text, headers=JSON)
    assert response.status_code == 201, response.text
    assert (response.json()["email"], response.json()["full_name"]) == (
        "dup-last@example.com",
        "Dup",
    )


async def test_a_huge_json_body_under_the_limit_is_a_422_not_a_500(
    client: httpx.AsyncClient,
) -> None:
    huge = b'{"email": [' + b",".join([b"1"] * 400_000) + b"]}"
    assert_problem(await client.post(SIGNUP, content=huge, headers=JSON), 422)


async def test_a_huge_string_field_is_a_422(client: httpx.AsyncClient) -> None:
    body = {"email": "a@example.com", "password": "long enough pw", "full_name": "x" * 900_000}
    assert_problem(await client.post(SIGNUP, json=body), 422)


async def test_deeply_nested_json_is_400(client: httpx.AsyncClient) -> None:
    depth = 50_000
    response = await client.post(SIGNUP, content=b"[" * depth + b"]" * depth, headers=JSON)
    assert_problem(response, 400)


async def test_deeply_nested_object_value_is_4xx(client: httpx.AsyncClient) -> None:
    depth = 50_000
    nested = b'{"a":' * depth + b"1" + b"}" * depth
    response = await client.post(LOGIN, content=nested, headers=JSON)
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("path", [SIGNUP, LOGIN])
async def test_invalid_utf8_is_400(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(
        path, content=b'{"email": "\xff\xfe@example.com", "password": "pw"}', headers=JSON
    )
    assert_problem(response, 400)


@pytest.mark.parametrize("field", ["full_name", "email", "password", "company"])
async def test_nul_in_a_json_string_is_422_and_nothing_is_stored(
    client: httpx.AsyncClient, field: str
) -> None:
    body = {"email": "nul@example.com", "password": "long enough pw", "full_name": "N"}
    body[field] = body.get(field, "x") + "\u0000tail"
    response = await client.post(SIGNUP, json=body)
    detail = assert_problem(response, 422)["detail"]
    assert "NUL" in str(detail)
    clean = {**body, field: "clean value" if field != "email" else "nul@example.com"}
    if field == "password":
        clean["password"] = "long enough pw"
    assert (await client.post(SIGNUP, json=clean)).status_code == 201


async def test_nul_at_login_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGIN, json={"email": "a\u0000@example.com", "password": "x"})
    assert_problem(response, 422)


async def test_escaped_backslash_before_u0000_is_ordinary_text(client: httpx.AsyncClient) -> None:
    body = b'{"email": "bs@example.com", "password": "long enough pw", "full_name": "a\\\\u0000b"}'
    response = await client.post(SIGNUP, content=body, headers=JSON)
    assert response.status_code == 201
    assert response.json()["full_name"] == "a\\u0000b"


async def test_nul_in_form_body_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", data={"username": "a\x00@example.com", "password": "pw"}
    )
    assert_problem(response, 422)


async def test_nul_in_query_string_is_422(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    response = await client.get("/api/v1/users/me?q=a%00b", headers=account.headers)
    assert_problem(response, 422)


async def test_two_mebibyte_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        SIGNUP, content=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers=JSON
    )
    body = assert_problem(response, 413)
    assert "1048576" in str(body["detail"])


async def test_a_get_that_declares_a_body_is_still_guarded(client: httpx.AsyncClient) -> None:
    """Requests without Content-Length or Transfer-Encoding skip the body guard (they
    cannot carry a body); one that frames a body is counted like any POST."""
    account = await sign_up(client)
    response = await client.request(
        "GET", "/api/v1/users/me", content=b"x" * (2 * 1024 * 1024), headers=account.headers
    )
    assert_problem(response, 413)
    assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 200


async def test_chunked_body_over_the_limit_is_413_without_reading_it_all(
    client: httpx.AsyncClient,
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):  # 4 MiB offered in 64 KiB chunks, no Content-Length
            sent += 1
            yield b" " * 65536

    response = await client.post(SIGNUP, content=chunks(), headers=JSON)
    assert_problem(response, 413)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"


async def test_huge_content_length_is_refused_before_any_read(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/nothing-here", content=b"{}", headers={**JSON, "content-length": "999999999"}
    )
    assert response.status_code == 413


async def test_a_route_can_declare_its_own_smaller_limit(client: httpx.AsyncClient) -> None:
    router = APIRouter()

    @router.post("/small", max_body_size=1024)
    async def small(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    client_app = client._transport.app  # type: ignore[attr-defined]
    client_app.include_router(router)
    assert (await client.post("/small", content=b"x" * 1000)).json() == {"size": 1000}
    assert_problem(await client.post("/small", content=b"x" * 2000), 413)


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = assert_problem(await client.get("/api/v1/no-such-thing"), 404)
    assert "/api/v1/no-such-thing" in str(missing["detail"])
    assert_problem(await client.delete("/health"), 405)
