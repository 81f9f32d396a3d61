"""Loguru everywhere, in one of two formats (LOG_FORMAT):

* `text` (the default): a coloured line per event on the console, and the same
  lines in LOG_DIR's `app.log` (everything, kept 10 days) and `error.log` (ERROR
  and up with their stack traces, kept 30 days), both rotated by loguru at 500 MB;
* `json`: one JSON object per line on stdout, what container platforms collect,
  and in the same files unless LOG_DIR is empty.

One event is always one line. In text, every value (the message, each bound
field, exception text) is escaped: CR, LF and every other control character
become `\\r`, `\\n`, `\\xNN`, so a path like `/%0d%0aFORGED` cannot start a
forged line. JSON escapes them by construction. The only continuation lines are
a stack trace's in error.log, each indented (and escaped) under its event.

Standard-library logging (uvicorn, sqlalchemy, alembic) is routed in. Every line
written while a request is handled carries its `request_id` (set in
`request_id_var` by the request-id middleware); shared work a request happens to
start (`start_detached_task`) carries none. Security events carry
`security=True`. Never pass bodies, headers, passwords, tokens or secrets to a
log call: the access log records method, path (secret query parameters
redacted), status, duration and client IP only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
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

LINE = (
    "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {extra[request_id]} | "
    "{name}:{function}:{line} - {extra[_message]}{extra[_fields]}{extra[_error]}"
)
CONSOLE_LINE = (
    "<green>{time:HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    "<cyan>{extra[request_id]}</cyan> | <level>{extra[_message]}</level>"
    "{extra[_fields]}{extra[_error]}"
)
ROTATION = "500 MB"
_COMPUTED = frozenset({"_message", "_fields", "_error", "_traceback", "_json"})
_HIDDEN = _COMPUTED | {"request_id"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# The request being handled ("-" outside requests), read by the patchers. Tasks
# started by a request inherit it, so work that outlives the request and serves
# others starts with `start_detached_task`.
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
T = TypeVar("T")


def escape(value: object) -> str:
    """`value` as text on one line: control characters as visible escapes."""
    return _CONTROL.sub(lambda m: _ESCAPES.get(m[0], f"\\x{ord(m[0]):02x}"), str(value))


def start_detached_task(coro: Coroutine[Any, Any, T], *, name: str | None = None) -> Task[T]:
    """A task for shared work that a request merely happens to start (a per-user
    loop serving later events too): its lines must not carry that request's id."""
    context = copy_context()
    context.run(request_id_var.set, "-")
    return asyncio.create_task(coro, name=name, context=context)


class InterceptHandler(logging.Handler):
    """Sends standard-library records (uvicorn, sqlalchemy, alembic) to loguru."""

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


def _add_request_id(record: Record) -> None:
    extra = record["extra"]
    if "request_id" not in extra:  # a request id bound explicitly wins
        extra["request_id"] = request_id_var.get()


def _add_text_fields(record: Record) -> None:
    """Patcher for text: the escaped message, fields, exception and stack trace."""
    _add_request_id(record)
    extra = record["extra"]
    fields = [f"{k}={escape(v)}" for k, v in extra.items() if k not in _HIDDEN]
    extra["_message"] = escape(record["message"])
    extra["_fields"] = (" | " + " ".join(fields)) if fields else ""
    error = record["exception"]
    if error is None:
        extra["_error"] = extra["_traceback"] = ""
        return
    extra["_error"] = " | exception=" + escape(
        "".join(traceback.format_exception_only(error.type, error.value)).strip()
    )
    lines = "".join(traceback.format_exception(error.type, error.value, error.traceback))
    extra["_traceback"] = "".join(f"\n    {escape(line)}" for line in lines.splitlines())


def _add_json_line(record: Record) -> None:
    """Patcher for json: the whole line, escaped by the JSON encoder."""
    _add_request_id(record)
    extra = record["extra"]
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


# Format functions, so loguru appends no exception of its own: the patchers render it.
def _json_format(_record: Record) -> str:
    return "{extra[_json]}\n"


def _line_format(_record: Record) -> str:
    return LINE + "\n"


def _console_format(_record: Record) -> str:
    return CONSOLE_LINE + "\n"


def _traceback_format(_record: Record) -> str:
    return LINE + "{extra[_traceback]}\n"


def setup_logging(settings: Settings) -> None:
    logger.remove()
    json_lines = settings.log_format == "json"
    logger.configure(extra={}, patcher=_add_json_line if json_lines else _add_text_fields)
    if json_lines:
        logger.add(sys.stdout, level=settings.log_level, format=_json_format, colorize=False)
    else:
        colour = sys.stderr.isatty()
        logger.add(
            sys.stderr,
            level=settings.log_level,
            format=_console_format if colour else _line_format,
            colorize=None if colour else False,  # loguru honours NO_COLOR
        )
    if settings.log_dir:
        log_dir = Path(settings.log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        logger.add(
            log_dir / "app.log",
            level=settings.log_level,
            format=_json_format if json_lines else _line_format,
            rotation=ROTATION,
            retention="10 days",
        )
        logger.add(
            log_dir / "error.log",
            level="ERROR",
            format=_json_format if json_lines else _traceback_format,
            rotation=ROTATION,
            retention="30 days",
        )
    # Standard-library records below LOG_LEVEL are dropped before a LogRecord is even
    # built. Level 0 here would also make uvicorn wrap the app in its per-message TRACE
    # logger, which costs a third of a request.
    logging.basicConfig(
        handlers=[InterceptHandler()], level=logger.level(settings.log_level).no, force=True
    )
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "alembic"):
        std = logging.getLogger(name)
        std.handlers = [InterceptHandler()]
        std.propagate = False
        # LOG_LEVEL decides, not a level an earlier uvicorn Config left on the logger.
        std.setLevel(logging.NOTSET)
    # SQL statements carry parameter values (hashes, secrets): never at INFO.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").disabled = True
