"""Start `botskis` as a real process on a free port, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

BOTSKIS = [sys.executable, "-m", "botskis.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(database_url: str, log_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "e2e-secret-key-0123456789abcdef0123456789",
            "BCRYPT_ROUNDS": "4",
            "LOG_DIR": str(log_dir),
            "LOG_LEVEL": "INFO",
            "RATE_LIMIT_DEFAULT": "100000/minute",
            "RATE_LIMIT_LOGIN": "100000/minute",
            "RATE_LIMIT_SIGNUP": "100000/minute",
            "RATE_LIMIT_USER": "100000/minute",
            "RATE_LIMIT_PREFIX": f"e2e-{uuid.uuid4().hex[:12]}",
        }
    )
    env.update(extra)
    return env


def run_cli(
    args: list[str], env: dict[str, str], stdin: str = "", *, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BOTSKIS, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@contextmanager
def live_server(
    env: dict[str, str],
    *,
    args: tuple[str, ...] = (),
    cwd: Path | None = None,
    port: int | None = None,
) -> Iterator[str]:
    """Migrate, start `botskis serve`, wait for /health, yield its base URL, stop it.
    `port` (default: a free one) lets the caller put the URL in the server's own
    settings first, e.g. PUBLIC_URL for the links in its mail."""
    migrated = run_cli(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    port = port or free_port()
    log = open(Path(env["LOG_DIR"]).parent / f"server-{port}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [*BOTSKIS, "serve", "--port", str(port), *args],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        # Generous: on a loaded two-core machine a cold start can take many seconds.
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("server did not become healthy in 120 s")
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
