"""Redaction of the seed's sensitive fields, at any depth, without touching the input."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sergas_tui.domain import REDACTED, REDACTED_FIELDS, AuditEvent, is_sensitive_field, redact


def test_the_seed_list() -> None:
    assert REDACTED_FIELDS == (
        "SSN",
        "Tax_ID",
        "Credit_Card",
        "Bank_Account",
        "Personal_Email",
        "Home_Address",
        "Date_of_Birth",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"SSN": "123-45-6789", "Name": "Dana"}, {"SSN": REDACTED, "Name": "Dana"}),
        ({"ssn": "1", "tax_id": "2"}, {"ssn": REDACTED, "tax_id": REDACTED}),
        (
            {"Contact": {"Personal_Email": "dana@home.example", "Email": "dana@acme.example"}},
            {"Contact": {"Personal_Email": REDACTED, "Email": "dana@acme.example"}},
        ),
        (
            {"data": [{"Bank_Account": "GB00", "id": "1"}, {"id": "2"}]},
            {"data": [{"Bank_Account": REDACTED, "id": "1"}, {"id": "2"}]},
        ),
        ([[{"Credit_Card": {"number": "4111"}}]], [[{"Credit_Card": REDACTED}]]),
        (({"Home_Address": "1 Main St"},), ({"Home_Address": REDACTED},)),
        ({"Date_of_Birth": None}, {"Date_of_Birth": REDACTED}),
        ({"Notes": "SSN is 123"}, {"Notes": "SSN is 123"}),  # keys only, not free text
        ("SSN", "SSN"),
        (42, 42),
        (None, None),
        ({}, {}),
    ],
)
def test_redact(value: Any, expected: Any) -> None:
    assert redact(value) == expected


def test_redact_never_mutates_its_input() -> None:
    value: dict[str, Any] = {"a": [{"SSN": "1", "b": {"Tax_ID": "2"}}], "c": {"x"}}
    before = copy.deepcopy(value)
    result = redact(value)
    assert value == before
    assert result["a"] is not value["a"]
    assert result["a"][0] is not value["a"][0]


@pytest.mark.parametrize(("name", "sensitive"), [("SSN", True), ("date_of_birth", True),
                                                 ("Email", False), (3, False)])  # fmt: skip
def test_is_sensitive_field(name: object, sensitive: bool) -> None:
    assert is_sensitive_field(name) is sensitive


_keys = st.one_of(st.sampled_from(REDACTED_FIELDS), st.text(max_size=12))
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=30,
)


def _sensitive_values(value: Any) -> list[Any]:
    """Every value stored under a sensitive key, at any depth."""
    found: list[Any] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if is_sensitive_field(key):
                found.append(item)
            else:
                found.extend(_sensitive_values(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_sensitive_values(item))
    return found


def _strip_sensitive(value: Any) -> Any:
    """``value`` with sensitive keys removed, to compare what redaction must leave alone."""
    if isinstance(value, dict):
        return {k: _strip_sensitive(v) for k, v in value.items() if not is_sensitive_field(k)}
    if isinstance(value, list):
        return [_strip_sensitive(v) for v in value]
    return value


@given(_json)
def test_redact_never_leaks_a_sensitive_value_at_any_depth(value: Any) -> None:
    before = copy.deepcopy(value)
    result = redact(value)
    assert all(v == REDACTED for v in _sensitive_values(result))
    assert _strip_sensitive(result) == _strip_sensitive(value)
    assert value == before


def test_audit_events_redact_tool_payloads() -> None:
    event = AuditEvent(
        session_id="s1",
        agent_name="zoho_scout",
        action_type="tool_invocation",
        tool_name="zoho_get_account_details",
        tool_inputs={"account_id": "1"},
        tool_outputs={"data": [{"id": "1", "Tax_ID": "99-999", "Owner": {"SSN": "x"}}]},
    )
    assert event.tool_outputs == {
        "data": [{"id": "1", "Tax_ID": REDACTED, "Owner": {"SSN": REDACTED}}]
    }
    assert event.tool_inputs == {"account_id": "1"}
