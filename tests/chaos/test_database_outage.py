"""The database stops mid-traffic: every request answers 503 problem+json with
Retry-After (never a 500), the log says so once and says when it is back, and
the service recovers by itself when the database returns."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.live_server import live_server, server_env
from tests.private_postgres import PrivatePostgres
from tests.users.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.chaos

METRICS_TOKEN = "chaos-metrics-token"


class Traffic:
    """A few clients calling a mix of reads and writes in a loop until stopped
    (bounded: at most `limit` requests each), recording every status."""

    def __init__(self, base_url: str, token: str, agent_id: str, *, limit: int = 3000) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.agent_id = agent_id
        self.limit = limit
        self.statuses: Counter[int] = Counter()
        self.bad: list[str] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(i,)) for i in range(4)]
        self.lock = threading.Lock()

    def _requests(self, client: httpx.Client, index: int) -> httpx.Response:
        kind = index % 5
        if kind == 0:
            return client.get("/api/v1/agents", headers=self.headers)
        if kind == 1:
            return client.get(f"/api/v1/agents/{self.agent_id}", headers=self.headers)
        if kind == 2:
            return client.post(f"/api/v1/agents/{self.agent_id}/run", headers=self.headers)
        if kind == 3:
            return client.get("/api/v1/users/me", headers=self.headers)
        return client.get("/api/v1/marketplace/stats")

    def _loop(self, offset: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            for index in range(offset, offset + self.limit):
                if self.stopping.is_set():
                    return
                response = self._requests(client, index)
                with self.lock:
                    self.statuses[response.status_code] += 1
                    if response.status_code == 503:
                        self._check_unavailable(response)
                    elif response.status_code >= 500:
                        self.bad.append(f"{response.request.url}: {response.text}")

    def _check_unavailable(self, response: httpx.Response) -> None:
        if (
            response.headers.get("content-type") != "application/problem+json"
            or not response.headers.get("retry-after", "").isdigit()
            or response.json().get("status") != 503
        ):
            self.bad.append(f"malformed 503: {response.headers} {response.text}")

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def count(self, status: int) -> int:
        with self.lock:
            return self.statuses[status]


def _wait_for(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_database_stopped_and_restarted_mid_traffic_answers_503_then_recovers(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    log_dir = tmp_path / "logs"
    env = server_env(
        postgres.url,
        log_dir,
        # Every request reads the user row, so an outage reaches every route.
        AUTH_CACHE_SECONDS="0",
        METRICS_TOKEN=METRICS_TOKEN,
        DATABASE_CONNECT_TIMEOUT_SECONDS="2",
        WORKER_POLL_SECONDS="0.2",
    )
    with live_server(env) as base, httpx.Client(base_url=base, timeout=30) as http:
        email = f"chaos-{uuid.uuid4().hex[:8]}@example.com"
        signup = {"email": email, "password": DEFAULT_PASSWORD, "full_name": "Chaos"}
        assert http.post("/api/v1/users", json=signup).status_code == 201
        token = http.post(
            "/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        deployed = http.post(
            "/api/v1/agents/deploy",
            # The run fails at once: loopback is refused without HTTP_ALLOWLIST.
            json={
                "template_id": "zapier-alternative",
                "config": {"target_url": "http://127.0.0.1:9/"},
            },
            headers=headers,
        )
        assert deployed.status_code == 201, deployed.text
        traffic = Traffic(base, token, deployed.json()["id"])
        traffic.start()
        try:
            _wait_for(lambda: sum(traffic.statuses.values()) >= 40)
            postgres.stop()
            _wait_for(lambda: traffic.count(503) >= 40)
            # Signing up and logging in are refused the same way while it is down.
            for path, body in (
                ("/api/v1/users", {**signup, "email": f"x{email}"}),
                ("/api/v1/auth/login", {"email": email, "password": DEFAULT_PASSWORD}),
            ):
                refused = http.post(path, json=body)
                assert refused.status_code == 503, refused.text
                assert refused.headers["retry-after"].isdigit()
            postgres.start()
            served_before = traffic.count(200)
            _wait_for(lambda: traffic.count(200) >= served_before + 40)
        finally:
            traffic.stop()
        assert not traffic.bad, traffic.bad[:5]
        assert traffic.statuses[500] == 0
        scraped = http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert 'botskis_database_unavailable_total{reason="unreachable"}' in scraped.text

    app_log = (log_dir / "app.log").read_text()
    down = app_log.count("database unavailable")
    back = app_log.count("database is back")
    # One line per transition, not one per refused request (there were dozens).
    assert 1 <= down <= 3, down
    assert back == down
    assert "Traceback" not in (log_dir / "error.log").read_text()
