"""Telling "the database cannot serve right now" apart from a bug.

A database that cannot be reached, a pool with no free connection, a read-only
replica, a full or read-only SQLite file, and a serialization failure or deadlock
are conditions of the moment, not defects of the request: clients get a 503 with
Retry-After (core/errors.py) instead of a 500, and the log gets one line when an
outage starts and one when it ends instead of a traceback per request.
"""

from __future__ import annotations

import sqlite3
import time
from enum import StrEnum

import psycopg
from loguru import logger
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from botskis.core import metrics
from botskis.database.write_turn import WriteTurnTimeout


class Unavailability(StrEnum):
    UNREACHABLE = "unreachable"
    POOL_TIMEOUT = "pool_timeout"
    CONTENTION = "contention"
    READ_ONLY = "read_only"
    STORAGE = "storage"


# Seconds a client is asked to wait: contention clears at once, an outage does not.
RETRY_AFTER_SECONDS = {
    Unavailability.UNREACHABLE: 5,
    Unavailability.POOL_TIMEOUT: 2,
    Unavailability.CONTENTION: 1,
    Unavailability.READ_ONLY: 5,
    Unavailability.STORAGE: 5,
}

# PostgreSQL SQLSTATEs (appendix A of its manual) that describe the server's state.
_PG_STATES = {
    "40001": Unavailability.CONTENTION,  # serialization_failure
    "40P01": Unavailability.CONTENTION,  # deadlock_detected
    "55P03": Unavailability.CONTENTION,  # lock_not_available
    "25006": Unavailability.READ_ONLY,  # read_only_sql_transaction
    "57P01": Unavailability.UNREACHABLE,  # admin_shutdown
    "57P02": Unavailability.UNREACHABLE,  # crash_shutdown
    "57P03": Unavailability.UNREACHABLE,  # cannot_connect_now
    "53300": Unavailability.UNREACHABLE,  # too_many_connections
}
_PG_CLASSES = {
    "08": Unavailability.UNREACHABLE,  # connection exception
    "53": Unavailability.STORAGE,  # insufficient resources (disk full, out of memory)
    "58": Unavailability.STORAGE,  # system error (I/O)
}
# SQLite primary result codes (sqlite.org/rescode.html).
_SQLITE_CODES = {
    5: Unavailability.CONTENTION,  # SQLITE_BUSY: the write lock outlived busy_timeout
    6: Unavailability.CONTENTION,  # SQLITE_LOCKED
    8: Unavailability.READ_ONLY,  # SQLITE_READONLY: the file or its directory
    10: Unavailability.STORAGE,  # SQLITE_IOERR
    13: Unavailability.STORAGE,  # SQLITE_FULL: the disk is full
    14: Unavailability.STORAGE,  # SQLITE_CANTOPEN
}


def unavailability(exc: BaseException) -> Unavailability | None:
    """Why the database cannot serve, when `exc` (or what caused it) says so;
    None for anything else, which stays an unexpected error."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        reason = _reason(current)
        if reason is not None:
            return reason
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def _reason(exc: BaseException) -> Unavailability | None:
    if isinstance(exc, PoolTimeout):
        return Unavailability.POOL_TIMEOUT
    if isinstance(exc, WriteTurnTimeout):
        return Unavailability.CONTENTION
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return Unavailability.UNREACHABLE
        return _driver_reason(exc.orig)
    if isinstance(exc, (sqlite3.Error, psycopg.Error)):
        return _driver_reason(exc)
    return None


def _driver_reason(error: BaseException | None) -> Unavailability | None:
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        return _SQLITE_CODES.get(code & 0xFF) if isinstance(code, int) else None
    state = getattr(error, "sqlstate", None)
    if isinstance(state, str):
        return _PG_STATES.get(state) or _PG_CLASSES.get(state[:2])
    # psycopg's connection failures (refused, reset, closed) carry no SQLSTATE.
    if isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)):
        return Unavailability.UNREACHABLE
    return None


class Availability:
    """The process's view of its database: one ERROR line when an outage starts,
    one WARNING line when a transaction commits again, and a counter per refusal.
    Contention is not an outage (the next attempt usually succeeds), so it is
    counted and logged without opening one."""

    def __init__(self) -> None:
        self.down: Unavailability | None = None
        self.since = 0.0

    def report(self, exc: BaseException) -> Unavailability | None:
        reason = unavailability(exc)
        if reason is None:
            return None
        metrics.DATABASE_UNAVAILABLE.labels(reason.value).inc()
        if reason is Unavailability.CONTENTION:
            logger.bind(reason=reason.value, error=type(exc).__name__).info("database contention")
        elif self.down is None:
            self.down = reason
            self.since = time.monotonic()
            logger.bind(reason=reason.value, error=type(exc).__name__).error("database unavailable")
        return reason

    def succeeded(self) -> None:
        if self.down is not None:
            outage = round(time.monotonic() - self.since, 1)
            self.down = None
            logger.bind(outage_seconds=outage).warning("database is back")
