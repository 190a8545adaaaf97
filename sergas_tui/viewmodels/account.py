"""The account detail view: one account's CRM records, review findings, memory and actions.

:func:`load_account` gathers everything the detail screen shows (CRM reads through the gateway,
the latest brief, recommendations and approvals from the workspace database, the account's
memory) and reduces it to plain dataclasses of display strings. Text from the CRM stays raw
here; the widgets escape it when they render. Each section's rows are built by
:mod:`.account_rows`, the wording helpers live in :mod:`.account_format`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from sergas_tui.domain import Deal
from sergas_tui.domain.approval import Approval
from sergas_tui.domain.money import currency_code
from sergas_tui.domain.mutes import SignalMute
from sergas_tui.domain.names import RecordNames
from sergas_tui.domain.outputs import OwnerBrief, Recommendation
from sergas_tui.domain.pipeline import is_open
from sergas_tui.domain.records import RiskSignal, Snapshot
from sergas_tui.domain.touches import account_last_touch
from sergas_tui.errors import CrmError
from sergas_tui.services import Services
from sergas_tui.viewmodels.account_format import FoldedText, fold_text, risk_label, when_text
from sergas_tui.viewmodels.account_rows import (
    ActivityRow,
    ChangeRow,
    DealRow,
    MemoryView,
    NoteView,
    RecommendationRow,
    activity_rows,
    brief_changes,
    brief_entry,
    change_rows,
    deal_rows,
    glance_fields,
    memory_view,
    note_views,
    overview_fields,
    recommendation_rows,
)
from sergas_tui.viewmodels.mutes import MutedRow, SignalChoice, account_mutes, signals_view
from sergas_tui.viewmodels.names import add_memory, demo_users, web_of

DESCRIPTION_LINES = 4
DESCRIPTION_CHARS = 400
NOT_REVIEWED = "not reviewed"


@dataclass(frozen=True)
class AccountDetail:
    """Everything the account screen shows, as display strings (CRM text unescaped)."""

    account_id: str
    name: str
    owner: str
    risk_level: str
    """``high``/``medium``/``low``/``none`` from the latest brief, or ``not reviewed``."""
    reviewed: str
    """``reviewed 2026-11-02 09:30`` or ``never reviewed``."""
    glance: list[tuple[str, str]]
    """Open pipeline, next activity and pending approvals."""
    overview: list[tuple[str, str]]
    description: FoldedText
    signals: list[str]
    deals: list[DealRow]
    activities: list[ActivityRow]
    notes: list[NoteView]
    changes: list[ChangeRow]
    memory: MemoryView
    recommendations: list[RecommendationRow]
    url: str | None = None
    """The account's page in Zoho's web UI (None for the demo org)."""
    reviewed_signals: tuple[RiskSignal, ...] = ()
    """Every signal the latest review found, muted or not (``signals`` holds the standing
    ones' messages)."""
    signal_choices: list[SignalChoice] = field(default_factory=list)
    """The standing signals, one per key: what the snooze dialog offers."""
    muted: list[MutedRow] = field(default_factory=list)
    """The account's active snoozes and dismissals."""

    @property
    def risk_text(self) -> str:
        return risk_label(self.risk_level)


# -- loading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stored:
    """What the workspace database knows about the account (read in one thread hop)."""

    brief: OwnerBrief | None
    recommendations: list[Recommendation]
    approvals: list[Approval]
    contact_names: dict[str, str]
    names: RecordNames
    mutes: list[SignalMute] = field(default_factory=list)


def _read_store(services: Services, account_id: str, owner_email: str | None) -> _Stored:
    store = services.store
    brief = store.brief_covering(owner_email, account_id) if owner_email else None
    snapshot = store.latest_snapshot(account_id)
    contacts = snapshot.data.get("Contacts") if snapshot else None
    names: dict[str, str] = {}
    if isinstance(contacts, dict):
        for cid, record in contacts.items():
            if isinstance(record, dict) and isinstance(record.get("Full_Name"), str):
                names[cid] = str(record["Full_Name"])
    return _Stored(
        brief=brief,
        recommendations=store.recommendations_for(account_id),
        approvals=store.approvals_for(account_id),
        contact_names=names,
        names=account_names(services, account_id, snapshot, brief),
        mutes=account_mutes(services, account_id),
    )


def account_names(
    services: Services, account_id: str, snapshot: Snapshot | None, brief: OwnerBrief | None
) -> RecordNames:
    """Names for one account's evidence: its snapshot, the brief's changes of it, the demo's
    users and where records open in Zoho (one snapshot read, not the whole workspace)."""
    zoho = services.settings.zoho
    names = RecordNames(
        home_currency=currency_code(zoho.home_currency), web=web_of(services), people=zoho.people
    )
    if snapshot is not None:
        names.add_snapshot(account_id, snapshot.data)
    names.add_users(demo_users(services))
    names.add_changes(account_id, brief_changes(brief, account_id))
    return names


async def _with_history(services: Services, deals: list[Deal]) -> list[Deal]:
    """Open deals get their stage history (one call each) for an exact time in stage.

    A failed history read is not worth failing the screen for: the deal keeps its bounds.
    """
    crm = await services.crm()

    async def one(deal: Deal) -> Deal:
        if not is_open(deal) or deal.stage_history:
            return deal
        try:
            history = await crm.get_stage_history(deal.id)
        except CrmError:
            return deal
        return deal.model_copy(update={"stage_history": history})

    return list(await asyncio.gather(*(one(d) for d in deals)))


def with_mutes(services: Services, detail: AccountDetail) -> AccountDetail:
    """``detail`` with its signals split by the account's mutes as stored now (blocking: a
    thread). What the screen re-reads after a snooze, a dismissal or an unmute."""
    store = services.store
    owner = services.current_user_email()
    account_id = detail.account_id
    brief = store.brief_covering(owner, account_id) if owner else None
    names = account_names(services, account_id, store.latest_snapshot(account_id), brief)
    view = signals_view(
        detail.reviewed_signals,
        account_mutes(services, account_id),
        account_id,
        names,
        services.clock.now(),
    )
    return replace(detail, signals=view.active, signal_choices=view.choices, muted=view.muted)


def current_recommendations(services: Services, account_id: str) -> list[RecommendationRow]:
    """This account's recommendations and their statuses as stored now (blocking: a thread).

    What the screen re-reads when it is shown again: decisions made in the approvals queue
    meanwhile appear without a CRM round trip.
    """
    store = services.store
    owner = services.current_user_email()
    brief = store.brief_covering(owner, account_id) if owner else None
    names = account_names(services, account_id, store.latest_snapshot(account_id), brief)
    return recommendation_rows(
        store.recommendations_for(account_id), store.approvals_for(account_id), names
    )


async def load_account(services: Services, account_id: str) -> AccountDetail:
    """Read and reduce everything the account screen shows.

    Raises :class:`CrmError` ("Account not found") when the CRM has no such account.
    """
    crm = await services.crm()
    account = await crm.get_account_details(account_id)
    if account is None:
        raise CrmError(
            f"The CRM has no account with id {account_id}. It may have been deleted or merged.",
            title="Account not found",
        )
    now = services.clock.now()
    owner_email = services.current_user_email()
    deals, activities, notes, stored, context = await asyncio.gather(
        crm.get_deals(account_id),
        crm.get_activities(account_id),
        crm.get_notes(account_id),
        asyncio.to_thread(_read_store, services, account_id, owner_email),
        services.memory().context(account_id, now=now),
    )
    deals = await _with_history(services, deals)
    await add_memory(services, stored.names, [account_id])
    recommendations = recommendation_rows(stored.recommendations, stored.approvals, stored.names)
    entry = brief_entry(stored.brief, account_id)
    reviewed = "never reviewed"
    if stored.brief is not None and entry is not None:
        reviewed = f"reviewed {when_text(stored.brief.generated_at)}"
    owner = (account.owner.name or account.owner.email or account.owner.id) if account.owner else ""
    reviewed_signals = tuple(entry.signals) if entry else ()
    signals = signals_view(reviewed_signals, stored.mutes, account_id, stored.names, now)
    return AccountDetail(
        account_id=account.id,
        name=account.name or "(no name)",
        owner=owner,
        risk_level=entry.risk_level if entry else NOT_REVIEWED,
        reviewed=reviewed,
        glance=glance_fields(deals, activities, recommendations, now),
        overview=overview_fields(account, now, account_last_touch(account, deals, activities, now)),
        description=fold_text(
            account.description, lines=DESCRIPTION_LINES, chars=DESCRIPTION_CHARS
        ),
        signals=signals.active,
        deals=deal_rows(deals, now),
        activities=activity_rows(activities, now),
        notes=note_views(notes),
        changes=change_rows(
            brief_changes(stored.brief, account_id) if entry else [], deals, stored.contact_names
        ),
        memory=memory_view(context),
        recommendations=recommendations,
        url=stored.names.url("Accounts", account.id),
        reviewed_signals=reviewed_signals,
        signal_choices=signals.choices,
        muted=signals.muted,
    )
