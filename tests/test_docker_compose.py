"""docker-compose.yml, read as data (Docker is not needed): the shape that lets
`docker compose up` start on the secrets of `.env` alone."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|CREDENTIALS_KEY|API_KEY", re.I)
# A value taken from `.env` or the shell, required: ${NAME:?message}.
REQUIRED_VARIABLE = re.compile(r"\$\{[A-Z_]+:\?[^}]*\}")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    found: dict[str, Any] = document["services"]
    return found


def _env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    assert isinstance(environment, dict), "environment as a mapping"
    return {str(k): str(v) for k, v in environment.items()}


def test_migrate_runs_once_before_api_and_worker(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["botskis", "migrate"]
    assert migrate["restart"] == "no"
    for name in ("api", "worker"):
        waits = services[name]["depends_on"]
        assert waits["migrate"] == {"condition": "service_completed_successfully"}, name
        assert waits["postgres"]["condition"] == "service_healthy"
        assert waits["redis"]["condition"] == "service_healthy"


def test_runs_execute_in_a_separate_worker(services: dict[str, Any]) -> None:
    assert services["worker"]["command"] == ["botskis", "worker"]
    assert _env(services["api"])["WORKER_EMBEDDED"] == "false"
    assert services["api"]["command"] == ["botskis", "serve"]


def test_every_botskis_service_reads_dotenv_and_runs_in_production(
    services: dict[str, Any],
) -> None:
    for name in ("migrate", "api", "worker"):
        service = services[name]
        assert service["env_file"] in (".env", [".env"]), name
        env = _env(service)
        assert env["ENVIRONMENT"] == "production"
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["REDIS_URL"].startswith("redis://")
        assert env["HOST"] == "0.0.0.0"
        for key in ("SECRET_KEY", "CREDENTIALS_KEY"):
            assert REQUIRED_VARIABLE.fullmatch(env[key]), (name, key)


def test_long_running_services_have_health_checks(services: dict[str, Any]) -> None:
    api = " ".join(services["api"]["healthcheck"]["test"])
    assert "/health" in api
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "botskis", "worker-health"]
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("api", "worker"):
        assert "interval" in services[name]["healthcheck"], name


def test_no_secret_is_written_in_the_file(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for key, value in _env(service).items():
            if SECRET_NAME.search(key):
                assert REQUIRED_VARIABLE.fullmatch(value), (name, key, "comes from .env")
            # A password inside a URL is a variable too.
            for password in re.findall(r"://[^:/@]+:([^@]+)@", value):
                assert REQUIRED_VARIABLE.fullmatch(password), (name, key)
