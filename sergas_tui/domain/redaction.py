"""Sensitive-field redaction (seed §6.3).

Anything that leaves the CRM adapter for an LLM, the memory store, an audit payload or an export
goes through :func:`redact` first. Unlike the seed's version it never mutates its input and it
looks at every nesting level, including dicts inside lists.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, TypeVar, cast

REDACTED_FIELDS: tuple[str, ...] = (
    "SSN",
    "Tax_ID",
    "Credit_Card",
    "Bank_Account",
    "Personal_Email",
    "Home_Address",
    "Date_of_Birth",
)
"""Field names whose values never leave the CRM adapter (the seed's list)."""

REDACTED = "[REDACTED]"
"""What a sensitive value is replaced with."""

_SENSITIVE_KEYS = frozenset(name.casefold() for name in REDACTED_FIELDS)

T = TypeVar("T")


def is_sensitive_field(name: object) -> bool:
    """True when ``name`` is one of :data:`REDACTED_FIELDS`, ignoring case.

    Case is ignored because the same field reaches us as Zoho's ``Tax_ID`` and as an agent's or
    a custom field's ``tax_id``; redacting one too many is the safe direction.
    """
    return isinstance(name, str) and name.casefold() in _SENSITIVE_KEYS


def redact(value: T) -> T:
    """A deep copy of ``value`` with the value of every sensitive key replaced by
    ``"[REDACTED]"``, at any depth.

    Dicts, lists, tuples and sets are rebuilt (any other mapping becomes a dict); scalars are
    returned as they are and other objects deep-copied. Objects are not searched for sensitive
    attributes: dump a pydantic model (``model_dump(mode="json")``) before redacting it.
    """
    return cast(T, _redact(value))


_PLAIN = frozenset({str, int, float, bool, bytes, type(None)})
"""Types returned as they are (checked by exact type first: most values are these)."""


def _redact(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {
            key: REDACTED if is_sensitive_field(key) else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_sensitive_field(key) else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_redact(item) for item in value)
    if isinstance(value, set | frozenset):
        return type(value)(_redact(item) for item in value)
    if value is None or isinstance(value, str | int | float | bytes):
        return value
    return copy.deepcopy(value)
