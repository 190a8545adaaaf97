"""Importing Cognee safely: configured by environment first, quiet, and never at start-up.

Cognee reads its settings from the environment once, loads a ``.env``, configures structlog and
the root logger for itself (coloured output on stderr), installs ``sys.excepthook`` and may
print. None of that may reach a TUI screen or a stdio MCP stream, and it must not replace
Sergas's own logging. :func:`load_cognee`:

1. sets the environment (:func:`cognee_environment`): everything under the data dir, telemetry
   off, offline model hubs, single-user mode, in-process databases, the Turso graph store;
2. imports Cognee with ``sys.stdout``/``sys.stderr`` pointed at a buffer that goes to the log;
3. restores the root logger's handlers, level and filters, structlog's configuration and the
   excepthook exactly as they were, so Cognee's records flow into Sergas's log file; when
   nothing handles the root logger (a library or test use), records go to ``log_file``.

Everything is imported with :mod:`importlib`, so the rest of Sergas (and mypy and the import
contracts) never see Cognee; importing :mod:`sergas_tui.memory` does not import it either.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import logging.handlers
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from sergas_tui.errors import ConfigError

COGNEE_VERSION = "1.6.5"
"""The Cognee release this adapter is written and tested against (pinned in sergas[cognee])."""

ENV_FILE = "cognee.env"
"""An empty settings file: Cognee would otherwise load any ``.env`` above the working dir."""

_lock = threading.Lock()
_loaded: CogneeApi | None = None


@dataclass(frozen=True)
class CogneeApi:
    """The parts of Cognee the backend uses (all ``Any``: Cognee has no type stubs)."""

    version: str
    DataPoint: Any
    TursoAdapter: Any
    LanceDBAdapter: Any
    sql_text: Any
    """``sqlalchemy.text``, for the indexed node lookup (see ``CogneeMemory._fetch``)."""


def cognee_available() -> bool:
    """Whether the ``cognee`` distribution (sergas[cognee]) is installed, without importing it."""
    import importlib.util

    return importlib.util.find_spec("cognee") is not None


def cognee_environment(root: Path, spec_provider: str, model: str, dims: int) -> dict[str, str]:
    """The variables Cognee needs before import (see the module docstring)."""
    return {
        "TELEMETRY_DISABLED": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "LOG_LEVEL": os.environ.get("SERGAS_COGNEE_LOG_LEVEL", "ERROR"),
        "COGNEE_LOG_FILE": "false",
        "COGNEE_ENV_FILE": str(root / ENV_FILE),
        "ENABLE_BACKEND_ACCESS_CONTROL": "false",
        "CACHING": "false",
        "SYSTEM_ROOT_DIRECTORY": str(root / "system"),
        "DATA_ROOT_DIRECTORY": str(root / "data"),
        "CACHE_ROOT_DIRECTORY": str(root / "cache"),
        "COGNEE_LOGS_DIR": str(root / "logs"),
        "COGNEE_REPOS_DIR": str(root / "repos"),
        "VECTOR_DB_SUBPROCESS_ENABLED": "false",
        "GRAPH_DATABASE_SUBPROCESS_ENABLED": "false",
        "GRAPH_DATABASE_PROVIDER": "turso",
        "EMBEDDING_PROVIDER": spec_provider,
        "EMBEDDING_MODEL": model,
        "EMBEDDING_DIMENSIONS": str(dims),
    }


@dataclass
class _LoggingState:
    handlers: list[logging.Handler]
    level: int
    filters: list[Any]
    structlog_config: dict[str, Any]
    excepthook: Any


def _save_logging() -> _LoggingState:
    root = logging.getLogger()
    return _LoggingState(
        handlers=list(root.handlers),
        level=root.level,
        filters=list(root.filters),
        structlog_config=dict(structlog.get_config()),
        excepthook=sys.excepthook,
    )


def _restore_logging(state: _LoggingState, log_file: Path | None) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler not in state.handlers:
            root.removeHandler(handler)
            with contextlib.suppress(Exception):
                handler.close()
    for handler in state.handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(state.level)
    root.filters[:] = state.filters
    structlog.configure(**state.structlog_config)
    sys.excepthook = state.excepthook
    if not root.handlers:
        # Nobody configured logging: without a handler, Python's last resort prints
        # warnings to stderr. Send them to our file instead (or drop them).
        root.addHandler(_file_handler(log_file))


def _file_handler(log_file: Path | None) -> logging.Handler:
    if log_file is None:
        return logging.NullHandler()
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=5 * 1024 * 1024, backupCount=2, encoding="utf-8"
        )
    except OSError:
        return logging.NullHandler()
    handler.setLevel(logging.WARNING)
    return handler


def load_cognee(root: Path, environment: dict[str, str], log_file: Path | None) -> CogneeApi:
    """Configure and import Cognee once per process; later calls return the same API.

    ``environment`` is applied before the first import (Cognee caches its settings); the
    backend passes every path explicitly to its adapters, so stores in other data dirs work
    in the same process.
    """
    global _loaded
    with _lock:
        if _loaded is not None:
            return _loaded
        for key, value in environment.items():
            os.environ[key] = value
        for folder in ("system", "data", "cache", "logs"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / ENV_FILE).touch()
        saved = _save_logging()
        captured = io.StringIO()
        try:
            with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                cognee = importlib.import_module("cognee")
                engine = importlib.import_module("cognee.infrastructure.engine")
                graph = importlib.import_module(
                    "cognee.infrastructure.databases.graph.turso.adapter"
                )
                vector = importlib.import_module(
                    "cognee.infrastructure.databases.vector.lancedb.LanceDBAdapter"
                )
                sqlalchemy = importlib.import_module("sqlalchemy")
        except ImportError as err:
            raise ConfigError(
                f"The Cognee memory backend needs the cognee extra: pip install "
                f"'sergas[cognee]' ({err}).",
                title="Cognee is not installed",
            ) from err
        finally:
            _restore_logging(saved, log_file)
        if text := captured.getvalue().strip():
            logging.getLogger("sergas.memory.cognee").info("cognee import output: %s", text[:2000])
        version = str(getattr(cognee, "__version__", "unknown"))
        if version != COGNEE_VERSION:
            logging.getLogger("sergas.memory.cognee").warning(
                "cognee %s is installed; Sergas is tested with %s", version, COGNEE_VERSION
            )
        _loaded = CogneeApi(
            version=version,
            DataPoint=engine.DataPoint,
            TursoAdapter=graph.TursoAdapter,
            LanceDBAdapter=vector.LanceDBAdapter,
            sql_text=sqlalchemy.text,
        )
        return _loaded
