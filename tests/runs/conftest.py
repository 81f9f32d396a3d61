"""Runs need outbound http to the local fakes and a worker that notices a dead
peer quickly; everything else is the suite's default app."""

from __future__ import annotations

from pathlib import Path

import pytest

from botskis.config import Settings
from tests.conftest import make_settings

FAST_WORKER = {
    "http_allowlist": "127.0.0.1",
    "worker_heartbeat_seconds": 0.2,
    # Long enough that a loaded machine does not expire a lease that is being
    # renewed (a reclaimed run repeats its side effects); tests of recovery write
    # expired leases themselves.
    "worker_lease_seconds": 5.0,
    "worker_poll_seconds": 0.5,
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "logs", **FAST_WORKER)
