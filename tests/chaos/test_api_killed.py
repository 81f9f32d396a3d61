"""An API process killed with -9 while requests that write several rows are in
flight: after a restart every account holds all of what its request wrote or
none of it, and every request that got a 2xx is there in full."""

from __future__ import annotations

import signal
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from tests.live_server import server_env
from tests.private_postgres import PrivatePostgres
from tests.realtime.support import serve_process
from tests.users.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.chaos

ACCOUNTS = 24
# Both templates take an empty config; onboarding deploys them in one transaction.
TEMPLATES = ["meeting-notes-summarizer", "payment-reminder-bot"]


def _account(http: httpx.Client) -> dict[str, str]:
    email = f"kill-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": DEFAULT_PASSWORD, "full_name": "Kill"}
    assert http.post("/api/v1/users", json=body).status_code == 201
    login = http.post("/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def test_an_api_process_killed_mid_request_leaves_no_half_written_rows(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    env = server_env(postgres.url, tmp_path / "logs", WORKER_EMBEDDED="false")
    accepted: list[int] = []
    with serve_process(env) as (base, process):
        with httpx.Client(base_url=base, timeout=30) as http:
            accounts = [_account(http) for _ in range(ACCOUNTS)]
        lock = threading.Lock()
        first_answer = threading.Event()

        def complete(index: int) -> None:
            try:
                with httpx.Client(base_url=base, timeout=30) as http:
                    response = http.post(
                        "/api/v1/onboarding/complete",
                        json={"template_ids": TEMPLATES},
                        headers=accounts[index],
                    )
            except httpx.TransportError:
                return  # the process died under this request
            with lock:
                assert response.status_code == 201, response.text
                accepted.append(index)
            first_answer.set()

        threads = [threading.Thread(target=complete, args=(i,)) for i in range(ACCOUNTS)]
        for thread in threads:
            thread.start()
        first_answer.wait(timeout=60)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=60)
    assert accepted, "no request finished before the kill"

    with (
        serve_process(env, migrate=False) as (base, _process),
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        counts = [
            http.get("/api/v1/agents", headers=headers).json()["total"] for headers in accounts
        ]
    assert set(counts) <= {0, len(TEMPLATES)}, counts
    for index in accepted:
        assert counts[index] == len(TEMPLATES)
