"""Structured logging: JSON lines into the log dir, nothing on the terminal.

The TUI owns the terminal, so every library's log output (including warnings) goes to the file.

structlog (with its console renderer, ~0.1 s to import) loads on the first log line, not when a
module asks for a logger nor when logging is configured: most commands, and the TUI's first
paint, never pay for it.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import structlog

LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3

_lock = threading.Lock()
_pending_level: str | None = None
"""The level :func:`configure_logging` asked for, until structlog is configured with it."""
_announced = False
"""The "logging_configured" line is written (without structlog, when it was not loaded)."""


def configure_logging(log_file: Path, level: str = "INFO") -> None:
    """Route structlog and stdlib logging to a rotating JSON-lines file."""
    global _pending_level, _announced
    handler: logging.Handler
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError:
        # An unwritable log dir must not stop the app; logs are then dropped.
        handler = logging.NullHandler()
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    handler.setFormatter(_JsonFormatter())
    with _lock:
        _pending_level = level
        _announced = False
    if "structlog" in sys.modules:  # already in use: configure it now
        _structlog()
        return
    record = logging.LogRecord("sergas", logging.INFO, __file__, 0, "logging_configured", (), None)
    record.sergas_fields = {"python": sys.version.split()[0]}
    logging.getLogger("sergas").handle(record)
    _announced = True


def _structlog() -> ModuleType:
    """structlog, configured as :func:`configure_logging` asked (on first use)."""
    global _pending_level
    import structlog

    with _lock:
        level, _pending_level = _pending_level, None
        announced = _announced
    if level is not None:
        structlog.configure(
            processors=[
                *_shared_processors(structlog),
                structlog.stdlib.add_logger_name,
                structlog.processors.format_exc_info,
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
            logger_factory=structlog.stdlib.LoggerFactory(),
            cache_logger_on_first_use=False,
        )
        if not announced:
            structlog.get_logger("sergas").info(
                "logging_configured", python=sys.version.split()[0], level=level
            )
    return structlog


def _shared_processors(structlog: ModuleType) -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


class _JsonFormatter(logging.Formatter):
    """structlog's JSON ``ProcessorFormatter``, built when the first record is written."""

    def __init__(self) -> None:
        super().__init__()
        self._inner: logging.Formatter | None = None

    def format(self, record: logging.LogRecord) -> str:
        inner = self._inner
        if inner is None and "structlog" not in sys.modules and not record.exc_info:
            return _plain_json(record)  # a stdlib record before structlog loaded
        if inner is None:
            structlog = _structlog()
            inner = structlog.stdlib.ProcessorFormatter(
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer(sort_keys=True),
                ],
                foreign_pre_chain=[
                    *_shared_processors(structlog),
                    structlog.stdlib.add_logger_name,
                ],
            )
            self._inner = inner
        return inner.format(record)


def _plain_json(record: logging.LogRecord) -> str:
    """A stdlib record as structlog's formatter writes one (same keys, same timestamp form)."""
    stamp = datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z")
    line: dict[str, Any] = {
        "event": record.getMessage(),
        "level": record.levelname.lower(),
        "logger": record.name,
        "timestamp": stamp,
    }
    line.update(getattr(record, "sergas_fields", {}))
    return json.dumps(line, sort_keys=True, default=repr)


class _LazyLogger:
    """Stands in for ``structlog.get_logger(name)`` until a method of it is first used."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attribute: str) -> Any:
        logger = self._logger
        if logger is None:
            logger = _structlog().get_logger(self._name)
            self._logger = logger
        return getattr(logger, attribute)


def get_logger(name: str = "sergas") -> structlog.stdlib.BoundLogger:
    return cast("structlog.stdlib.BoundLogger", _LazyLogger(name))
