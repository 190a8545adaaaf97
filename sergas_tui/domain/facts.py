"""What the three subagents hand each other for one account.

The Data Scout turns a sync into :class:`AccountFacts` (records, changes since the last review,
risk signals and the seed's ScoutReport); the Memory Analyst adds a ``HistoricalContext``; the
Recommendation Author turns both into recommendations. Both engines (rules and Claude) use
these same types, so the orchestrator does not care which one runs.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from sergas_tui.domain.common import Timestamp
from sergas_tui.domain.outputs import HistoricalContext, Recommendation, ScoutReport
from sergas_tui.domain.records import (
    Account,
    Activity,
    Change,
    Contact,
    Deal,
    Note,
    RecordRef,
    RiskSignal,
)


class AccountFacts(BaseModel):
    """Everything known about one account at review time (sensitive fields already redacted)."""

    account: Account
    contacts: list[Contact] = Field(default_factory=list)
    deals: list[Deal] = Field(default_factory=list)
    """Every deal of the account; open ones carry ``stage_history`` when it was needed."""
    activities: list[Activity] = Field(default_factory=list)
    """Tasks, events and calls known for the account (directly or through its deals)."""
    notes: list[Note] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)
    """Field changes since the previous review (snapshot diff and Zoho timeline)."""
    signals: list[RiskSignal] = Field(default_factory=list)
    report: ScoutReport
    reviewed_at: Timestamp

    @property
    def account_id(self) -> str:
        return self.account.id

    def known_refs(self) -> set[str]:
        """String forms of every record reference these facts can justify."""
        refs = {str(self.account.ref())}
        refs |= {str(c.ref()) for c in self.contacts}
        refs |= {str(d.ref()) for d in self.deals}
        refs |= {str(a.ref()) for a in self.activities}
        refs |= {str(n.ref()) for n in self.notes}
        return refs

    @property
    def has_risk(self) -> bool:
        return bool(self.signals)


class AccountReview(BaseModel):
    """The outcome of one account's review: facts, memory and what to do."""

    facts: AccountFacts
    context: HistoricalContext
    recommendations: list[Recommendation] = Field(default_factory=list)
    memory_refs: list[RecordRef] = Field(default_factory=list)
    """References into memory (``memory:...``) that recommendations may cite."""
