import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.databases import throwaway_database
from tests.live_server import BOTSKIS, free_port, run_cli, server_env


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


def _outside_env(tmp_path: Path) -> dict[str, str]:
    """A user's shell outside the repository: no DATABASE_URL, a home of its own."""
    env = server_env("unused", tmp_path / "logs", HOME=str(tmp_path / "home"))
    del env["DATABASE_URL"]
    env.pop("XDG_DATA_HOME", None)
    return env


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_commands_before_migrate_say_so_in_one_line_and_create_nothing(tmp_path: Path) -> None:
    env = _outside_env(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for command in (
        ["create-user", "--email", "a@example.com", "--password-stdin"],
        ["rotate-credentials"],
        ["worker"],
        ["serve", "--port", "1"],
    ):
        line = _one_line(run_cli(command, env, "long-enough\n", cwd=elsewhere))
        assert "run `botskis migrate` first" in line, (command, line)
    assert list(elsewhere.iterdir()) == []
    assert not (tmp_path / "home" / ".local" / "share" / "botskis" / "botskis.db").exists()


def test_the_default_database_is_the_same_from_any_directory(tmp_path: Path) -> None:
    env = _outside_env(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    migrated = run_cli(["migrate"], env, cwd=first)
    assert migrated.returncode == 0, migrated.stderr
    database = tmp_path / "home" / ".local" / "share" / "botskis" / "botskis.db"
    assert str(database) in migrated.stdout
    created = run_cli(
        ["create-user", "--email", "a@example.com", "--password-stdin"],
        env,
        "long-enough\n",
        cwd=second,
    )
    assert created.returncode == 0, created.stderr
    assert list(first.iterdir()) == [] and list(second.iterdir()) == []
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT email FROM users").fetchall() == [("a@example.com",)]


def test_a_database_without_schema_is_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    env = server_env(f"sqlite+aiosqlite:///{empty}", tmp_path / "logs")
    line = _one_line(
        run_cli(["create-user", "--email", "a@example.com", "--password-stdin"], env, "x" * 10)
    )
    assert "has no schema" in line and "botskis migrate" in line


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://botskis:hunter2-secret@127.0.0.1:{free_port()}/botskis"
    env = server_env(url, tmp_path / "logs", DATABASE_CONNECT_TIMEOUT_SECONDS="2")
    for command in (["migrate"], ["create-user", "--email", "a@example.com", "--password-stdin"]):
        line = _one_line(run_cli(command, env, "long-enough\n"))
        assert "cannot use the database at postgresql+psycopg://botskis:***@127.0.0.1" in line
        assert "hunter2" not in line


def test_worker_health_follows_the_heartbeat_of_this_hosts_worker(tmp_path: Path) -> None:
    env = server_env(
        f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        tmp_path / "logs",
        WORKER_HEARTBEAT_SECONDS="0.5",
    )
    assert run_cli(["migrate"], env).returncode == 0
    assert "no worker" in _one_line(run_cli(["worker-health"], env))
    worker = subprocess.Popen(
        [*BOTSKIS, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while (health := run_cli(["worker-health"], env)).returncode != 0:
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, health.stderr
            time.sleep(0.5)
        assert "alive" in health.stdout
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
