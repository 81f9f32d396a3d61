"""Chaos tests start their own PostgreSQL / Redis servers on free ports and stop
them mid-traffic; they never touch the machine's shared servers. `.ci/run` runs
them once (`pytest -m chaos`); the default suite leaves them out."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.private_postgres import PrivatePostgres, postgres_bin_dir, private_postgres

pytestmark = pytest.mark.chaos


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    if postgres_bin_dir() is None:
        pytest.skip("needs the PostgreSQL server binaries (initdb, pg_ctl)")
    with private_postgres() as server:
        yield server


@pytest.fixture
def need_redis() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
