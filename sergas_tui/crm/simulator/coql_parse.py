"""COQL's grammar: tokens and a recursive-descent parser producing a :class:`Query`.

``expression := term [(and|or) term]`` and ``term := condition | "(" expression ")"``: a group
holds at most two operands, which is Zoho's bracket rule (three conditions need
``((A and B) and C)``; ``A and B and C`` is a SYNTAX_ERROR). Limits on criteria, ``in`` values,
ORDER BY fields, LIMIT and OFFSET are checked while parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sergas_tui.crm.simulator.errors import ZohoError

MAX_CRITERIA = 25
MAX_IN_VALUES = 100
MAX_ORDER = 10
MAX_LIMIT = 2_000
MAX_REACH = 100_000
DEFAULT_LIMIT = 200

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


def syntax_error(near: str, clause: str) -> ZohoError:
    return ZohoError(
        400,
        "SYNTAX_ERROR",
        f"error occurred while parsing the query near '{near}'",
        {"clause": clause, "near": near},
    )


def limit_exceeded(what: str, maximum: int) -> ZohoError:
    return ZohoError(
        400, "LIMIT_EXCEEDED", f"limit exceeded for {what}", {"by": what, "limit": maximum}
    )


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position, end = 0, len(text.rstrip())
    while position < end:
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise syntax_error(text[position:].strip()[:20], "query")
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
class Query:
    fields: tuple[str, ...]
    module: str
    where: Condition | Group | None
    order: tuple[tuple[str, bool], ...]
    limit: int
    offset: int


class Parser:
    """Recursive descent over the tokens of one query."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.clause = "select"
        self.criteria = 0

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect_word(self, *words: str) -> Token:
        token = self.take()
        if not token.is_word(*words):
            raise syntax_error(token.text, self.clause)
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise syntax_error(token.text, self.clause)

    def field(self) -> str:
        token = self.take()
        if token.kind == "word" and not token.is_word(*_KEYWORDS):
            return token.text
        if token.kind == "str" and isinstance(token.value, str):
            return token.value
        raise syntax_error(token.text, self.clause)

    def parse(self) -> Query:
        self.expect_word("select")
        fields = [self.field()]
        while self.peek().text == ",":
            self.take()
            fields.append(self.field())
        if self.peek().text == "(":
            raise syntax_error(fields[-1], "select")
        self.clause = "from"
        self.expect_word("from")
        module = self.take()
        if module.kind != "word":
            raise syntax_error(module.text, "from")
        where = None
        if self.peek().is_word("where"):
            self.take()
            self.clause = "where"
            where = self.expression()
        order = self.order_by() if self.peek().is_word("order") else ()
        limit, offset = self.limit_offset()
        if self.peek().kind != "eof":
            raise syntax_error(self.peek().text, self.clause)
        return Query(tuple(fields), module.text, where, order, limit, offset)

    def expression(self) -> Condition | Group:
        left = self.term()
        if not self.peek().is_word("and", "or"):
            return left
        op = self.take().text.lower()
        right = self.term()
        if self.peek().is_word("and", "or"):
            # Zoho's bracket rule: more than two conditions must be grouped in pairs.
            raise syntax_error(self.peek().text, "where")
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
        raise syntax_error(token.text, "where")

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
        if token.is_word("is") and not negated:
            op = "is not null" if self.peek().is_word("not") else "is null"
            if op == "is not null":
                self.take()
            self.expect_word("null")
            return Condition(name, op, ())
        raise syntax_error(token.text, "where")

    def order_by(self) -> tuple[tuple[str, bool], ...]:
        self.clause = "order by"
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

    def number(self) -> int:
        token = self.take()
        if token.kind != "num" or not isinstance(token.value, int) or token.value < 0:
            raise syntax_error(token.text, self.clause)
        return token.value

    def limit_offset(self) -> tuple[int, int]:
        limit, offset = DEFAULT_LIMIT, 0
        if self.peek().is_word("limit"):
            self.clause = "limit"
            self.take()
            limit = self.number()
            if self.peek().text == ",":
                self.take()
                offset, limit = limit, self.number()
        if self.peek().is_word("offset"):
            self.clause = "offset"
            self.take()
            offset = self.number()
        if limit < 1:
            raise syntax_error(str(limit), "limit")
        if limit > MAX_LIMIT:
            raise limit_exceeded("limit", MAX_LIMIT)
        if offset + limit > MAX_REACH:
            raise limit_exceeded("offset", MAX_REACH)
        return limit, offset


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
    "order",
    "by",
    "asc",
    "desc",
    "limit",
    "offset",
]


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_CRITERIA",
    "MAX_IN_VALUES",
    "MAX_LIMIT",
    "MAX_ORDER",
    "MAX_REACH",
    "Condition",
    "Group",
    "Literal",
    "Parser",
    "Query",
    "Token",
    "limit_exceeded",
    "syntax_error",
    "tokenize",
]
