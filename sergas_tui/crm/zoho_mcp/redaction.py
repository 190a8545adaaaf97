"""Keeping the URL key secret: what may be shown of an endpoint URL, and scrubbing it elsewhere.

The endpoint URL of a Zoho console or pre-built MCP server carries a secret key
(``https://<server>.zohomcp.com/mcp/<key>/message``), so it must never reach a message or a log
line. :func:`redact_url` keeps the scheme and host only; :class:`UrlScrubber` takes the URL, its
path, query and key out of any text or :class:`~sergas_tui.errors.CrmError`; and
:func:`guard_logs` / :func:`unguard_logs` install a filter on the HTTP, MCP client and Sergas
loggers that does the same for every endpoint open at the moment. It sits apart from the gateway
because the composition root and ``sergas doctor`` only need :func:`redact_url`.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sergas_tui.errors import CrmError


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: what may be shown of an endpoint whose path or query holds a
    key (user info, path, query and fragment all go)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "(an endpoint URL Sergas cannot read)"
    if not parts.scheme or not host:
        return "(an endpoint URL Sergas cannot read)"
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}{f':{port}' if port else ''}/…"


_KEY_SEGMENT_MIN = 8
_PLAIN_SEGMENTS = frozenset({"mcp", "message", "messages", "sse", "stream"})


class UrlScrubber:
    """Replaces an endpoint URL, its path and query, and its key in any text."""

    def __init__(self, url: str) -> None:
        url = url.strip()
        self.redacted = redact_url(url)
        hidden: set[str] = set()
        try:
            parts = urlsplit(url)
        except ValueError:
            parts = None
        if parts is not None:
            if parts.path not in ("", "/"):
                hidden.add(parts.path)
                if parts.query:
                    hidden.add(f"{parts.path}?{parts.query}")
            for segment in parts.path.split("/"):
                if len(segment) >= _KEY_SEGMENT_MIN and segment.lower() not in _PLAIN_SEGMENTS:
                    hidden.add(segment)
            if parts.query:
                hidden.add(parts.query)
                hidden.update(value for _, value in parse_qsl(parts.query) if len(value) >= 4)
            if parts.password:
                hidden.add(parts.password)
        self._url = url
        self._hidden = sorted(hidden, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        text = text.replace(self._url, self.redacted)
        for secret in self._hidden:
            text = text.replace(secret, "…")
        return text

    def scrub_error(self, err: CrmError) -> CrmError:
        """The same error with the URL and key taken out of its message (in place)."""
        cleaned = self(err.message)
        if cleaned != err.message:
            err.message = cleaned
            err.args = (cleaned,)
        return err


class _RedactingFilter(logging.Filter):
    """Takes every open endpoint's URL and key out of log records (message and structlog dict)."""

    def __init__(self) -> None:
        super().__init__()
        self.scrubbers: list[UrlScrubber] = []

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for scrubber in self.scrubbers:
                value = scrubber(value)
            return value
        if isinstance(value, dict):
            return {key: self._scrub(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._scrub(item) for item in value)
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.scrubbers:
            return True
        if isinstance(record.msg, dict):
            record.msg = self._scrub(record.msg)
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        cleaned = self._scrub(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


_LOG_FILTER = _RedactingFilter()
_FILTERED_LOGGERS = (
    "httpx2",
    "httpx",
    "mcp.client.streamable_http",
    "client",  # the MCP SDK's ClientSession logger
    "sergas.mcp",
    "sergas.zoho_mcp",
)


def guard_logs(scrubber: UrlScrubber) -> None:
    for name in _FILTERED_LOGGERS:
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)
    _LOG_FILTER.scrubbers.append(scrubber)


def unguard_logs(scrubber: UrlScrubber) -> None:
    if scrubber in _LOG_FILTER.scrubbers:
        _LOG_FILTER.scrubbers.remove(scrubber)


__all__ = ["UrlScrubber", "guard_logs", "redact_url", "unguard_logs"]
