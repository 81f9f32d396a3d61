import json
from pathlib import Path

from tests.databases import throwaway_database
from tests.live_server import run_cli, server_env


def test_every_command_has_help(tmp_path: Path) -> None:
    env = server_env("sqlite+aiosqlite:///" + str(tmp_path / "x.db"), tmp_path / "logs")
    for command in (
        ["--help"],
        ["serve", "--help"],
        ["migrate", "--help"],
        ["create-user", "--help"],
    ):
        result = run_cli(command, env)
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout


def test_create_user_rejects_bad_input_and_duplicates(tmp_path: Path) -> None:
    with throwaway_database(tmp_path, "cli") as url:
        env = server_env(url, tmp_path / "logs")
        assert run_cli(["migrate"], env).returncode == 0
        short = run_cli(
            ["create-user", "--email", "a@example.com", "--password-stdin"], env, "short\n"
        )
        assert short.returncode == 2
        assert "8 to 72 bytes" in short.stderr
        ok = run_cli(
            ["create-user", "--email", "a@example.com", "--password-stdin"], env, "long-enough\n"
        )
        assert ok.returncode == 0, ok.stderr
        again = run_cli(
            ["create-user", "--email", "A@example.com", "--password-stdin"], env, "long-enough\n"
        )
        assert again.returncode == 2
        assert "already exists" in again.stderr
        assert "Traceback" not in again.stderr


def test_production_refuses_weak_secret_with_one_line(tmp_path: Path) -> None:
    env = server_env("sqlite+aiosqlite:///" + str(tmp_path / "x.db"), tmp_path / "logs")
    for secret in ("", "changeme", "too-short-secret"):
        env.update({"ENVIRONMENT": "production", "SECRET_KEY": secret})
        result = run_cli(["serve", "--port", "1"], env)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "SECRET_KEY" in lines[0]


def test_malformed_setting_is_one_readable_line(tmp_path: Path) -> None:
    env = server_env("sqlite+aiosqlite:///" + str(tmp_path / "x.db"), tmp_path / "logs")
    env["PORT"] = "eighty"
    result = run_cli(["migrate"], env)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "PORT" in result.stderr
    env["PORT"] = "8000"
    env["ENVIRONMENT"] = "staging"
    result = run_cli(["migrate"], env)
    assert result.returncode == 2
    assert "ENVIRONMENT" in result.stderr


def test_openapi_writes_the_served_document(tmp_path: Path) -> None:
    env = server_env("sqlite+aiosqlite:///" + str(tmp_path / "unused.db"), tmp_path / "logs")
    target = tmp_path / "openapi.json"
    result = run_cli(["openapi", "--output", str(target)], env)
    assert result.returncode == 0, result.stderr
    document = json.loads(target.read_text())
    assert document["info"]["title"] == "Botskis"
    assert "/api/v1/auth/session" in document["paths"]
    # Stable output, so the committed copy and the web client only change with the API.
    again = run_cli(["openapi"], env)
    assert again.stdout == target.read_text()
