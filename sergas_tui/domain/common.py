"""Small shared types for the domain models: lenient wire types, aware timestamps, ids.

CRM data is messy, so wire models use :data:`Lenient` for optional fields: a value of the wrong
type becomes ``None`` instead of failing the whole record. Domain models use :data:`Timestamp`,
which always holds a timezone-aware datetime (naive values are taken to be UTC).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, ValidationError, ValidatorFunctionWrapHandler, WrapValidator

T = TypeVar("T")

Priority = Literal["low", "medium", "high", "critical"]
"""How urgent a recommendation (or an account) is."""

Confidence = Literal["low", "medium", "high"]
"""How sure the author is of a recommendation, from data recency and pattern strength."""

Severity = Literal["info", "warning", "high", "critical"]
"""How serious a risk signal is."""

RecommendationType = Literal[
    "follow_up_email", "create_task", "add_note", "update_account", "escalation"
]
"""The seed's five kinds of recommendation; each has its own ``suggested_action`` payload."""


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


_ID_BITS = random.Random()
"""The generator behind :func:`new_id`: seeded once per process from the OS (and again in a
forked child), so no id costs a read of OS randomness (``uuid4`` made one per row)."""

_UUID4_KEEP = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def _seed_ids() -> None:
    _ID_BITS.seed(secrets.randbits(256))


_seed_ids()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_seed_ids)


def new_id() -> str:
    """A fresh random identifier: a version-4 UUID in its canonical string form.

    Ids are identifiers, not secrets (approval tokens come from :mod:`secrets`): 122 bits from
    a generator seeded once from the OS make collisions as unlikely as ``uuid4``'s at a
    fraction of the cost.
    """
    h = f"{(_ID_BITS.getrandbits(128) & _UUID4_KEEP) | _UUID4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def ensure_aware(value: datetime) -> datetime:
    """Return ``value`` with a time zone, taking a naive datetime to be UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _none_on_error(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        return None


Lenient = Annotated[T | None, WrapValidator(_none_on_error)]
"""An optional wire field whose malformed values become ``None`` instead of an error."""

Timestamp = Annotated[datetime, AfterValidator(ensure_aware)]
"""A timezone-aware datetime; naive input is taken to be UTC."""


def as_float(value: object) -> float | None:
    """A CRM value as a number (``"1,200"`` included); None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace(",", ""))
        except ValueError:
            return None
    return None


def as_date(value: object) -> dt.date | None:
    """A CRM value as a date (a datetime's day, or the first 10 characters of an ISO string)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None
