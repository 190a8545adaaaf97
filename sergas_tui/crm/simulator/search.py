"""Search API filters: ``criteria``, ``email``, ``phone`` and ``word`` turned into SQL.

Criteria look like ``((Last_Name:equals:Burns\\,B)and(First_Name:starts_with:M))``: at most 10
conditions; ``\\,``, ``\\(``, ``\\)`` and ``\\\\`` escape characters in values; ``in`` and
``between`` take comma-separated values. Operators per type follow zoho-crm.md section 2.2;
``equals`` on text behaves like *contains*, as Zoho's does. Text matching is case-insensitive.
"""

from __future__ import annotations

import re

from sergas_tui.crm.simulator.errors import ZohoError, invalid_data
from sergas_tui.crm.simulator.schema import (
    NUMBER_TYPES,
    REF_TYPES,
    TIME_TYPES,
    fields_of,
)
from sergas_tui.crm.simulator.sqlexpr import (
    BadValue,
    Ref,
    Sql,
    UnknownField,
    coerce,
    is_text,
    like_escape,
    resolve,
)

MAX_CONDITIONS = 10
MAX_IN_VALUES = 100
WORD_PATTERN = re.compile(r"^[\w .@&'+-]{2,}$")
_TEXT_OPS = {"equals", "not_equal", "starts_with", "in"}
_ORDER_OPS = {
    "equals",
    "not_equal",
    "in",
    "greater_than",
    "greater_equal",
    "less_than",
    "less_equal",
    "between",
}
_COMPARE = {"greater_than": ">", "greater_equal": ">=", "less_than": "<", "less_equal": "<="}

Chars = list[tuple[str, bool]]  # (character, was it escaped)


def invalid_query(reason: str, **details: str) -> ZohoError:
    return ZohoError(400, "INVALID_QUERY", "Invalid query formed", {"reason": reason, **details})


def _chars(text: str) -> Chars:
    out: Chars = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            out.append((text[index + 1], True))
            index += 2
        else:
            out.append((char, False))
            index += 1
    return out


def _split(chars: Chars, separator: str, limit: int = -1) -> list[Chars]:
    parts: list[Chars] = [[]]
    for char, escaped in chars:
        if char == separator and not escaped and limit != 0:
            parts.append([])
            limit -= 1
        else:
            parts[-1].append((char, escaped))
    return parts


def _text(chars: Chars) -> str:
    return "".join(char for char, _ in chars)


class _CriteriaParser:
    def __init__(self, module: str, criteria: str) -> None:
        self.module = module
        self.chars = _chars(criteria.strip())
        self.pos = 0
        self.count = 0

    def at(self, char: str) -> bool:
        return self.pos < len(self.chars) and self.chars[self.pos] == (char, False)

    def parse(self) -> Sql:
        if not self.at("("):
            return self.condition(self.chars)
        sql = self.group()
        if self.pos != len(self.chars):
            raise invalid_query("unexpected text after the criteria")
        return sql

    def group(self) -> Sql:
        self.pos += 1  # "("
        if not self.at("("):
            start = self.pos
            while self.pos < len(self.chars) and not self.at(")"):
                self.pos += 1
            if not self.at(")"):
                raise invalid_query("unbalanced parentheses")
            condition = self.chars[start : self.pos]
            self.pos += 1
            return self.condition(condition)
        sql = self.group()
        while not self.at(")"):
            start = self.pos
            while self.pos < len(self.chars) and not self.at("("):
                self.pos += 1
            operator = _text(self.chars[start : self.pos]).strip().lower()
            if operator not in ("and", "or") or not self.at("("):
                raise invalid_query("invalid group operator", operator=operator)
            right = self.group()
            sql = sql & right if operator == "and" else sql | right
        self.pos += 1
        return sql

    def condition(self, chars: Chars) -> Sql:
        self.count += 1
        if self.count > MAX_CONDITIONS:
            raise ZohoError(
                400,
                "LIMIT_EXCEEDED",
                "criteria limit exceeded",
                {"param_name": "criteria", "limit": MAX_CONDITIONS},
            )
        parts = _split(chars, ":", limit=2)
        if len(parts) != 3:
            raise invalid_query("invalid criteria condition", condition=_text(chars))
        name, operator = _text(parts[0]).strip(), _text(parts[1]).strip().lower()
        return condition_sql(self.module, name, operator, parts[2])


def _values(ref: Ref, raw: Chars, operator: str) -> list[str | int | float | None]:
    items = _split(raw, ",") if operator in ("in", "between") else [raw]
    if operator == "in" and len(items) > MAX_IN_VALUES:
        raise invalid_query("too many values for in", api_name=ref.key)
    if operator == "between" and len(items) != 2:
        raise invalid_query("between needs two values", api_name=ref.key)
    try:
        return [coerce(ref.field, _text(item).strip()) for item in items]
    except BadValue as err:
        raise invalid_query("invalid value", api_name=ref.key, value=str(err.value)) from None


def condition_sql(module: str, name: str, operator: str, raw: Chars) -> Sql:
    """One ``field:operator:value`` condition as SQL over alias ``r``."""
    try:
        ref = resolve(module, name)
    except UnknownField:
        raise invalid_query("invalid field", api_name=name) from None
    kind = ref.field.type
    if kind in NUMBER_TYPES or kind in TIME_TYPES or kind == "id":
        allowed = _ORDER_OPS
    elif is_text(ref.field) or kind in REF_TYPES:
        allowed = (
            _TEXT_OPS
            if kind in ("text", "textarea", "email", "phone", "website")
            else {
                "equals",
                "not_equal",
                "in",
            }
        )
    elif kind == "boolean":
        allowed = {"equals", "not_equal"}
    else:
        allowed = set()
    if operator not in allowed:
        raise invalid_query("invalid operator found", api_name=ref.key, operator=operator)
    values = _values(ref, raw, operator)
    expr = ref.compare
    if kind in REF_TYPES:
        # A lookup matches its id or its name.
        names = [str(v).lower() for v in values]
        marks = ", ".join("?" * len(values))
        match = Sql(f"{expr} IN ({marks}) OR lower({ref.order}) IN ({marks})", (*values, *names))
        return Sql(f"NOT ({match.text})", match.params) if operator == "not_equal" else match
    text = is_text(ref.field)
    nocase = " COLLATE NOCASE" if text else ""
    if operator == "equals" and kind in ("text", "textarea", "email", "phone", "website"):
        return Sql(f"{expr} LIKE ? ESCAPE '\\'", (f"%{like_escape(str(values[0]))}%",))
    if operator == "starts_with":
        return Sql(f"{expr} LIKE ? ESCAPE '\\'", (f"{like_escape(str(values[0]))}%",))
    if operator == "equals":
        return Sql(f"{expr} = ?{nocase}", tuple(values))
    if operator == "not_equal":
        return Sql(f"{expr} IS NULL OR {expr} != ?{nocase}", tuple(values))
    if operator == "in":
        return Sql(f"{expr}{nocase} IN ({', '.join('?' * len(values))})", tuple(values))
    if operator == "between":
        return Sql(f"{expr} BETWEEN ? AND ?", tuple(values))
    return Sql(f"{expr} {_COMPARE[operator]} ?", tuple(values))


def criteria_sql(module: str, criteria: str) -> Sql:
    """The ``criteria`` parameter as SQL."""
    return _CriteriaParser(module, criteria).parse()


def email_sql(module: str, email: str) -> Sql | None:
    """Every email field equal to ``email`` (None when the module has no email field)."""
    fields = fields_of(module, frozenset({"email"}))
    if not fields:
        return None
    checks = " OR ".join(f"{resolve(module, f.api_name).value} = ? COLLATE NOCASE" for f in fields)
    return Sql(checks, tuple(email.strip() for _ in fields))


def phone_sql(module: str, phone: str) -> Sql | None:
    """Every phone field containing the digits of ``phone``."""
    digits = re.sub(r"\D", "", phone)
    fields = fields_of(module, frozenset({"phone"}))
    if not digits or not fields:
        return None
    checks = " OR ".join(f"sim_digits({resolve(module, f.api_name).value}) LIKE ?" for f in fields)
    return Sql(checks, tuple(f"%{digits}%" for _ in fields))


def word_sql(module: str, word: str) -> Sql | None:
    """A module-wide text search: any text field containing ``word``."""
    word = word.strip()
    if not WORD_PATTERN.match(word):
        raise invalid_data(
            "the word should have at least 2 characters and no special characters",
            param_name="word",
        )
    fields = fields_of(module, frozenset({"text", "textarea", "email", "phone", "website"}))
    if not fields:
        return None
    pattern = f"%{like_escape(word)}%"
    checks = " OR ".join(f"{resolve(module, f.api_name).value} LIKE ? ESCAPE '\\'" for f in fields)
    return Sql(checks, tuple(pattern for _ in fields))


__all__ = ["criteria_sql", "email_sql", "phone_sql", "word_sql"]
