"""Loguru everywhere: console, optional JSON lines, files; stdlib logging routed in."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import FrameType

from loguru import logger

from botskis.config import Settings


class InterceptHandler(logging.Handler):
    """Sends standard-library records (uvicorn, sqlalchemy, dbos) to loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame: FrameType | None = logging.currentframe()
        depth = 2
        while frame is not None and frame.f_code.co_filename == logging.__file__:
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def setup_logging(settings: Settings) -> None:
    logger.remove()
    logger.add(
        sys.stderr,
        level=settings.log_level,
        serialize=settings.log_json,
        colorize=None if not settings.log_json else False,
        backtrace=False,
        diagnose=False,
    )
    log_dir = Path(settings.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    logger.add(
        log_dir / "app.log",
        level=settings.log_level,
        rotation="500 MB",
        retention="10 days",
        serialize=settings.log_json,
        enqueue=True,
        backtrace=False,
        diagnose=False,
    )
    logger.add(
        log_dir / "error.log",
        level="ERROR",
        rotation="500 MB",
        retention="30 days",
        serialize=settings.log_json,
        enqueue=True,
        backtrace=True,
        diagnose=False,
    )
    logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "dbos"):
        std = logging.getLogger(name)
        std.handlers = [InterceptHandler()]
        std.propagate = False
    logging.getLogger("uvicorn.access").disabled = True
