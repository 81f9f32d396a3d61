"""Every Prometheus metric the process exports, defined in one place; add yours here.

With several worker processes (`botskis serve --workers N` sets
PROMETHEUS_MULTIPROC_DIR for them) each process writes its samples to files in
that directory and `/metrics` merges them, so any worker answers for all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "botskis_http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "botskis_http_request_duration_seconds",
    "HTTP request latency by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IN_FLIGHT = Gauge(
    "botskis_http_requests_in_flight",
    "HTTP requests being served right now.",
    multiprocess_mode="livesum",
)
RATE_LIMITED = Counter(
    "botskis_rate_limited_total",
    "Requests refused with 429, by limit name.",
    ["limit"],
)
DATABASE_UNAVAILABLE = Counter(
    "botskis_database_unavailable_total",
    "Database operations refused because the database could not serve (503s and "
    "worker passes), by reason: unreachable, pool_timeout, contention, read_only, storage.",
    ["reason"],
)
LOGIN_FAILURES = Counter(
    "botskis_login_failures_total",
    "Failed logins (wrong email or password, inactive account).",
)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def render() -> tuple[bytes, str]:
    """The exposition text of this process, or of every process in multiprocess mode."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def process_exited() -> None:
    """Drop this process's live gauges from the shared directory on shutdown."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


MULTIPROC_PREFIX = "botskis-metrics-"


def prepare_multiprocess_dir() -> Path | None:
    """Before forking workers: give them a shared, empty samples directory.

    PROMETHEUS_MULTIPROC_DIR, when set, is the operator's: emptied, never removed.
    Otherwise a fresh temporary one named after this process's pid, returned so
    the caller removes it on exit (`remove_multiprocess_dir`)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return None
    created = Path(tempfile.mkdtemp(prefix=f"{MULTIPROC_PREFIX}{os.getpid()}-"))
    os.environ[MULTIPROC_ENV] = str(created)
    return created


def remove_multiprocess_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_multiprocess_dirs() -> list[Path]:
    """Remove the temporary samples directories of `botskis serve` processes that
    died without cleaning up (SIGKILL, power loss): only directories of this user
    whose name carries the pid of a process that no longer exists."""
    removed = []
    for path in Path(tempfile.gettempdir()).glob(f"{MULTIPROC_PREFIX}*-*"):
        owner = path.name.removeprefix(MULTIPROC_PREFIX).split("-", 1)[0]
        try:
            mine = path.is_dir() and path.stat().st_uid == os.getuid()
        except OSError:
            continue
        if mine and owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
