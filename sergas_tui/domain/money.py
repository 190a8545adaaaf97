"""Amounts as people read them: always with their currency.

Zoho stores a record's currency in its ``Currency`` field (an ISO 4217 code, e.g. ``EUR``) when
the org has more than one currency; otherwise every amount is in the org's home currency
(``[zoho] home_currency``, default ``USD``). :func:`format_money` is the one format used by the
approvals queue, ``sergas approvals``, the brief and the audit view: ``USD 36,000`` for whole
amounts, ``EUR 1,250.50`` otherwise. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import JsonValue

DEFAULT_CURRENCY = "USD"
"""The home currency when the configuration names none."""

CURRENCY_FIELD = "Currency"
"""Zoho's field holding a record's currency code (multi-currency orgs only)."""

AMOUNT_FIELDS: frozenset[str] = frozenset(
    {"Amount", "Annual_Revenue", "Expected_Revenue", "Grand_Total", "Sub_Total"}
)
"""Zoho fields holding money (shown with the record's currency)."""

_CODE = re.compile(r"^[A-Za-z]{3}$")
NO_AMOUNT = "—"


def currency_code(value: object, default: str = DEFAULT_CURRENCY) -> str:
    """``value`` as an upper-case ISO code when it looks like one, else ``default``."""
    if isinstance(value, str) and _CODE.match(value.strip()):
        return value.strip().upper()
    return default


def record_currency(record: Mapping[str, JsonValue] | None, default: str) -> str:
    """The currency of a stored record: its ``Currency`` field, else ``default``."""
    if record is None:
        return default
    return currency_code(record.get(CURRENCY_FIELD), default)


def format_money(amount: object, currency: str = DEFAULT_CURRENCY) -> str:
    """``USD 36,000`` or ``EUR 1,250.50``; an em dash when ``amount`` is not a number.

    Negative amounts keep their sign after the code (``USD -500``); booleans are not amounts.
    """
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        return NO_AMOUNT
    value = float(amount)
    text = f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return f"{currency_code(currency)} {text}"


def is_amount_field(name: str) -> bool:
    """True for the Zoho fields that hold money."""
    return name in AMOUNT_FIELDS
