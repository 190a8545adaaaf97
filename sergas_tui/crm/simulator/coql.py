"""COQL: parse ``SELECT ... FROM ... WHERE ... ORDER BY ... LIMIT ...`` and translate it to SQL.

Supported (zoho-crm.md section 3.1): up to 50 columns (``id`` always returned), lookup
dot-joins (``Account_Name.Account_Name``, ``Owner.email``, ``'What_Id->Deals.Deal_Name'``),
comparators ``= != > < >= <=``, ``[not] between``, ``[not] in`` (100 values), ``is [not] null``,
``[not] like`` with ``%``; ``and``/``or`` with Zoho's bracket rule (a group holds at most two
operands, so three conditions need ``((A and B) and C)``); 25 criteria; ORDER BY up to 10
fields (default ``id asc``); ``LIMIT n [OFFSET m]`` or ``LIMIT m, n`` (n <= 2,000, m + n <=
100,000, default 200). Aggregates and GROUP BY are not supported (SYNTAX_ERROR).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sergas_tui.crm.simulator.coql_parse import (
    Condition,
    Group,
    Parser,
    limit_exceeded,
)
from sergas_tui.crm.simulator.errors import ZohoError
from sergas_tui.crm.simulator.schema import (
    COQL_MODULES,
    JSON_TYPES,
    NUMBER_TYPES,
    REF_TYPES,
    TIME_TYPES,
    canonical_module,
)
from sergas_tui.crm.simulator.sqlexpr import (
    BadValue,
    Ref,
    Sql,
    UnknownField,
    Value,
    coerce,
    is_text,
    like_escape,
    resolve,
)

MAX_COLUMNS = 50
_NULL_OPS = {"is null", "is not null"}
_EQUALITY = {"=", "!=", "in", "not in"} | _NULL_OPS
_ORDERING = _EQUALITY | {"<", ">", "<=", ">=", "between", "not between"}


def invalid_query(message: str, **details: Any) -> ZohoError:
    return ZohoError(400, "INVALID_QUERY", message, details)


# -- translation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A parsed query translated to SQL pieces (alias ``r`` is the queried record)."""

    module: str
    columns: tuple[Ref, ...]
    where: Sql | None
    order: tuple[str, ...]
    limit: int
    offset: int


def _ref(module: str, path: str, clause: str) -> Ref:
    try:
        return resolve(module, path)
    except UnknownField as err:
        raise invalid_query(
            "invalid column given", column_name=path, clause=clause, reason=err.reason
        ) from None


def _allowed(ref: Ref) -> set[str]:
    kind = ref.field.type
    if kind in NUMBER_TYPES or kind in TIME_TYPES or kind == "id":
        return _ORDERING
    if is_text(ref.field):
        return _EQUALITY | {"like", "not like"}
    if kind == "boolean":
        return {"=", "!="} | _NULL_OPS
    if kind in REF_TYPES:
        return _EQUALITY
    return set(_NULL_OPS)


def _condition(module: str, cond: Condition) -> Sql:
    ref = _ref(module, cond.field, "where")
    if cond.op not in _allowed(ref):
        raise invalid_query(
            "invalid operator found", column_name=cond.field, operator=cond.op, clause="where"
        )
    expr = ref.compare
    if cond.op in _NULL_OPS:
        return Sql(f"{expr} {cond.op.upper()}")
    try:
        values = tuple(coerce(ref.field, value) for value in cond.values)
    except BadValue as err:
        raise invalid_query(
            "invalid value given for the column", column_name=cond.field, value=err.value
        ) from None
    if any(value is None for value in values):
        raise invalid_query("use 'is null' to compare with null", column_name=cond.field)
    nocase = " COLLATE NOCASE" if is_text(ref.field) else ""
    if cond.op.endswith("like"):
        pattern = like_escape(str(values[0]))
        return Sql(f"{expr} {cond.op.upper()} ? ESCAPE '\\'", (pattern,))
    if cond.op.endswith("between"):
        return Sql(f"{expr} {cond.op.upper()} ? AND ?", values)
    if cond.op.endswith("in"):
        marks = ", ".join("?" * len(values))
        return Sql(f"{expr}{nocase} {cond.op.upper()} ({marks})", values)
    return Sql(f"{expr} {cond.op} ?{nocase}", values)


def _where(module: str, node: Condition | Group) -> Sql:
    if isinstance(node, Condition):
        return _condition(module, node)
    left, right = _where(module, node.left), _where(module, node.right)
    return left & right if node.op == "and" else left | right


def compile_query(text: str) -> Plan:
    """Parse and translate ``select_query``; raises :class:`ZohoError` like Zoho does."""
    query = Parser(text).parse()
    module = canonical_module(query.module, COQL_MODULES)
    if module is None:
        raise invalid_query("invalid module given", module=query.module, clause="from")
    if len(query.fields) > MAX_COLUMNS:
        raise limit_exceeded("select columns", MAX_COLUMNS)
    columns: dict[str, Ref] = {}
    for path in ("id", *query.fields):
        ref = _ref(module, path, "select")
        columns.setdefault(ref.key, ref)
    where = _where(module, query.where) if query.where is not None else None
    order = [
        f"{_ref(module, name, 'order by').order} {'DESC' if desc else 'ASC'}"
        for name, desc in query.order
    ]
    if not any(item.startswith("r.id ") for item in order):
        order.append("r.id ASC")
    return Plan(module, tuple(columns.values()), where, tuple(order), query.limit, query.offset)


def _shape(ref: Ref, value: Value) -> Any:
    kind = ref.field.type
    if value is None:
        return None
    if kind == "boolean":
        return bool(value)
    if kind not in JSON_TYPES or not isinstance(value, str):
        return value
    loaded = json.loads(value)
    if kind in REF_TYPES and isinstance(loaded, dict):
        return {"id": loaded.get("id"), "name": loaded.get("name")}
    return loaded


def shape_row(plan: Plan, row: tuple[Value, ...]) -> dict[str, Any]:
    """One result row as Zoho returns it: lookups as ``{"id","name"}``."""
    return {ref.key: _shape(ref, value) for ref, value in zip(plan.columns, row, strict=True)}


__all__ = ["Plan", "compile_query", "shape_row"]
