"""Client-side builders for COQL queries and Search API parameters (reference §2.2, §3.1).

COQL rules applied here: string literals in single quotes with ``\\'`` escapes; datetimes as
ISO-8601 with an offset; more than two conditions pair-bracketed (``((A and B) and C)``); at most
2,000 rows per call, paged by an id cursor (``id > 'LAST' ... order by id asc``) rather than
OFFSET, which stops at 100,000 rows. Search criteria escape commas and parentheses with a
backslash (httpx URL-encodes the rest).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sergas_tui.domain import ensure_aware

COQL_PAGE_SIZE = 2_000
"""Most rows one COQL call returns."""

COQL_MAX_IN_VALUES = 50
"""Most values in one ``in``/``not in`` list (the lower of the two documented limits)."""

CoqlValue = str | int | float | date | datetime


def zoho_datetime(value: datetime) -> str:
    """A datetime as Zoho writes it: ISO-8601 to the second with an offset (UTC when naive)."""
    return ensure_aware(value).isoformat(timespec="seconds")


def literal(value: CoqlValue) -> str:
    """A COQL literal: quoted strings, dates and datetimes; bare numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        text = zoho_datetime(value)
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = value
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def eq(field: str, value: CoqlValue) -> str:
    return f"{field} = {literal(value)}"


def gt(field: str, value: CoqlValue) -> str:
    return f"{field} > {literal(value)}"


def ge(field: str, value: CoqlValue) -> str:
    return f"{field} >= {literal(value)}"


def not_in(field: str, values: Iterable[CoqlValue]) -> str:
    items = list(values)
    if not items or len(items) > COQL_MAX_IN_VALUES:
        raise ValueError(f"a COQL 'not in' list needs 1 to {COQL_MAX_IN_VALUES} values")
    return f"{field} not in ({', '.join(literal(v) for v in items)})"


def and_all(conditions: Sequence[str]) -> str:
    """Join conditions with ``and``, bracketing pairs as COQL requires: ``((A and B) and C)``."""
    if not conditions:
        raise ValueError("and_all needs at least one condition")
    text = conditions[0]
    for condition in conditions[1:]:
        text = f"({text} and {condition})"
    return text


@dataclass(frozen=True)
class CoqlQuery:
    """A ``select`` over one module, rendered page by page with an id cursor."""

    module: str
    fields: tuple[str, ...]
    conditions: tuple[str, ...] = ()
    limit: int = COQL_PAGE_SIZE

    def render(self, after_id: str | None = None) -> str:
        """The query text for the page after ``after_id`` (the first page when None)."""
        conditions = list(self.conditions)
        if after_id is not None:
            conditions.append(gt("id", after_id))
        where = and_all(conditions) if conditions else "id is not null"
        columns = ", ".join(dict.fromkeys(("id", *self.fields)))
        return (
            f"select {columns} from {self.module} where {where} order by id asc limit {self.limit}"
        )


# --- Search API ----------------------------------------------------------------------------

SEARCH_OPERATORS: tuple[str, ...] = (
    "equals",
    "not_equal",
    "starts_with",
    "in",
    "greater_than",
    "greater_equal",
    "less_than",
    "less_equal",
    "between",
)
_CRITERIA = re.compile(
    r"^\s*\(.*\b\w+\s*:\s*(?:" + "|".join(SEARCH_OPERATORS) + r")\s*:.*\)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_WORD = re.compile(r"^[\w\s]+$")
_CRITERIA_SPECIALS = re.compile(r"([(),])")
SEARCH_NAME_FIELD = "Account_Name"


def looks_like_criteria(text: str) -> bool:
    """True for a Zoho criteria expression such as ``(Industry:equals:Retail)``."""
    return bool(_CRITERIA.match(text))


def escape_criteria_value(value: str) -> str:
    """Backslash-escape the characters Zoho treats as syntax in criteria values."""
    return _CRITERIA_SPECIALS.sub(r"\\\1", value)


def criterion(field: str, operator: str, value: str) -> str:
    """One ``(field:operator:value)`` condition with the value escaped."""
    if operator not in SEARCH_OPERATORS:
        raise ValueError(f"unknown search operator {operator!r}")
    return f"({field}:{operator}:{escape_criteria_value(value)})"


def search_params(query: str, *, name_field: str = SEARCH_NAME_FIELD) -> dict[str, str]:
    """``word`` for plain text of two or more characters, ``criteria`` otherwise.

    A criteria expression passes through unchanged; text with punctuation (which ``word``
    rejects with INVALID_DATA) becomes a contains-match on the name (Zoho's ``equals`` matches
    substrings), and a single character becomes ``starts_with``.
    """
    text = query.strip()
    if not text:
        raise ValueError("empty search")
    if looks_like_criteria(text):
        return {"criteria": text}
    if len(text) >= 2 and _WORD.match(text):
        return {"word": " ".join(text.split())}
    operator = "starts_with" if len(text) < 2 else "equals"
    return {"criteria": criterion(name_field, operator, text)}
