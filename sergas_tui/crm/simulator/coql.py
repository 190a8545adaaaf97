"""COQL: parse ``SELECT ... FROM ... WHERE ... GROUP BY ... ORDER BY ... LIMIT ...`` into SQL.

Supported (zoho-crm.md section 3.1; Zoho's v8 "Get Records through COQL Query" and
"COQL-Limitations" pages; the v8 OpenAPI file zoho/crm-oas ``v8.0/coql/coql.yaml``):

- up to 50 columns (``id`` always returned by plain queries), lookup dot-joins
  (``Account_Name.Account_Name``, ``Owner.email``, ``'What_Id->Deals.Deal_Name'``);
- comparators ``= != > < >= <=``, ``[not] between``, ``[not] in`` (100 values), ``is [not]
  null``, ``[not] like`` with ``%``; ``and``/``or`` with Zoho's bracket rule; 25 criteria;
- aggregates ``SUM AVG`` (number and currency fields), ``MIN MAX`` (numbers, dates, datetimes),
  ``COUNT`` (numbers, lookups, picklists and ``id``), at most 5 and each (function, field) once;
  ``GROUP BY`` up to 4 fields. A grouped/aggregate row is keyed as Zoho answers it
  (``{"Stage": "Closed Won", "SUM(Amount)": 120000, "COUNT(id)": 3}``) and has no ``id``. Every
  plain select column and ORDER BY field of such a query must be grouped; without GROUP BY an
  aggregate query answers exactly one row;
- ORDER BY up to 10 fields (default ``id asc``; grouped queries: the grouped fields, ascending);
  ``LIMIT n [OFFSET m]`` or ``LIMIT m, n`` (n <= 2,000, m + n <= 100,000, default 200);
- every module of the record endpoints and ``Users``, except Notes: Zoho's COQL module list
  (v8 Get Records through COQL Query, "Possible module names"; the v8 OpenAPI scopes) has no
  Notes, so ``from Notes`` answers INVALID_MODULE like any module COQL does not serve.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sergas_tui.crm.simulator.coql_parse import (
    Aggregate,
    Condition,
    Group,
    Parser,
    Query,
)
from sergas_tui.crm.simulator.errors import ZohoError
from sergas_tui.crm.simulator.schema import (
    COQL_MODULES as SCHEMA_COQL_MODULES,
)
from sergas_tui.crm.simulator.schema import (
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

if TYPE_CHECKING:
    from sergas_tui.crm.simulator.orgdb import OrgDb

# Modules the simulator serves that Zoho's COQL does not (see the module docstring).
NOT_IN_COQL: tuple[str, ...] = ("Notes",)
COQL_MODULES: tuple[str, ...] = tuple(m for m in SCHEMA_COQL_MODULES if m not in NOT_IN_COQL)

_NULL_OPS = {"is null", "is not null"}
_EQUALITY = {"=", "!=", "in", "not in"} | _NULL_OPS
_ORDERING = _EQUALITY | {"<", ">", "<=", ">=", "between", "not between"}
# Field types each aggregate accepts. Zoho documents COUNT for "number, lookup, and picklist
# fields" and shows SUM/AVG/MIN/MAX on a currency field; MIN/MAX on dates are our reading.
_AGGREGATE_TYPES: dict[str, frozenset[str]] = {
    "SUM": NUMBER_TYPES,
    "AVG": NUMBER_TYPES,
    "MIN": NUMBER_TYPES | TIME_TYPES,
    "MAX": NUMBER_TYPES | TIME_TYPES,
    "COUNT": NUMBER_TYPES | {"id", "lookup", "owner", "picklist"},
}
_RAW_AGGREGATES = ("SUM", "AVG", "COUNT")


def invalid_query(message: str, **details: Any) -> ZohoError:
    return ZohoError(400, "INVALID_QUERY", message, details)


def invalid_module() -> ZohoError:
    """The v8 answer for a FROM module COQL does not serve (crm-oas ``InvalidModule``)."""
    return ZohoError(400, "INVALID_MODULE", "the given module is not supported in api")


def duplicate(message: str, **details: Any) -> ZohoError:
    return ZohoError(400, "DUPLICATE_DATA", message, details)


# -- translation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One key of a result row: its SQL, and how the stored value becomes JSON."""

    key: str
    sql: str
    ref: Ref
    function: str | None = None

    def shape(self, value: Value) -> Any:
        if self.function in _RAW_AGGREGATES:
            return value
        return _shape(self.ref, value)


@dataclass(frozen=True)
class Plan:
    """A parsed query translated to SQL pieces (alias ``r`` is the queried record)."""

    module: str
    columns: tuple[Column, ...]
    where: Sql | None
    order: tuple[str, ...]
    limit: int
    offset: int
    group: tuple[str, ...] = ()
    aggregate: bool = False


def _ref(module: str, path: str, clause: str) -> Ref:
    try:
        return resolve(module, path)
    except UnknownField:
        raise invalid_query(
            "column given seems to be invalid", column_name=path, clause=clause
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
            "Invalid query formed",
            reason="invalid operator found",
            column_name=cond.field,
            operator=cond.op,
        )
    expr = ref.compare
    if cond.op in _NULL_OPS:
        return Sql(f"{expr} {cond.op.upper()}")
    try:
        values = tuple(coerce(ref.field, value) for value in cond.values)
    except BadValue:
        raise invalid_query(
            "value given seems to be invalid for the column", column_name=cond.field, clause="where"
        ) from None
    if any(value is None for value in values):
        raise invalid_query(
            "Invalid query formed",
            reason="use 'is null' to compare with null",
            column_name=cond.field,
            operator=cond.op,
        )
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


def _unique(refs: Sequence[Ref], message: str) -> None:
    seen: set[str] = set()
    for ref in refs:
        if ref.key in seen:
            raise duplicate(message, column_name=ref.key)
        seen.add(ref.key)


def _aggregate_column(module: str, item: Aggregate) -> Column:
    ref = _ref(module, item.field, "select")
    if ref.field.type not in _AGGREGATE_TYPES[item.function]:
        raise invalid_query("data type not supported", column_name=ref.key, clause="select")
    key = f"{item.function}({ref.key})"
    return Column(key, f"{item.function}({ref.value})", ref, item.function)


def _order(ref: Ref, descending: bool) -> str:
    return f"{ref.order} {'DESC' if descending else 'ASC'}"


def _plain_plan(query: Query, module: str, where: Sql | None) -> Plan:
    refs = [_ref(module, path, "select") for path in query.fields]
    _unique(refs, "duplicate select column")
    columns = {"id": Column("id", "r.id", resolve(module, "id"))}
    columns |= {ref.key: Column(ref.key, ref.value, ref) for ref in refs}
    order_refs = [(_ref(module, name, "order by"), desc) for name, desc in query.order]
    _unique([ref for ref, _ in order_refs], "duplicate order by column")
    order = [_order(ref, desc) for ref, desc in order_refs]
    if not any(ref.key == "id" for ref, _ in order_refs):
        order.append("r.id ASC")
    return Plan(module, tuple(columns.values()), where, tuple(order), query.limit, query.offset)


def _grouped_plan(query: Query, module: str, where: Sql | None) -> Plan:
    group = [_ref(module, path, "group by") for path in query.group]
    _unique(group, "duplicate group by column")
    grouped = {ref.key for ref in group}
    columns: list[Column] = []
    seen: set[tuple[str | None, str]] = set()
    for item in query.columns:
        if isinstance(item, Aggregate):
            column = _aggregate_column(module, item)
            if (item.function, column.ref.key) in seen:
                raise duplicate(
                    "duplicate aggregate function",
                    column_name=column.ref.key,
                    aggregate=item.function,
                )
        else:
            ref = _ref(module, item, "select")
            if (None, ref.key) in seen:
                raise duplicate("duplicate select column", column_name=ref.key)
            if ref.key not in grouped:
                raise invalid_query("unsupported column", column_name=ref.key, clause="select")
            column = Column(ref.key, ref.value, ref)
        seen.add((column.function, column.ref.key))
        columns.append(column)
    order_refs = [(_ref(module, name, "order by"), desc) for name, desc in query.order]
    _unique([ref for ref, _ in order_refs], "duplicate order by column")
    for ref, _ in order_refs:
        if ref.key not in grouped:
            raise invalid_query("unsupported column", column_name=ref.key, clause="order by")
    ordered = {ref.key for ref, _ in order_refs}
    order = [_order(ref, desc) for ref, desc in order_refs]
    order += [f"{ref.compare} ASC" for ref in group if ref.key not in ordered]
    return Plan(
        module,
        tuple(columns),
        where,
        tuple(order),
        query.limit,
        query.offset,
        group=tuple(ref.compare for ref in group),
        aggregate=True,
    )


def compile_query(text: str) -> Plan:
    """Parse and translate ``select_query``; raises :class:`ZohoError` like Zoho does."""
    query = Parser(text).parse()
    module = canonical_module(query.module, COQL_MODULES)
    if module is None:
        raise invalid_module()
    where = _where(module, query.where) if query.where is not None else None
    if query.group or query.aggregates:
        return _grouped_plan(query, module, where)
    return _plain_plan(query, module, where)


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


def shape_row(plan: Plan, row: Sequence[Value]) -> dict[str, Any]:
    """One result row as Zoho returns it: lookups as ``{"id","name"}``, aggregates by
    ``FUNCTION(field)``."""
    return {c.key: c.shape(value) for c, value in zip(plan.columns, row, strict=True)}


def execute(db: OrgDb, plan: Plan) -> tuple[list[dict[str, Any]], bool]:
    """The page of ``plan`` (shaped rows) and whether more rows follow it."""
    rows = db.query(
        plan.module,
        [c.sql for c in plan.columns],
        plan.where,
        plan.order,
        plan.limit + 1,
        plan.offset,
        group=plan.group,
    )
    return [shape_row(plan, row) for row in rows[: plan.limit]], len(rows) > plan.limit


__all__ = [
    "COQL_MODULES",
    "NOT_IN_COQL",
    "Column",
    "Plan",
    "compile_query",
    "execute",
    "shape_row",
]
