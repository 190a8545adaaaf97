"""COQL's grammar: tokens and a recursive-descent parser producing a :class:`Query`.

``query := SELECT column {, column} FROM module [WHERE expression] [GROUP BY field {, field}]
[ORDER BY field [ASC|DESC] {, ...}] [LIMIT n [OFFSET m] | LIMIT m, n]`` where ``column`` is a
field or an aggregate ``SUM|MAX|MIN|AVG|COUNT(field)`` (upper case: Zoho's aggregate functions
are case-sensitive). ``expression := term [(and|or) term]`` and ``term := condition |
"(" expression ")"``: a group holds at most two operands, which is Zoho's bracket rule (three
conditions need ``((A and B) and C)``; ``A and B and C`` is a SYNTAX_ERROR).

Limits checked while parsing (zoho-crm.md section 3.1, v8 COQL-Limitations page): 50 select
columns, 5 aggregates, 25 criteria, 100 ``in`` values, 4 GROUP BY and 10 ORDER BY fields,
LIMIT 1..2,000 and OFFSET + LIMIT <= 100,000. Error bodies follow the ``details`` shapes of
Zoho's v8 OpenAPI file for ``POST /coql`` (zoho/crm-oas ``v8.0/coql/coql.yaml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sergas_tui.crm.simulator.errors import ZohoError

MAX_COLUMNS = 50
MAX_AGGREGATES = 5
MAX_CRITERIA = 25
MAX_IN_VALUES = 100
MAX_GROUP = 4
MAX_ORDER = 10
MAX_LIMIT = 2_000
MAX_REACH = 100_000
DEFAULT_LIMIT = 200
AGGREGATES = ("SUM", "MAX", "MIN", "AVG", "COUNT")

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^'\\]|\\.|'')*')
    | (?P<num>-?\d+(?:\.\d+)?(?![\w.]))
    | (?P<op><=|>=|!=|=|<|>)
    | (?P<punct>[(),*;])
    | (?P<word>[A-Za-z_$][\w$]*(?:->[A-Za-z_]\w*)?(?:\.[A-Za-z_$][\w$]*)*)
    )""",
    re.VERBOSE,
)
Literal = str | int | float | bool | None


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    value: Literal = None

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


# -- Zoho's error bodies -------------------------------------------------------------------------


def syntax_error(near: str) -> ZohoError:
    """``SYNTAX_ERROR`` with ``{"near"}`` (Zoho's message, spelling included)."""
    return ZohoError(400, "SYNTAX_ERROR", "error occured while parsing the query", {"near": near})


def missing_clause(clause: str) -> ZohoError:
    return ZohoError(400, "SYNTAX_ERROR", "missing clause", {"clause": clause})


def query_not_supported() -> ZohoError:
    """A statement other than SELECT."""
    return ZohoError(400, "SYNTAX_ERROR", "given coql query not supported")


def operator_not_supported(operator: str) -> ZohoError:
    return ZohoError(400, "SYNTAX_ERROR", "operator not supported", {"operator": operator})


def limit_exceeded(what: str, maximum: int) -> ZohoError:
    return ZohoError(
        400, "LIMIT_EXCEEDED", f"limit exceeded for {what}", {"by": what, "limit": maximum}
    )


def invalid_limit(text: str) -> ZohoError:
    return ZohoError(400, "INVALID_QUERY", "limit given seems to be invalid", {"limit": text})


def invalid_offset(text: str) -> ZohoError:
    return ZohoError(400, "INVALID_QUERY", "offset given seems to be invalid", {"offset": text})


def limit_not_positive() -> ZohoError:
    return ZohoError(400, "INVALID_DATA", "limit should be greater than 0")


def unsupported_function(column: str) -> ZohoError:
    return ZohoError(
        400,
        "INVALID_DATA",
        "invalid data",
        {"reason": "unsupported aggregate function", "column": column},
    )


# -- tokens --------------------------------------------------------------------------------------


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position, end = 0, len(text.rstrip())
    while position < end:
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise syntax_error(text[position:].strip()[:20])
        position = match.end()
        kind = match.lastgroup or ""
        raw = match.group(kind)
        if kind == "str":
            body = raw[1:-1]
            value = re.sub(r"\\(.)", r"\1", body.replace("''", "'"))
            tokens.append(Token("str", raw, value))
        elif kind == "num":
            tokens.append(Token("num", raw, float(raw) if "." in raw else int(raw)))
        else:
            tokens.append(Token(kind, raw))
    if tokens and tokens[-1].text == ";":
        tokens.pop()
    tokens.append(Token("eof", "end of query"))
    return tokens


# -- the parsed query ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Group:
    op: str
    left: Condition | Group
    right: Condition | Group


@dataclass(frozen=True)
class Aggregate:
    """``FUNCTION(field)`` in the select list."""

    function: str
    field: str

    @property
    def text(self) -> str:
        return f"{self.function}({self.field})"


Column = str | Aggregate


@dataclass(frozen=True)
class Query:
    columns: tuple[Column, ...]
    module: str
    where: Condition | Group | None
    group: tuple[str, ...]
    order: tuple[tuple[str, bool], ...]
    limit: int
    offset: int

    @property
    def fields(self) -> tuple[str, ...]:
        """The plain (not aggregated) select columns."""
        return tuple(c for c in self.columns if isinstance(c, str))

    @property
    def aggregates(self) -> tuple[Aggregate, ...]:
        return tuple(c for c in self.columns if isinstance(c, Aggregate))


class Parser:
    """Recursive descent over the tokens of one query."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.criteria = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect_word(self, *words: str) -> Token:
        token = self.take()
        if not token.is_word(*words):
            raise syntax_error(token.text)
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise syntax_error(token.text)

    def field(self) -> str:
        token = self.take()
        if token.kind == "word" and not token.is_word(*_KEYWORDS):
            return token.text
        if token.kind == "str" and isinstance(token.value, str):
            return token.value
        raise syntax_error(token.text)

    def fields(self) -> list[str]:
        names = [self.field()]
        while self.peek().text == ",":
            self.take()
            names.append(self.field())
        return names

    def column(self) -> Column:
        token = self.peek()
        if token.kind == "word" and not token.is_word(*_KEYWORDS) and self.peek(1).text == "(":
            self.pos += 2
            inner = self.field()
            self.expect(")")
            if token.text not in AGGREGATES:
                raise unsupported_function(f"{token.text}({inner})")
            return Aggregate(token.text, inner)
        return self.field()

    def parse(self) -> Query:
        if not self.peek().is_word("select"):
            raise query_not_supported()
        self.take()
        columns = [self.column()]
        while self.peek().text == ",":
            self.take()
            columns.append(self.column())
        if len(columns) > MAX_COLUMNS:
            raise limit_exceeded("select columns", MAX_COLUMNS)
        if sum(isinstance(c, Aggregate) for c in columns) > MAX_AGGREGATES:
            raise limit_exceeded("aggregate functions", MAX_AGGREGATES)
        if not self.peek().is_word("from"):
            token = self.peek()
            if token.kind == "eof" or token.is_word(*_CLAUSES):
                raise missing_clause("from")
            raise syntax_error(token.text)
        self.take()
        module = self.take()
        if module.kind != "word" or module.is_word(*_KEYWORDS):
            raise syntax_error(module.text)
        where = None
        if self.peek().is_word("where"):
            self.take()
            where = self.expression()
        group = self.group_by() if self.peek().is_word("group") else ()
        order = self.order_by() if self.peek().is_word("order") else ()
        limit, offset = self.limit_offset()
        if self.peek().kind != "eof":
            raise syntax_error(self.peek().text)
        return Query(tuple(columns), module.text, where, group, order, limit, offset)

    def expression(self) -> Condition | Group:
        left = self.term()
        if not self.peek().is_word("and", "or"):
            return left
        op = self.take().text.lower()
        right = self.term()
        if self.peek().is_word("and", "or"):
            # Zoho's bracket rule: more than two conditions must be grouped in pairs.
            raise syntax_error(self.peek().text)
        return Group(op, left, right)

    def term(self) -> Condition | Group:
        if self.peek().text == "(":
            self.take()
            inner = self.expression()
            self.expect(")")
            return inner
        return self.condition()

    def value(self) -> Literal:
        token = self.take()
        if token.kind in ("str", "num"):
            return token.value
        if token.is_word("true", "false"):
            return token.text.lower() == "true"
        if token.is_word("null"):
            return None
        raise syntax_error(token.text)

    def condition(self) -> Condition:
        self.criteria += 1
        if self.criteria > MAX_CRITERIA:
            raise limit_exceeded("criteria", MAX_CRITERIA)
        name = self.field()
        token = self.take()
        if token.kind == "op":
            return Condition(name, token.text, (self.value(),))
        negated = token.is_word("not")
        if negated:
            token = self.take()
            if not token.is_word("between", "in", "like"):
                raise operator_not_supported("not")
        prefix = "not " if negated else ""
        if token.is_word("between"):
            low = self.value()
            self.expect_word("and")
            return Condition(name, prefix + "between", (low, self.value()))
        if token.is_word("in"):
            self.expect("(")
            values = [self.value()]
            while self.peek().text == ",":
                self.take()
                values.append(self.value())
            self.expect(")")
            if len(values) > MAX_IN_VALUES:
                raise limit_exceeded("in", MAX_IN_VALUES)
            return Condition(name, prefix + "in", tuple(values))
        if token.is_word("like"):
            return Condition(name, prefix + "like", (self.value(),))
        if token.is_word("is"):
            op = "is not null" if self.peek().is_word("not") else "is null"
            if op == "is not null":
                self.take()
            self.expect_word("null")
            return Condition(name, op, ())
        raise syntax_error(token.text)

    def group_by(self) -> tuple[str, ...]:
        self.take()
        self.expect_word("by")
        names = self.fields()
        if len(names) > MAX_GROUP:
            raise limit_exceeded("group by", MAX_GROUP)
        return tuple(names)

    def order_by(self) -> tuple[tuple[str, bool], ...]:
        self.take()
        self.expect_word("by")
        order: list[tuple[str, bool]] = []
        while True:
            name = self.field()
            descending = False
            if self.peek().is_word("asc", "desc"):
                descending = self.take().text.lower() == "desc"
            order.append((name, descending))
            if self.peek().text != ",":
                break
            self.take()
        if len(order) > MAX_ORDER:
            raise limit_exceeded("order by", MAX_ORDER)
        return tuple(order)

    def count(self, what: str) -> int:
        """The number after LIMIT or OFFSET (may be negative: checked by the caller)."""
        token = self.take()
        if token.kind == "num" and isinstance(token.value, int):
            return token.value
        if token.kind == "eof":
            raise syntax_error(token.text)
        text = token.value if isinstance(token.value, str) else token.text
        raise invalid_limit(text) if what == "limit" else invalid_offset(text)

    def limit_offset(self) -> tuple[int, int]:
        limit, offset = DEFAULT_LIMIT, 0
        if self.peek().is_word("limit"):
            self.take()
            limit = self.count("limit")
            if self.peek().text == ",":
                self.take()
                if limit < 0:
                    raise invalid_offset(str(limit))
                offset, limit = limit, self.count("limit")
        if self.peek().is_word("offset"):
            self.take()
            offset = self.count("offset")
            if offset < 0:
                raise invalid_offset(str(offset))
        if limit < 1:
            raise limit_not_positive()
        if limit > MAX_LIMIT:
            raise limit_exceeded("limit", MAX_LIMIT)
        if offset + limit > MAX_REACH:
            raise limit_exceeded("offset", MAX_REACH)
        return limit, offset


_CLAUSES = ("where", "group", "order", "limit", "offset")
_KEYWORDS = [
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "between",
    "in",
    "is",
    "null",
    "like",
    "group",
    "order",
    "by",
    "asc",
    "desc",
    "limit",
    "offset",
]


__all__ = [
    "AGGREGATES",
    "DEFAULT_LIMIT",
    "MAX_AGGREGATES",
    "MAX_COLUMNS",
    "MAX_CRITERIA",
    "MAX_GROUP",
    "MAX_IN_VALUES",
    "MAX_LIMIT",
    "MAX_ORDER",
    "MAX_REACH",
    "Aggregate",
    "Column",
    "Condition",
    "Group",
    "Literal",
    "Parser",
    "Query",
    "Token",
    "invalid_limit",
    "invalid_offset",
    "limit_exceeded",
    "limit_not_positive",
    "missing_clause",
    "operator_not_supported",
    "query_not_supported",
    "syntax_error",
    "tokenize",
    "unsupported_function",
]
