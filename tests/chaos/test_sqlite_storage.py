"""The SQLite file's disk fills up or turns read-only under the running server:
requests get a clear 503 problem (never a 500), nothing is corrupted, and the
service carries on once the disk has room or is writable again. A tiny tmpfs
(root only) makes both conditions real."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager

from botskis.app import create_app
from botskis.config import Settings
from botskis.database.models import Base
from tests.conftest import make_settings
from tests.users.factories import DEFAULT_PASSWORD, sign_up

pytestmark = pytest.mark.chaos


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point))
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30)


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def served(small_disk: Path, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = f"sqlite+aiosqlite:///{small_disk / 'botskis.db'}"
    engine = sa.create_engine(url.replace("+aiosqlite", ""))
    Base.metadata.create_all(engine)
    engine.dispose()
    # AUTH_CACHE_SECONDS=0: every request reads the database.
    settings = make_settings(url, tmp_path / "logs", redis_url=None, auth_cache_seconds=0)
    async with app_client(settings) as client:
        yield client


def _signup_body() -> dict[str, str]:
    return {
        "email": f"disk-{uuid.uuid4().hex[:8]}@example.com",
        "password": DEFAULT_PASSWORD,
        "full_name": "x" * 200,
    }


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"].isdigit()


def _integrity(path: Path) -> str:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        result = str(conn.execute(sa.text("PRAGMA integrity_check")).scalar())
    engine.dispose()
    return result


async def test_a_full_disk_answers_503_and_recovers_without_corruption(
    served: httpx.AsyncClient, small_disk: Path
) -> None:
    account = await sign_up(served)
    filler = small_disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass  # the disk is full
    refused = 0
    for _ in range(30):
        response = await served.post("/api/v1/users", json=_signup_body())
        if response.status_code == 201:
            continue  # the pages SQLite already had still took a row
        _assert_unavailable(response)
        refused += 1
    assert refused > 0
    assert (await served.get("/api/v1/users/me", headers=account.headers)).status_code == 200
    filler.unlink()
    assert (await served.post("/api/v1/users", json=_signup_body())).status_code == 201
    assert _integrity(small_disk / "botskis.db") == "ok"


async def test_a_read_only_file_answers_503_and_is_not_corrupted(
    small_disk: Path, tmp_path: Path
) -> None:
    """The file is reachable only through a read-only bind mount (a replica
    volume mounted read-only, a filesystem remounted read-only after errors)."""
    path = small_disk / "botskis.db"
    url = f"sqlite+aiosqlite:///{path}"
    engine = sa.create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()
    settings = make_settings(url, tmp_path / "logs", redis_url=None, auth_cache_seconds=0)
    async with app_client(settings) as client:
        account = await sign_up(client)
    view = tmp_path / "read-only"
    view.mkdir()
    _mount("--bind", str(small_disk), str(view))
    try:
        _mount("-o", "remount,bind,ro", str(view))
        read_only = make_settings(
            f"sqlite+aiosqlite:///{view / 'botskis.db'}",
            tmp_path / "logs-ro",
            redis_url=None,
            auth_cache_seconds=0,
            worker_embedded=False,
        )
        async with app_client(read_only) as client:
            _assert_unavailable(await client.post("/api/v1/users", json=_signup_body()))
            login = await client.post(
                "/api/v1/auth/login", json={"email": account.email, "password": DEFAULT_PASSWORD}
            )
            assert login.status_code in (200, 503), login.text
            if login.status_code == 503:
                _assert_unavailable(login)
    finally:
        subprocess.run(["umount", "-l", str(view)], capture_output=True, timeout=30)
    assert _integrity(path) == "ok"
    async with app_client(settings) as client:
        assert (await client.post("/api/v1/users", json=_signup_body())).status_code == 201
