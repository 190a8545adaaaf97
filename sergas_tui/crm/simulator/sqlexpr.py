"""SQL building blocks shared by COQL and search: field references and typed literals.

Records live as JSON in ``records.data``; a field is read with ``json_extract``, and a lookup
path such as ``Account_Name.Owner`` becomes a correlated subquery on the target record. Field
names come from the catalogue (never from the caller), and every value is a bound parameter.

Datetimes are stored as UTC ``+00:00`` ISO strings, so literals are normalised to UTC and
compared as strings; numbers compare numerically; lookups compare by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sergas_tui.crm.simulator.schema import (
    NUMBER_TYPES,
    REF_TYPES,
    TEXT_TYPES,
    Field,
    canonical_module,
    field_of,
)

MAX_JOIN_DEPTH = 3
# Modules a multi-module lookup may name (``'What_Id->Leads.Last_Name'``, Kaizen #81).
LOOKUP_TARGETS: tuple[str, ...] = ("Leads", "Accounts", "Contacts", "Deals", "Users")
Value = str | int | float | None


@dataclass(frozen=True)
class Sql:
    """A SQL fragment and its parameters."""

    text: str
    params: tuple[Value, ...] = ()

    def __and__(self, other: Sql) -> Sql:
        return Sql(f"({self.text}) AND ({other.text})", self.params + other.params)

    def __or__(self, other: Sql) -> Sql:
        return Sql(f"({self.text}) OR ({other.text})", self.params + other.params)


class UnknownField(Exception):
    """A field or lookup path the module does not have."""

    def __init__(self, path: str, reason: str = "invalid column") -> None:
        super().__init__(path)
        self.path = path
        self.reason = reason


class BadValue(Exception):
    """A literal that does not fit the field's type."""

    def __init__(self, field: Field, value: object) -> None:
        super().__init__(f"{field.api_name}: {value!r}")
        self.field = field
        self.value = value


@dataclass(frozen=True)
class Ref:
    """A resolved field path: ``value`` reads it, ``compare`` is what conditions test."""

    key: str
    value: str
    compare: str
    order: str
    field: Field


def _extract(alias: str, *names: str) -> str:
    return f"json_extract({alias}.data, '$.{'.'.join(names)}')"


def _leaf(module: str, field: Field, alias: str, key: str) -> Ref:
    name = field.api_name
    if name == "id":
        column = f"{alias}.id"
        return Ref(key, column, column, column, field)
    if name == "Modified_Time":
        column = f"{alias}.modified_time"
        return Ref(key, column, column, column, field)
    value = _extract(alias, name)
    if field.type not in REF_TYPES:
        return Ref(key, value, value, value, field)
    compare = _extract(alias, name, "id")
    # The store indexes these lookups' ids in columns.
    if name == "Owner" and module != "Users":
        compare = f"{alias}.owner_id"
    elif name == "Account_Name" and module in ("Contacts", "Deals"):
        compare = f"{alias}.account_id"
    return Ref(key, value, compare, _extract(alias, name, "name"), field)


def resolve(module: str, path: str, alias: str = "r", depth: int = 0) -> Ref:
    """Resolve ``Field``, ``Lookup.Field``, ``Lookup.id`` or ``'What_Id->Deals.Deal_Name'``."""
    head, _, rest = path.partition(".")
    name, arrow, target_name = head.partition("->")
    field = field_of(module, name.strip())
    if field is None:
        raise UnknownField(path)
    if not rest:
        if arrow:
            raise UnknownField(path)
        return _leaf(module, field, alias, field.api_name)
    key_head = field.api_name + (f"->{target_name.strip()}" if arrow else "")
    sub, _, tail = rest.partition(".")
    sub_lower = sub.strip().lower()
    if field.type in ("object", *REF_TYPES) and not tail and sub_lower in ("id", "name"):
        kind = "id" if sub_lower == "id" else "text"
        inner = Field(module, sub_lower, kind)
        value = _extract(alias, field.api_name, sub_lower)
        if sub_lower == "id" and field.type in REF_TYPES:
            value = _leaf(module, field, alias, "").compare
        return Ref(f"{key_head}.{sub_lower}", value, value, value, inner)
    if field.type == "owner" and not tail and sub_lower == "email":
        value = _extract(alias, field.api_name, "email")
        return Ref(f"{key_head}.email", value, value, value, Field(module, "email", "email"))
    if field.type == "object" and not tail:
        value = _extract(alias, field.api_name, sub.strip())
        return Ref(f"{key_head}.{sub.strip()}", value, value, value, Field(module, sub, "text"))
    target = canonical_module(target_name.strip(), LOOKUP_TARGETS)
    if field.type == "multi":
        if not arrow or target is None:
            raise UnknownField(path, "multi-module lookup needs 'Field->Module.field'")
    elif field.type in ("lookup", "owner") and not arrow:
        target = field.target
    else:
        raise UnknownField(path)
    if target is None or depth >= MAX_JOIN_DEPTH:
        raise UnknownField(path, "too many lookup levels")
    join = f"j{depth + 1}"
    inner_ref = resolve(target, rest, join, depth + 1)
    link = _leaf(module, field, alias, "").compare
    where = f"FROM records {join} WHERE {join}.module = '{target}' AND {join}.id = {link}"

    def sub_query(expr: str) -> str:
        return f"(SELECT {expr} {where})"

    return Ref(
        f"{key_head}.{inner_ref.key}",
        sub_query(inner_ref.value),
        sub_query(inner_ref.compare),
        sub_query(inner_ref.order),
        inner_ref.field,
    )


# -- literals -----------------------------------------------------------------------------------


def utc_text(moment: datetime) -> str:
    """An aware datetime as the store writes it (UTC, ``+00:00``)."""
    return moment.astimezone(UTC).isoformat()


def parse_datetime(text: str) -> datetime | None:
    """An ISO-8601 datetime (date and time; naive means UTC), or None."""
    if len(text) < 19 or "T" not in text.upper():
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def coerce(field: Field, raw: Value | bool) -> Value:
    """A literal as the SQL value it is compared with, or :class:`BadValue`."""
    kind = field.type
    if raw is None:
        return None
    if kind in NUMBER_TYPES:
        if isinstance(raw, bool):
            raise BadValue(field, raw)
        if isinstance(raw, int | float):
            return raw
        try:
            number = float(raw)
        except ValueError:
            raise BadValue(field, raw) from None
        return int(number) if number.is_integer() and "." not in raw else number
    if kind == "boolean":
        if isinstance(raw, bool):
            return int(raw)
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return int(raw.lower() == "true")
        raise BadValue(field, raw)
    if kind == "datetime":
        moment = parse_datetime(str(raw))
        if moment is None:
            raise BadValue(field, raw)
        return utc_text(moment)
    if kind == "date":
        text = str(raw)
        try:
            if len(text) == 10:
                return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
        raise BadValue(field, raw)
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return str(raw)


def is_text(field: Field) -> bool:
    return field.type in TEXT_TYPES


def like_escape(text: str) -> str:
    """Escape LIKE's ``_`` and the escape character itself (``%`` stays a wildcard)."""
    return text.replace("\\", "\\\\").replace("_", "\\_")


__all__ = [
    "LOOKUP_TARGETS",
    "BadValue",
    "Ref",
    "Sql",
    "UnknownField",
    "coerce",
    "is_text",
    "like_escape",
    "parse_datetime",
    "resolve",
    "utc_text",
]
