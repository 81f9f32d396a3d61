"""What the app writes to LOG_DIR: request ids on every line, an access line per
request, security markers, JSON lines, stack traces only in error.log, and never a
secret."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from loguru import logger

from botskis.app import create_app
from botskis.core.logging import start_detached_task
from tests.conftest import make_settings
from tests.users.factories import DEFAULT_PASSWORD, sign_up


async def _fail_loudly() -> None:
    logger.info("about to fail")
    raise RuntimeError("kaboom in handler")


_background: set[asyncio.Task[None]] = set()


async def _log_later(message: str) -> None:
    await asyncio.sleep(0.05)  # after the response went out
    logger.info(message)


async def _start_background_work() -> dict[str, str]:
    _background.add(start_detached_task(_log_later("shared work")))
    _background.add(asyncio.create_task(_log_later("this request's own work")))
    return {}


@pytest.fixture
async def json_client(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(make_settings(database_url, tmp_path / "logs", log_format="json"))
    application.add_api_route("/fail", _fail_loudly, methods=["GET"])
    application.add_api_route("/background", _start_background_work, methods=["GET"])
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


def records(tmp_path: Path, name: str = "app.log") -> list[dict[str, Any]]:
    lines = (tmp_path / "logs" / name).read_text().splitlines()
    return [json.loads(line) for line in lines]  # every line is one JSON object


async def test_every_line_of_a_request_carries_its_id(
    json_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await json_client.get("/fail", headers={"X-Request-ID": "req-abc"})
    mine = [r for r in records(tmp_path) if r.get("request_id") == "req-abc"]
    messages = [r["message"] for r in mine]
    assert "about to fail" in messages
    assert "request" in messages
    assert any(m.startswith("unhandled error") for m in messages)


async def test_shared_work_a_request_starts_does_not_carry_its_id(
    json_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await json_client.get("/background", headers={"X-Request-ID": "req-bg"})
    await asyncio.gather(*_background)
    ids = {r["message"]: r.get("request_id") for r in records(tmp_path)}
    assert ids["this request's own work"] == "req-bg"
    assert ids["shared work"] == "-"


async def test_access_line_has_method_path_status_duration_and_ip(
    json_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await json_client.get("/api/v1/users/me", headers={"X-Request-ID": "req-access"})
    (line,) = [r for r in records(tmp_path) if r.get("access") and r["request_id"] == "req-access"]
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/users/me"
    assert line["status"] == 401
    assert isinstance(line["duration_ms"], float)
    assert line["client_ip"] == "127.0.0.1"


async def test_secrets_never_reach_the_logs(json_client: httpx.AsyncClient, tmp_path: Path) -> None:
    account = await sign_up(json_client, email="secretive@example.com")
    await json_client.get(
        "/api/v1/users/me?token=query-token-value&page=2",
        headers={**account.headers, "Cookie": "session=cookie-value"},
    )
    await json_client.post(
        "/api/v1/auth/login",
        json={"email": "secretive@example.com", "password": "wrong-password-value"},
    )
    text = (tmp_path / "logs" / "app.log").read_text()
    for secret in (
        account.token,
        "query-token-value",
        "cookie-value",
        DEFAULT_PASSWORD,
        "wrong-password-value",
    ):
        assert secret not in text
    paths = [r["path"] for r in records(tmp_path) if r.get("access")]
    assert "/api/v1/users/me?token=%5Bredacted%5D&page=2" in paths


async def test_security_events_are_marked(json_client: httpx.AsyncClient, tmp_path: Path) -> None:
    await sign_up(json_client, email="marked@example.com")
    await json_client.post(
        "/api/v1/auth/login", json={"email": "marked@example.com", "password": "not-it-at-all"}
    )
    await json_client.get("/api/v1/users/me", headers={"Authorization": "Bearer forged"})
    marked = {r["message"] for r in records(tmp_path) if r.get("security") is True}
    assert {"signup", "login succeeded", "login failed", "token rejected"} <= marked


async def test_stack_traces_go_to_error_log_only(
    json_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    response = await json_client.get("/fail", headers={"X-Request-ID": "req-trace"})
    assert response.status_code == 500
    assert "kaboom" not in response.text
    (error,) = [r for r in records(tmp_path, "error.log") if r["request_id"] == "req-trace"]
    assert "RuntimeError: kaboom in handler" in error["exception"]
    assert "Traceback" in error["exception"]
    assert all(r["level"] in {"ERROR", "CRITICAL"} for r in records(tmp_path, "error.log"))


async def test_standard_library_logging_is_routed_into_the_files(
    json_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    import logging

    logging.getLogger("uvicorn.error").warning("from the standard library")
    (line,) = [r for r in records(tmp_path) if r["message"] == "from the standard library"]
    assert line["logger"] == "uvicorn.error"
    assert line["level"] == "WARNING"


async def test_text_format_is_the_default(client: httpx.AsyncClient, settings: Any) -> None:
    await client.get("/health", headers={"X-Request-ID": "req-text"})
    text = (Path(settings.log_dir) / "app.log").read_text()
    line = next(line for line in text.splitlines() if "req-text" in line)
    assert not line.startswith("{")
    assert "| request |" not in line or "status=200" in line
    assert "path=/health" in line and "status=200" in line


async def test_standard_library_records_below_log_level_are_not_even_built(
    json_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """uvicorn wraps the whole app in a per-message TRACE logger whenever its logger's
    effective level is TRACE or lower; at LOG_LEVEL=INFO that must not happen."""
    import logging

    from uvicorn.logging import TRACE_LOG_LEVEL

    uvicorn_logger = logging.getLogger("uvicorn.error")
    assert uvicorn_logger.getEffectiveLevel() == logging.INFO > TRACE_LOG_LEVEL
    uvicorn_logger.debug("debug from the standard library")
    assert not [r for r in records(tmp_path) if "debug from the standard" in r["message"]]


async def test_a_forged_line_in_the_path_stays_inside_one_line(
    client: httpx.AsyncClient, settings: Any
) -> None:
    """CR/LF (and any control character) in the path, query, headers or exception
    text are escaped in text logs: one event, one line."""
    await client.get(
        "/api/v1/agents/%0d%0aFORGED%20|%20INFO%20|%20forged%1b[31m?q=%0a",
        headers={"X-Request-ID": "req-forge"},
    )
    lines = (Path(settings.log_dir) / "app.log").read_text().splitlines()
    assert not [
        line
        for line in lines
        if line.startswith("FORGED") or ("forged" in line and "req-forge" not in line)
    ]
    (access,) = [line for line in lines if "req-forge" in line and "access=True" in line]
    assert "\\r\\nFORGED | INFO | forged" in access
    assert "\x1b" not in access and "\\x1b" in access


def test_bound_fields_and_exception_text_are_escaped(tmp_path: Path) -> None:
    from botskis.core.logging import setup_logging

    setup_logging(make_settings("sqlite+aiosqlite://", tmp_path / "logs"))
    logger.bind(user_input="a\nb").info("message\r\nINFO forged")
    try:
        raise ValueError("bad\nERROR forged")
    except ValueError:
        logger.exception("failed")
    app_log = (tmp_path / "logs" / "app.log").read_text().splitlines()
    assert len(app_log) == 2
    assert "message\\r\\nINFO forged" in app_log[0] and "user_input=a\\nb" in app_log[0]
    assert "exception=ValueError: bad\\nERROR forged" in app_log[1]
    error_log = (tmp_path / "logs" / "error.log").read_text().splitlines()
    assert error_log[0].endswith("exception=ValueError: bad\\nERROR forged")
    # The stack trace follows as indented continuation lines, never a new event.
    assert len(error_log) > 2 and all(line.startswith("    ") for line in error_log[1:])


def test_json_format_writes_stdout_and_no_files_without_a_log_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from botskis.core.logging import setup_logging

    settings = make_settings("sqlite+aiosqlite://", tmp_path / "logs", log_format="json")
    setup_logging(settings.model_copy(update={"log_dir": ""}))
    logger.bind(path="/x\r\nforged").info("one\nevent")
    out = capsys.readouterr().out.splitlines()
    (line,) = [json.loads(text) for text in out if "event" in text]
    assert line["message"] == "one\nevent" and line["path"] == "/x\r\nforged"
    assert not (tmp_path / "logs").exists()


def test_log_level_governs_uvicorn_loggers_that_an_earlier_config_set(
    database_url: str, tmp_path: Path
) -> None:
    """A uvicorn Config made before (another server in this process, a test) leaves its
    own level on uvicorn's loggers; LOG_LEVEL must win once logging is set up."""
    import logging

    from botskis.core.logging import setup_logging

    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.WARNING)
    setup_logging(make_settings(database_url, tmp_path / "logs", log_level="INFO"))
    for name in ("uvicorn", "uvicorn.error"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.INFO
