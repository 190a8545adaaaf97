"""Structured-output schemas of the three roles, and validation of what the model returns.

The Scout and the Analyst return a short assessment per account (:data:`ASSESSMENT_SCHEMA`);
the Author returns recommendations per account (:data:`AUTHOR_SCHEMA`). The schemas are kept
small (they are sent with every request) and the real checks happen here, in Python:

- the output must be an object with an ``accounts`` list (else :class:`OutputError`, which the
  engine answers with one retry, then the rules engine);
- an account not in the batch is ignored; an account of the batch missing from an Author
  answer is reported as missing (it falls back to the rules engine);
- a recommendation must validate as :class:`~sergas_tui.domain.Recommendation` (its payload
  must match its type), cite at least one reference, and every reference must resolve to the
  account's facts or to the memory references the Analyst supplied (no evidence, no
  recommendation; a made-up reference discards it); an email must go to one of the account's
  contacts; a proposal still pending or decided recently is not repeated. Invalid items are
  dropped and reported, never repaired silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from sergas_tui.agents.author.evidence import Evidence
from sergas_tui.agents.author.prior import PriorRec
from sergas_tui.agents.author.rules import AuthorPolicy, recommendation_id
from sergas_tui.domain import (
    AccountFacts,
    FollowUpEmailAction,
    Recommendation,
    RecordRef,
    UpdateAccountAction,
)
from sergas_tui.domain.metadata import ModuleFields, check_changes
from sergas_tui.errors import OutputError as OutputError

MAX_ASSESSMENT_CHARS = 1200
MAX_RATIONALE_CHARS = 2000
MAX_RECOMMENDATIONS = 5
"""At most this many recommendations per account are kept (the first ones)."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

ASSESSMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "accounts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "account_id": {"type": "string"},
                    "assessment": {"type": "string"},
                },
                "required": ["account_id", "assessment"],
            },
        }
    },
    "required": ["accounts"],
}
"""Scout and Analyst: ``{"accounts": [{"account_id", "assessment"}]}``."""

_ACTION_HELP = (
    "follow_up_email: {subject, draft_body, next_steps: [str], recipient: contact email}; "
    "create_task: {subject, due_date: YYYY-MM-DD, priority: High|Normal|Low, description}; "
    "add_note: {title, content}; update_account: {field_changes: [{field, old, new}]}; "
    "escalation: {escalate_to, reason}"
)

AUTHOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "accounts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "account_id": {"type": "string"},
                    "recommendations": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "type": {
                                    "enum": [
                                        "follow_up_email",
                                        "create_task",
                                        "add_note",
                                        "update_account",
                                        "escalation",
                                    ]
                                },
                                "priority": {"enum": ["low", "medium", "high", "critical"]},
                                "confidence": {"enum": ["low", "medium", "high"]},
                                "rationale": {"type": "string"},
                                "suggested_action": {
                                    "type": "object",
                                    "description": _ACTION_HELP,
                                },
                                "data_references": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                },
                            },
                            "required": [
                                "type",
                                "priority",
                                "confidence",
                                "rationale",
                                "suggested_action",
                                "data_references",
                            ],
                        },
                    },
                },
                "required": ["account_id", "recommendations"],
            },
        }
    },
    "required": ["accounts"],
}
"""Author: ``{"accounts": [{"account_id", "recommendations": [seed §3.4 items]}]}``."""


def clean_text(value: object, limit: int) -> str:
    """Model text for our UI and database: no control characters, at most ``limit`` chars."""
    text = _CONTROL.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _entries(output: Any) -> list[Mapping[str, Any]]:
    if output is None:
        raise OutputError("The model returned no structured output.")
    if not isinstance(output, Mapping) or not isinstance(output.get("accounts"), list):
        raise OutputError("The model's structured output has no 'accounts' list.")
    return [e for e in output["accounts"] if isinstance(e, Mapping)]


def parse_assessments(output: Any, account_ids: Sequence[str]) -> dict[str, str]:
    """The assessment of each batch account the model answered for (others are ignored)."""
    wanted = set(account_ids)
    found: dict[str, str] = {}
    for entry in _entries(output):
        account_id = str(entry.get("account_id", ""))
        text = entry.get("assessment")
        if account_id in wanted and isinstance(text, str) and text.strip():
            found.setdefault(account_id, clean_text(text, MAX_ASSESSMENT_CHARS))
    return found


@dataclass(frozen=True)
class AuthorInput:
    """What the Author's answer for one account is checked against."""

    facts: AccountFacts
    memory_refs: Sequence[RecordRef] = ()
    priors: Sequence[PriorRec] = ()

    @property
    def account_id(self) -> str:
        return self.facts.account_id


@dataclass
class AuthorResult:
    """Validated recommendations per account, accounts the model left out, and problems."""

    recommendations: dict[str, list[Recommendation]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    """``(account_id, what was wrong)`` for every dropped item."""


def parse_recommendations(
    output: Any,
    inputs: Sequence[AuthorInput],
    now: datetime,
    *,
    policy: AuthorPolicy | None = None,
    account_fields: ModuleFields | None = None,
) -> AuthorResult:
    """Validate the Author's answer for a batch (see the module docstring for the rules).

    With ``account_fields`` (the org's Accounts field metadata), an ``update_account`` whose
    change the org would not take (no such field, a read-only one, a value its picklist lacks,
    or metadata that could not be read) is dropped as a problem."""
    policy = policy or AuthorPolicy()
    by_id = {item.account_id: item for item in inputs}
    result = AuthorResult()
    answered: set[str] = set()
    for entry in _entries(output):
        account_id = str(entry.get("account_id", ""))
        item = by_id.get(account_id)
        if item is None or account_id in answered:
            continue
        answered.add(account_id)
        raw = entry.get("recommendations")
        recs: list[Recommendation] = []
        for candidate in raw if isinstance(raw, list) else []:
            rec, problem = _recommendation(candidate, item, now, policy, account_fields)
            if rec is None:
                result.problems.append((account_id, problem))
            elif any(r.id == rec.id for r in recs):
                result.problems.append((account_id, f"duplicate {rec.type} dropped"))
            elif len(recs) >= MAX_RECOMMENDATIONS:
                result.problems.append((account_id, f"more than {MAX_RECOMMENDATIONS}: cut"))
            else:
                recs.append(rec)
        result.recommendations[account_id] = recs
    result.missing = [i.account_id for i in inputs if i.account_id not in answered]
    return result


def _recommendation(
    raw: Any,
    item: AuthorInput,
    now: datetime,
    policy: AuthorPolicy,
    account_fields: ModuleFields | None = None,
) -> tuple[Recommendation | None, str]:
    if not isinstance(raw, Mapping):
        return None, "a recommendation is not an object"
    refs_raw = raw.get("data_references")
    refs = [str(r).strip() for r in refs_raw] if isinstance(refs_raw, list) else []
    if not refs:
        return None, f"{raw.get('type', '?')} without data_references (no evidence)"
    evidence = Evidence(item.facts, item.memory_refs)
    memory = {str(r) for r in item.memory_refs}
    resolved = [(r, evidence.resolve([r]) or ([r] if r in memory else [])) for r in refs]
    bad = [r for r, found in resolved if not found]
    if bad:
        return None, f"{raw.get('type', '?')} cites unknown references: {', '.join(bad[:3])}"
    refs = list(dict.fromkeys(found[0] for _, found in resolved))
    account_ref = str(item.facts.account.ref())
    try:
        rec = Recommendation.model_validate(
            {
                "type": raw.get("type"),
                "priority": raw.get("priority"),
                "confidence": raw.get("confidence"),
                "rationale": clean_text(raw.get("rationale", ""), MAX_RATIONALE_CHARS),
                "suggested_action": raw.get("suggested_action"),
                "data_references": refs,
                "account_id": item.account_id,
                "created_at": now,
            }
        )
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "recommendation"
        return None, f"{raw.get('type', '?')} is invalid: {where}: {first['msg']}"
    if not rec.rationale:
        return None, f"{rec.type} without a rationale"
    action = rec.suggested_action
    if isinstance(action, FollowUpEmailAction) and action.recipient is not None:
        emails = {c.email.casefold() for c in item.facts.contacts if c.email}
        if action.recipient.casefold() not in emails:
            return None, "follow_up_email to an address that is not a contact of the account"
    if isinstance(action, UpdateAccountAction) and account_fields is not None:
        changes = {change.field: change.new for change in action.field_changes}
        refused = [c for c in check_changes(account_fields, changes) if not c.ok]
        if refused:
            return None, f"update_account not proposed: {refused[0].reason}"
    target = next((r.split("#", 1)[0] for r in refs if r.startswith("zoho:")), account_ref)
    rec_id = recommendation_id(item.account_id, rec.type, target, now.date())
    for prior in item.priors:
        if prior.recommendation_id == rec_id or (
            prior.matches(rec.type, target) and prior.blocks(now, policy)
        ):
            return None, f"{rec.type} on {target} repeats an earlier proposal"
    return rec.model_copy(update={"id": rec_id}), ""
