"""Start a throwaway `botskis serve` for a benchmark and stop it afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def bench_server(
    extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="botskis-bench-") as tmp:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}",
                "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
                "LOG_DIR": str(Path(tmp) / "logs"),
                "LOG_LEVEL": "WARNING",
                "RATE_LIMIT_DEFAULT": "1000000/minute",
                "RATE_LIMIT_LOGIN": "1000000/minute",
                "RATE_LIMIT_SIGNUP": "1000000/minute",
                "RATE_LIMIT_USER": "1000000/minute",
            }
        )
        env.update(extra_env or {})
        cli = [sys.executable, "-m", "botskis.cli"]
        subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
        port = free_port()
        process = subprocess.Popen(
            [*cli, "serve", "--port", str(port), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=15)
