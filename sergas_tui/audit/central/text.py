"""What PostgreSQL cannot store, made storable: NUL characters in CRM text.

CRM text may legally contain U+0000; PostgreSQL ``text`` refuses the raw character and
``jsonb`` refuses the ``\\u0000`` escape. Left alone, one such row would stop the outbox at its
batch for ever. The central copy stores U+FFFD (the replacement character) instead, and
``verify --remote`` applies the same mapping to the local side before comparing, so such a row is
neither lost nor reported as tampered. The local, hash-chained row keeps the original text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

REPLACEMENT = "\ufffd"
_NUL = "\x00"
# A JSON ``\u0000`` escape: the backslash is not itself escaped (an even run before it).
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def storable_text(value: str) -> str:
    """``value`` with raw NUL characters replaced."""
    return value.replace(_NUL, REPLACEMENT) if _NUL in value else value


def storable_json(value: str) -> str:
    """JSON text whose NUL characters (raw or ``\\u0000`` escapes) are replaced."""
    value = storable_text(value)
    if "\\u0000" in value:
        value = _NUL_ESCAPE.sub(lambda m: m.group(1) + REPLACEMENT, value)
    return value


def storable_row(values: Sequence[Any], json_positions: Iterable[int] = ()) -> tuple[Any, ...]:
    """A row of stored values ready for PostgreSQL (a new tuple only when something changed)."""
    json_at = set(json_positions)
    if not any(isinstance(v, str) and (_NUL in v or "\\u0000" in v) for v in values):
        return tuple(values)
    return tuple(
        (storable_json(v) if i in json_at else storable_text(v)) if isinstance(v, str) else v
        for i, v in enumerate(values)
    )


def storable_mapping(values: Mapping[str, Any], json_columns: Iterable[str]) -> dict[str, Any]:
    """:func:`storable_row` for a column → value mapping."""
    json_set = set(json_columns)
    return {
        k: ((storable_json(v) if k in json_set else storable_text(v)) if isinstance(v, str) else v)
        for k, v in values.items()
    }
