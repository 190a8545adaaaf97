"""The rules Recommendation Author's rule table and the small pure helpers around it.

:data:`RULES` maps each Data Scout signal key to the recommendations it calls for; the author
groups them by (type, target) so an account gets at most one email, one account-level task,
one note and one escalation, plus one task per affected deal. Only signal keys, severities and
structured CRM fields drive these choices; free text (notes, descriptions) never does.

Signal → recommendations (deal-scoped tasks target the deal named in the evidence):

- ``no_activity_warning``: follow_up_email (re-engage)
- ``no_activity_critical``: follow_up_email (re-engage), create_task (call the sponsor)
- ``stalled_in_stage``: create_task on the deal (close plan), follow_up_email (deal progress)
- ``close_date_pushed``: create_task on the deal (re-qualify the date), add_note
- ``close_date_overdue``: create_task on the deal (re-qualify the date)
- ``amount_decreased``: create_task on the deal (scope review), add_note
- ``stage_regression``: follow_up_email (deal progress), add_note
- ``single_threaded``: create_task (multi-thread), follow_up_email (ask for introductions)
- ``no_next_step``: create_task on the deal (set a next step)
- ``renewal_declining_sentiment``: follow_up_email (renewal), create_task (renewal review),
  add_note
- ``executive_sponsor_change``: follow_up_email (to the new sponsor), create_task (stakeholder
  map), add_note

An email with no reachable recipient becomes the account task "find a reachable contact".
:func:`escalation_reasons` adds an escalation (to :attr:`AuthorPolicy.escalate_to`) for: a
stalled deal in negotiation worth at least :attr:`AuthorPolicy.escalation_amount`; an
executive sponsor change with a renewal at risk; a critical signal with a renewal closing
within the renewal window; three or more high/critical signals. ``update_account`` (Rating →
:attr:`AuthorPolicy.at_risk_rating`) goes with an escalation, but only when an org-specific
at-risk Rating value is configured: Zoho's default Rating picklist (Active, Acquired, Market
Failed, Project Cancelled, Shut Down) has no value meaning "at risk", and writing one of those
would record a falsehood. And only a value the org's Accounts ``Rating`` picklist has
(:func:`rating_writes`, from the field metadata): a value it lacks would be refused by Zoho or,
in an unrestricted picklist, added to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType
from typing import Literal

from sergas_tui.domain import Deal, RiskSignal
from sergas_tui.domain.common import Priority, RecommendationType, Severity
from sergas_tui.domain.metadata import ModuleFields, check_value
from sergas_tui.domain.money import format_money
from sergas_tui.domain.picklists import TaskPriority

Scope = Literal["account", "deal"]
EvidenceKind = Literal["event", "absence"]
"""``event``: something happened (its date matters); ``absence``: something is missing now."""

PRIORITIES: tuple[Priority, ...] = ("low", "medium", "high", "critical")
SEVERITY_PRIORITY: Mapping[Severity, Priority] = MappingProxyType(
    {"info": "low", "warning": "medium", "high": "high", "critical": "critical"}
)
SEVERITY_RANK: Mapping[str, int] = MappingProxyType(
    {"info": 0, "warning": 1, "high": 2, "critical": 3}
)
TYPE_ORDER: tuple[RecommendationType, ...] = (
    "escalation",
    "follow_up_email",
    "create_task",
    "update_account",
    "add_note",
)
ZOHO_TASK_PRIORITY: Mapping[Priority, TaskPriority] = MappingProxyType(
    {"critical": "Highest", "high": "High", "medium": "Normal", "low": "Low"}
)
"""Our priority → Zoho's default Tasks ``Priority`` picklist value."""
DUE_BUSINESS_DAYS: Mapping[Priority, int] = MappingProxyType(
    {"critical": 2, "high": 5, "medium": 10, "low": 15}
)
CONTACT_ROLES: tuple[str, ...] = ("Executive Sponsor", "Champion", "Economic Buyer")
"""Whom a follow-up email goes to, best first (Zoho ``Contact_Role``)."""
CLOSED_STAGE_PREFIX = "closed"
_ID_NAMESPACE = uuid.UUID("6b1f4a0e-2f5c-5d7e-9a43-5e7267617331")


@dataclass(frozen=True)
class AuthorPolicy:
    """Thresholds of the rules author; the defaults suit the demo org and a typical team."""

    large_deal_amount: float = 250_000
    """An amount at stake (open deals) of at least this raises priority one step."""
    escalation_amount: float = 150_000
    """A deal stalled in negotiation worth at least this calls for an escalation."""
    renewal_soon_days: int = 45
    """An open renewal closing within this many days raises priority one step."""
    renewal_window_days: int = 90
    """An open renewal closing within this many days counts as 'a renewal at stake'."""
    near_term_days: int = 30
    """Critical means a concrete near-term loss: an open deal the problem is about closes
    within this many days while it is stuck or silent (see :data:`NEAR_TERM_LOSS_KEYS`)."""
    rejection_window_days: int = 90
    rejection_threshold: int = 2
    """A type rejected this often within the window is proposed one priority step lower."""
    repeat_window_days: int = 14
    """A type executed (or approved) this recently for the same target is not proposed."""
    fresh_evidence_days: int = 30
    old_evidence_days: int = 90
    fresh_sync_hours: int = 24
    stale_sync_days: int = 7
    escalate_to: str = "sales_manager"
    currency: str = "USD"
    """The org's home currency: amounts in the author's texts carry it (``USD 36,000``)."""
    at_risk_rating: str | None = None
    """Rating value meaning "at risk" in this org's picklist; None (default) proposes no
    ``update_account``."""
    replaceable_ratings: tuple[str | None, ...] = (None, "", "-None-", "Active")
    """Current Rating values the author may replace with :attr:`at_risk_rating`."""
    recovered_rating: str = "Active"
    """What the Rating goes back to once an at-risk account has no risk signal left."""
    rating_values: frozenset[str] | None = None
    """The Rating values the author may write, as the org's Accounts field metadata allows
    (:func:`rating_writes`); None: not checked (any configured value may be proposed)."""

    def may_write_rating(self, value: str | None) -> bool:
        """Whether an ``update_account`` may set the Rating to ``value``."""
        return value is not None and (self.rating_values is None or value in self.rating_values)


@dataclass(frozen=True)
class Proposal:
    """One recommendation a signal calls for: type, template flavour, scope, priority shift."""

    type: RecommendationType
    flavour: str
    scope: Scope = "account"
    shift: int = 0
    next_steps: tuple[str, ...] = ()

    @property
    def template(self) -> str:
        return f"{self.type}.{self.flavour}.md.j2"


@dataclass(frozen=True)
class SignalRule:
    """What to do about one signal key."""

    label: str
    kind: EvidenceKind
    proposals: tuple[Proposal, ...]
    uses_memory: bool = False


_NOTE = Proposal("add_note", "risk_assessment", shift=-1)
_CALL_STEPS = ("Schedule a call within 5 business days", "Confirm priorities and budget")
_DEAL_STEPS = ("Agree the next milestone and its date", "Confirm who signs and when")

RULES: Mapping[str, SignalRule] = MappingProxyType(
    {
        "no_activity_warning": SignalRule(
            "No recent activity",
            "absence",
            (Proposal("follow_up_email", "reengage", next_steps=_CALL_STEPS),),
            uses_memory=True,
        ),
        "no_activity_critical": SignalRule(
            "No activity for a long time",
            "absence",
            (
                Proposal("follow_up_email", "reengage", next_steps=_CALL_STEPS),
                Proposal("create_task", "call_sponsor"),
            ),
            uses_memory=True,
        ),
        "stalled_in_stage": SignalRule(
            "Deal stalled in stage",
            "absence",
            (
                Proposal("create_task", "close_plan", scope="deal"),
                Proposal("follow_up_email", "deal_progress", next_steps=_DEAL_STEPS),
            ),
        ),
        "close_date_pushed": SignalRule(
            "Close date pushed",
            "event",
            (Proposal("create_task", "requalify_close_date", scope="deal"), _NOTE),
        ),
        "close_date_overdue": SignalRule(
            "Close date passed",
            "absence",
            (Proposal("create_task", "requalify_close_date", scope="deal"),),
        ),
        "amount_decreased": SignalRule(
            "Deal amount cut",
            "event",
            (Proposal("create_task", "scope_review", scope="deal"), _NOTE),
        ),
        "stage_regression": SignalRule(
            "Deal moved back a stage",
            "event",
            (Proposal("follow_up_email", "deal_progress", next_steps=_DEAL_STEPS), _NOTE),
            uses_memory=True,
        ),
        "single_threaded": SignalRule(
            "Single-threaded",
            "absence",
            (
                Proposal("create_task", "multithread"),
                Proposal(
                    "follow_up_email",
                    "introductions",
                    next_steps=("Ask for an introduction to the economic buyer",),
                ),
            ),
            uses_memory=True,
        ),
        "no_next_step": SignalRule(
            "No next step",
            "absence",
            (Proposal("create_task", "next_step", scope="deal"),),
        ),
        "renewal_declining_sentiment": SignalRule(
            "Renewal with declining sentiment",
            "event",
            (
                Proposal(
                    "follow_up_email",
                    "renewal",
                    next_steps=("Hold a renewal review call", "Agree fixes for open issues"),
                ),
                Proposal("create_task", "renewal_review"),
                _NOTE,
            ),
            uses_memory=True,
        ),
        "executive_sponsor_change": SignalRule(
            "Executive sponsor changed",
            "event",
            (
                Proposal(
                    "follow_up_email",
                    "new_sponsor",
                    next_steps=("Book an introduction meeting", "Re-confirm the business case"),
                ),
                Proposal("create_task", "stakeholder_map"),
                _NOTE,
            ),
            uses_memory=True,
        ),
    }
)
SILENCE_KEYS: frozenset[str] = frozenset({"no_activity_warning", "no_activity_critical"})
TURNED_KEYS: frozenset[str] = frozenset({"renewal_declining_sentiment", "executive_sponsor_change"})
"""A concrete near-term loss: a deal closing within :attr:`AuthorPolicy.near_term_days` while
nobody has talked to the customer for long (``no_activity_critical``) or its sponsor or sentiment
turned (:data:`TURNED_KEYS`), or closing within half that while the account went quiet
(``no_activity_warning``). Every other priority stops at ``high``."""

ESCALATION = Proposal("escalation", "manager")
UPDATE_RATING = Proposal("update_account", "rating")


def is_open(deal: Deal) -> bool:
    return not (deal.stage or "").strip().lower().startswith(CLOSED_STAGE_PREFIX)


def closing_soon(deals: Sequence[Deal], today: date, days: int) -> Deal | None:
    """The open deal closing soonest within ``days`` (today included), if any."""
    soon = [
        d
        for d in deals
        if is_open(d) and d.closing_date is not None and 0 <= (d.closing_date - today).days <= days
    ]
    return min(soon, key=lambda d: (d.closing_date, -(d.amount or 0)), default=None)


def is_renewal(deal: Deal) -> bool:
    return "renewal" in (deal.type or "").lower()


def renewal_within(deals: Sequence[Deal], today: date, days: int) -> Deal | None:
    """The first open renewal closing within ``days`` (and not long overdue)."""
    for deal in deals:
        closing = deal.closing_date
        due_in = None if closing is None else (closing - today).days
        if is_open(deal) and is_renewal(deal) and due_in is not None and -30 <= due_in <= days:
            return deal
    return None


def escalation_reasons(
    found: Sequence[tuple[RiskSignal, Deal | None]],
    all_deals: Sequence[Deal],
    today: date,
    policy: AuthorPolicy,
) -> list[tuple[str, list[RiskSignal]]]:
    """The critical combinations present: (reason, the signals behind it).

    ``found`` pairs each usable signal with the deal its evidence names (if any).
    """
    signals = [s for s, _ in found]
    keys = {s.key for s in signals}
    out: list[tuple[str, list[RiskSignal]]] = []
    for signal, deal in found:
        if signal.key != "stalled_in_stage" or deal is None or not is_open(deal):
            continue
        if (
            "negotiat" in (deal.stage or "").lower()
            and (deal.amount or 0) >= policy.escalation_amount
        ):
            worth = format_money(deal.amount, policy.currency)
            out.append((f"a deal worth {worth} is stalled in negotiation", [signal]))
            break
    renewal = renewal_within(all_deals, today, policy.renewal_window_days)
    if "executive_sponsor_change" in keys and (
        "renewal_declining_sentiment" in keys or renewal is not None
    ):
        involved = [
            s
            for s in signals
            if s.key in ("executive_sponsor_change", "renewal_declining_sentiment")
        ]
        out.append(("the executive sponsor changed while a renewal is at risk", involved))
    critical = [s for s in signals if s.severity == "critical"]
    if renewal is not None and critical:
        out.append(("a critical risk sits on a renewal closing soon", critical))
    strong = [s for s in signals if SEVERITY_RANK[s.severity] >= 2]
    if len({s.key for s in strong}) >= 3:
        out.append(("three or more high-risk signals at once", strong))
    return out


def shift_priority(priority: Priority, steps: int, *, floor: Priority = "low") -> Priority:
    index = PRIORITIES.index(priority) + steps
    index = max(PRIORITIES.index(floor), min(index, len(PRIORITIES) - 1))
    return PRIORITIES[index]


def add_business_days(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def recommendation_id(account_id: str, kind: str, target: str, day: date) -> str:
    """Stable id for (account, type, target, review day), so repeated reviews dedupe."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{account_id}|{kind}|{target}|{day.isoformat()}"))


RATING_FIELD = "Rating"


@dataclass(frozen=True)
class RatingWrites:
    """Which Rating values the author may write in this org, and why, in sentences."""

    allowed: frozenset[str]
    notes: tuple[str, ...]
    """One sentence per decision (a person reads them in the log and in ``sergas doctor``)."""
    ok: bool
    """True when every configured value may be written."""


def rating_writes(
    fields: ModuleFields, policy: AuthorPolicy, *, trusted: frozenset[str] = frozenset()
) -> RatingWrites:
    """The Rating values (:attr:`AuthorPolicy.at_risk_rating`, and
    :attr:`AuthorPolicy.recovered_rating` for the way back) the org's Accounts ``Rating`` field
    takes: the field exists, is not read-only and its picklist has the value. Without the
    metadata (``fields.unknown``) only the ``trusted`` values are written (the demo org's own,
    whose picklist Sergas generated); everything else waits until the metadata can be read."""
    at_risk, recovered = policy.at_risk_rating, policy.recovered_rating
    if at_risk is None:
        return RatingWrites(
            frozenset(),
            ("[review] at_risk_rating is not set: no Rating updates are proposed.",),
            ok=True,
        )
    if not fields.known:
        kept = frozenset(v for v in (at_risk, recovered) if v in trusted)
        why = f"The org's Accounts field metadata is unknown ({fields.unknown})"
        if at_risk in kept:
            note = (
                f"{why}: Rating updates to '{at_risk}' (and back to '{recovered}') are proposed "
                "unchecked, as the demo org's own values."
            )
        else:
            note = f"{why}: no Rating updates are proposed until it can be read."
        return RatingWrites(kept, (note,), ok=False)
    allowed: set[str] = set()
    notes: list[str] = []
    first = check_value(fields, RATING_FIELD, at_risk)
    if first.verdict in ("no_field", "read_only"):
        reason = first.reason[0].upper() + first.reason[1:]
        return RatingWrites(frozenset(), (f"{reason}: no Rating updates are proposed.",), ok=False)
    if first.ok:
        allowed.add(at_risk)
        meta = fields.field(RATING_FIELD)
        where = "picklist" if meta is not None and meta.is_picklist else "field (not a picklist)"
        notes.append(
            f"[review] at_risk_rating '{at_risk}' is a value the org's Accounts Rating {where} "
            "takes: Rating updates are proposed."
        )
    else:
        notes.append(f"[review] at_risk_rating {first.reason}: no Rating updates are proposed.")
    back = check_value(fields, RATING_FIELD, recovered)
    if back.ok:
        allowed.add(recovered)
    else:
        notes.append(
            f"The recovered Rating {back.reason}: at-risk Ratings are not set back to "
            f"'{recovered}'."
        )
    return RatingWrites(frozenset(allowed), tuple(notes), ok=first.ok and back.ok)
