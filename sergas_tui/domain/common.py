"""Small shared types for the domain models: lenient wire types, aware timestamps, ids.

CRM data is messy, so wire models use :data:`Lenient` for optional fields: a value of the wrong
type becomes ``None`` instead of failing the whole record. Domain models use :data:`Timestamp`,
which always holds a timezone-aware datetime (naive values are taken to be UTC).
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import uuid4

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


def new_id() -> str:
    """A fresh random identifier (a UUID4 in its canonical string form)."""
    return str(uuid4())


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
