"""Loguru everywhere: coloured console in development, one JSON object per line with
LOG_JSON=true, files app.log (everything) and error.log (ERROR+, stack traces);
standard-library logging (uvicorn, sqlalchemy, dbos) routed in.

Every line written while a request is handled carries its `request_id` (set in
`request_id_var` by the request-id middleware, added to each record by the
patcher). Shared work a request happens to start (`start_detached_task`) carries
none. Security events carry `security=True` so they can be filtered. Never pass
bodies, headers, passwords, tokens or secrets to a log call: the access log
records method, path (secret query parameters redacted), status, duration and
client IP only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import traceback
from asyncio import Task
from collections.abc import Coroutine
from contextvars import ContextVar, copy_context
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from loguru import logger

from botskis.config import Settings

if TYPE_CHECKING:
    from loguru import Record

# The plain-text line (files, and a console that is not a terminal) is built once per
# record by `_add_text_line` and written by every sink as is: loguru would otherwise
# format the same fields again for each sink. Loguru appends "\n{exception}" itself.
TEXT_FORMAT = "{extra[_line]}"
# A terminal gets the short coloured form, formatted by loguru.
CONSOLE_FORMAT = (
    "<green>{time:HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    "<cyan>{extra[request_id]}</cyan> | <level>{message}</level>{extra[_fields]}"
)
_COMPUTED = frozenset({"_fields", "_json", "_line"})
# The request being handled ("-" outside requests). A ContextVar of our own, read by
# the patchers: loguru's `contextualize` costs a context manager and a dict copy per
# request, and another merge per record. Tasks started by a request inherit it, so
# work that outlives the request and serves others starts with `start_detached_task`.
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
T = TypeVar("T")


def start_detached_task(coro: Coroutine[Any, Any, T], *, name: str | None = None) -> Task[T]:
    """A task for shared work that a request merely happens to start (a per-user
    loop serving later events too): its lines must not carry that request's id."""
    context = copy_context()
    context.run(request_id_var.set, "-")
    return asyncio.create_task(coro, name=name, context=context)


_HIDDEN = _COMPUTED | {"request_id"}


class InterceptHandler(logging.Handler):
    """Sends standard-library records (uvicorn, sqlalchemy, dbos) to loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame: FrameType | None = logging.currentframe()
        depth = 0
        while frame is not None and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).bind(logger=record.name).log(
            level, record.getMessage()
        )


def _extra_fields(record: Record) -> str:
    fields = [f"{k}={v}" for k, v in record["extra"].items() if k not in _HIDDEN]
    return (" | " + " ".join(fields)) if fields else ""


def _add_text_line(record: Record) -> None:
    """Patcher: the `key=value` tail for the coloured console and the whole plain
    line (`2026-11-26 12:00:00.123 | INFO     | <request id> | module:function:line -
    message | key=value ...`), built once per record for every sink."""
    extra = record["extra"]
    if "request_id" not in extra:  # a request id bound explicitly wins
        extra["request_id"] = request_id_var.get()
    fields = _extra_fields(record)
    extra["_fields"] = fields
    # "2026-11-26 12:00:00.123" without the offset; one C call instead of loguru's
    # strftime-based formatting of its datetime.
    time = record["time"].isoformat(" ", "milliseconds")[:23]
    extra["_line"] = (
        f"{time} | {record['level'].name: <8} | {extra['request_id']} | "
        f"{record['name']}:{record['function']}:{record['line']} - {record['message']}{fields}"
    )


def _add_json_line(record: Record) -> None:
    """Patcher: the whole JSON line, built once per record for every sink."""
    extra = record["extra"]
    if "request_id" not in extra:  # a request id bound explicitly wins
        extra["request_id"] = request_id_var.get()
    line: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "message": record["message"],
        "logger": record["name"],
        "function": record["function"],
        "line": record["line"],
        "process": record["process"].id,
        "request_id": extra["request_id"],
    }
    line.update((k, v) for k, v in extra.items() if k not in _COMPUTED)
    if record["exception"] is not None:
        error = record["exception"]
        line["exception"] = "".join(
            traceback.format_exception(error.type, error.value, error.traceback)
        )
    extra["_json"] = json.dumps(line, default=str)


ROTATE_BYTES = 500 * 1024 * 1024
# Re-read the file's real size this often, so lines written by other processes
# (serve --workers N shares the files) count towards the rotation too.
SIZE_RESYNC_LINES = 1000


class SizeRotation:
    """Loguru's "500 MB" rotation seeks to the end of the file and asks its position
    before every line: two system calls per line. This counts the bytes written
    instead and asks the file system only every SIZE_RESYNC_LINES lines (and for
    each new file after a rotation)."""

    def __init__(self, limit: int, resync_lines: int = SIZE_RESYNC_LINES) -> None:
        self.limit = limit
        self.resync_lines = resync_lines
        self.file: Any = None
        self.size = 0
        self.lines = 0

    def __call__(self, message: str, file: Any) -> bool:
        if file is not self.file or self.lines >= self.resync_lines:
            self.file = file
            self.size = os.fstat(file.fileno()).st_size
            self.lines = 0
        length = len(message.encode()) if not message.isascii() else len(message)
        if self.size + length > self.limit:
            self.file = None  # loguru opens a new file; its size is read on the next line
            return True
        self.size += length
        self.lines += 1
        return False


def _json_format(_record: Record) -> str:
    # A callable, so loguru appends no traceback: the JSON line carries it.
    return "{extra[_json]}\n"


def setup_logging(settings: Settings) -> None:
    logger.remove()
    if settings.log_json:
        logger.configure(extra={}, patcher=_add_json_line)
        console_format: Any = _json_format
        file_format: Any = _json_format
        colorize: bool | None = False
    else:
        logger.configure(extra={}, patcher=_add_text_line)
        file_format = TEXT_FORMAT
        if sys.stderr.isatty():
            console_format, colorize = CONSOLE_FORMAT, None  # loguru honours NO_COLOR
        else:
            console_format, colorize = TEXT_FORMAT, False
    logger.add(
        sys.stderr,
        level=settings.log_level,
        format=console_format,
        colorize=colorize,
        backtrace=False,
        diagnose=False,
    )
    log_dir = Path(settings.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    logger.add(
        log_dir / "app.log",
        level=settings.log_level,
        format=file_format,
        rotation=SizeRotation(ROTATE_BYTES),
        retention="10 days",
        enqueue=False,
        backtrace=False,
        diagnose=False,
    )
    logger.add(
        log_dir / "error.log",
        level="ERROR",
        format=file_format,
        rotation=SizeRotation(ROTATE_BYTES),
        retention="30 days",
        enqueue=False,
        backtrace=True,
        diagnose=False,
    )
    # Standard-library records below LOG_LEVEL are dropped before a LogRecord is even
    # built. Level 0 here would also make uvicorn wrap the app in its per-message TRACE
    # logger, which costs a third of a request.
    logging.basicConfig(
        handlers=[InterceptHandler()], level=logger.level(settings.log_level).no, force=True
    )
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "dbos"):
        std = logging.getLogger(name)
        std.handlers = [InterceptHandler()]
        std.propagate = False
    # SQL statements carry parameter values (hashes, secrets): never at INFO.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").disabled = True
