"""The metadata cache (the founding design's): a module's field metadata, read at most once a day.

Every gateway's :meth:`~sergas_tui.crm.gateway.CrmReader.get_fields` reads through a
:class:`FieldsCache`. Services give it one on disk in the workspace
(``<workspace>/zoho-metadata/fields-<Module>.json``, see :mod:`sergas_tui.locations`); without
one it lives in memory for the life of the gateway. An entry younger than :data:`MAX_AGE` is
served as it is, with no call. An older one is read again: over REST with ``If-Modified-Since``
set to when the CRM last confirmed it, so an unchanged org answers 304 and the entry is kept for
another day (one call, no body). So a workspace spends at most one API call a day per module.

A failed read (a token without ``ZohoCRM.settings.fields.READ``, a network error) is recorded
beside the last good metadata, for ``sergas doctor``; the stale metadata is served if there is
some (an org's fields rarely change), else the error is raised. The next read tries again. The
file is plain JSON written whole to a temporary file and renamed over the old one, so a reader
in another process sees the old or the new file, never half of one. (The workspace's SQLite
files are never touched here.)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

import structlog
from pydantic import BaseModel, ValidationError

from sergas_tui.domain.common import Timestamp
from sergas_tui.domain.metadata import ModuleFields
from sergas_tui.errors import CrmError

log = structlog.get_logger("sergas.zoho")

MAX_AGE = timedelta(hours=24)
"""How long field metadata is used without asking the CRM again."""
_MODULE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")

Fetch = Callable[[ModuleFields | None], Awaitable[ModuleFields | None]]
"""Read a module's fields from the CRM, given the stale entry (if any); None means "unchanged
since the stale entry" (a 304)."""


def check_module(module: str) -> str:
    """``module`` if it is a Zoho module API name (it becomes part of a file name), else
    ValueError."""
    if not _MODULE.match(module):
        raise ValueError(f"not a Zoho module name: {module!r}")
    return module


class CachedFields(BaseModel):
    """One module's entry: the last good metadata and the last failure since it."""

    module: str
    fields: ModuleFields | None = None
    failure: str | None = None
    failed_at: Timestamp | None = None

    def fresh(self, now: datetime, max_age: timedelta = MAX_AGE) -> bool:
        fetched = self.fields.fetched_at if self.fields is not None else None
        return fetched is not None and timedelta(0) <= now - fetched < max_age


class FieldsCache:
    """Field metadata by module, in ``directory`` (one JSON file each) or, without one, in
    memory."""

    def __init__(self, directory: Path | None = None, *, max_age: timedelta = MAX_AGE) -> None:
        self.directory = directory
        self.max_age = max_age
        self._memory: dict[str, CachedFields] = {}

    def path(self, module: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"fields-{check_module(module)}.json"

    def load(self, module: str) -> CachedFields | None:
        """The module's entry; None when there is none (or the file cannot be read)."""
        path = self.path(module)
        if path is None:
            return self._memory.get(module)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as err:
            log.warning("zoho.fields_cache_unreadable", path=str(path), error=str(err))
            return None
        try:
            return CachedFields.model_validate_json(text)
        except ValidationError:
            log.warning("zoho.fields_cache_unreadable", path=str(path), error="not a cache entry")
            return None

    def store(self, entry: CachedFields) -> None:
        """Keep ``entry`` (on disk: written whole, then renamed into place). A cache that cannot
        be written is logged, not raised: the next read asks the CRM again."""
        path = self.path(entry.module)
        if path is None:
            self._memory[entry.module] = entry
            return
        temporary: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".fields-", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(json.dumps(entry.model_dump(mode="json"), indent=1))
            os.replace(temporary, path)
        except OSError as err:
            log.warning("zoho.fields_cache_unwritable", path=str(path), error=str(err))
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)

    async def read_through(self, module: str, now: datetime, fetch: Fetch) -> ModuleFields:
        """The module's fields: from the cache while fresh, else from ``fetch`` (see the module
        docstring). Unknown metadata (a backend without the read) is returned, not kept."""
        check_module(module)
        entry = self.load(module) or CachedFields(module=module)
        if entry.fields is not None and entry.fresh(now, self.max_age):
            return entry.fields
        stale = entry.fields
        try:
            fetched = await fetch(stale)
        except CrmError as err:
            failed = entry.model_copy(update={"failure": err.message, "failed_at": now})
            self.store(failed)
            if stale is None:
                raise
            log.warning("zoho.fields_stale", module=module, error=err.message)
            return stale  # older than a day, but the org's fields rarely change
        if fetched is None:  # the CRM says nothing changed since the stale copy
            if stale is None:
                raise CrmError(f"The CRM answered 'not modified' for {module} fields never read.")
            fetched = stale.model_copy(update={"fetched_at": now})
            log.info("zoho.fields_unchanged", module=module)
        elif not fetched.known:
            return fetched
        else:
            fetched = fetched.model_copy(update={"fetched_at": now})
            log.info("zoho.fields_read", module=module, fields=len(fetched.fields))
        self.store(CachedFields(module=module, fields=fetched))
        return fetched


@runtime_checkable
class FieldsCaching(Protocol):
    """A gateway whose field metadata can be kept in a given cache (services give each one the
    workspace's)."""

    def use_fields_cache(self, cache: FieldsCache) -> None: ...


@dataclass(frozen=True)
class CacheState:
    """What a cache entry says, for ``sergas doctor`` (no CRM call)."""

    fields: ModuleFields | None
    failure: str | None
    failed_at: datetime | None


def cached_state(cache: FieldsCache, module: str) -> CacheState:
    entry = cache.load(module)
    if entry is None:
        return CacheState(None, None, None)
    failed_later = entry.failed_at is not None and (
        entry.fields is None
        or entry.fields.fetched_at is None
        or entry.failed_at >= entry.fields.fetched_at
    )
    failure = entry.failure if failed_later else None
    return CacheState(entry.fields, failure, entry.failed_at if failed_later else None)


__all__ = [
    "MAX_AGE",
    "CacheState",
    "CachedFields",
    "FieldsCache",
    "FieldsCaching",
    "cached_state",
    "check_module",
]
