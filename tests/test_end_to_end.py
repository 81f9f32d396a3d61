"""The real server process, over real HTTP."""

from pathlib import Path

import httpx
import pytest

from tests.databases import throwaway_database
from tests.live_server import live_server, run_cli, server_env

pytestmark = pytest.mark.e2e


def test_signup_login_me_and_superuser_listing(tmp_path: Path) -> None:
    with throwaway_database(tmp_path, "e2e") as url:
        env = server_env(url, tmp_path / "logs")
        with live_server(env) as base, httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/health").json() == {"status": "ok"}
            created = http.post(
                "/api/v1/users",
                json={"email": "e2e@example.com", "password": "password-e2e", "full_name": "E"},
            )
            assert created.status_code == 201
            login = http.post(
                "/api/v1/auth/login",
                json={"email": "e2e@example.com", "password": "password-e2e"},
            )
            token = login.json()["access_token"]
            me = http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
            assert me.json()["email"] == "e2e@example.com"
            assert (
                http.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"}).status_code
                == 403
            )

            made = run_cli(
                [
                    "create-user",
                    "--email",
                    "Admin@Example.com",
                    "--superuser",
                    "--password-stdin",
                ],
                env,
                stdin="admin-password\n",
            )
            assert made.returncode == 0, made.stderr
            admin = http.post(
                "/api/v1/auth/login",
                json={"email": "admin@example.com", "password": "admin-password"},
            ).json()["access_token"]
            listed = http.get(
                "/api/v1/users",
                params={"limit": 1},
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert listed.status_code == 200
            assert listed.json()["total"] == 2
            assert len(listed.json()["items"]) == 1
            assert (
                http.get(
                    "/api/v1/users",
                    params={"limit": 0},
                    headers={"Authorization": f"Bearer {admin}"},
                ).status_code
                == 422
            )
