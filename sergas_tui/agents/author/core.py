"""The rules Recommendation Author: deterministic recommendations from signals and history.

:class:`RuleAuthor` turns one account's :class:`~sergas_tui.domain.AccountFacts` (risk
signals with evidence), the Memory Analyst's :class:`~sergas_tui.domain.HistoricalContext`
and earlier recommendations (:class:`PriorRec`) into recommendations. It is pure given its
inputs and the clock. The rules (:mod:`.rules`) look only at signal keys, severities
and structured fields; note text appears only as quoted, sanitized evidence in a rationale or
an internal note, so an instruction written in the CRM never changes what is proposed.

No evidence, no recommendation: a signal is used only when at least one of its evidence
references points at a record in the facts, and every recommendation cites those references
(plus the account, plus memory references when memory context shaped it). References that do
not resolve are dropped.

Why one module: :class:`RuleAuthor`'s steps (grouping signals, choosing priority and
confidence, drafting the action) share one authoring pass's state for one account; the rules,
the texts, the evidence, the prior recommendations and the problems are already modules of
their own in this package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sergas_tui.agents.author.evidence import Evidence
from sergas_tui.agents.author.prior import PriorRec
from sergas_tui.agents.author.problems import fold_problems
from sergas_tui.agents.author.rules import (
    DUE_BUSINESS_DAYS,
    ESCALATION,
    RULES,
    SEVERITY_PRIORITY,
    SEVERITY_RANK,
    SILENCE_KEYS,
    TURNED_KEYS,
    TYPE_ORDER,
    UPDATE_RATING,
    ZOHO_TASK_PRIORITY,
    AuthorPolicy,
    Proposal,
    add_business_days,
    closing_soon,
    escalation_reasons,
    is_open,
    recommendation_id,
    renewal_within,
    shift_priority,
)
from sergas_tui.agents.author.text import (
    best_contact,
    memory_sentence,
    rationale,
    template_context,
)
from sergas_tui.agents.drafting import TemplateSet, clean
from sergas_tui.clock import Clock
from sergas_tui.domain import (
    AccountFacts,
    AddNoteAction,
    Approval,
    Contact,
    CreateTaskAction,
    Deal,
    EscalationAction,
    FieldChange,
    FollowUpEmailAction,
    HistoricalContext,
    Recommendation,
    RecordRef,
    RiskSignal,
    UpdateAccountAction,
)
from sergas_tui.domain.common import Confidence, Priority, RecommendationType
from sergas_tui.domain.money import format_money
from sergas_tui.domain.outputs import SuggestedAction

__all__ = ["AuthorPolicy", "PriorRec", "RuleAuthor"]

_RULE_ORDER = {key: i for i, key in enumerate(RULES)}


@dataclass
class _Group:
    """Everything proposed for one (type, target): the signals behind it and their evidence."""

    type: RecommendationType
    target: str
    primary: Proposal
    signals: list[RiskSignal] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, signal: RiskSignal, refs: Sequence[str], deal: Deal | None) -> None:
        if signal not in self.signals:
            self.signals.append(signal)
        self.refs += [r for r in refs if r not in self.refs]
        if deal is not None and deal not in self.deals:
            self.deals.append(deal)


class RuleAuthor:
    """The offline Recommendation Author (no LLM): a rule table plus Jinja2 drafts."""

    def __init__(
        self, templates: TemplateSet, clock: Clock, *, policy: AuthorPolicy | None = None
    ) -> None:
        self.templates = templates
        self.clock = clock
        self.policy = policy or AuthorPolicy()

    def author(
        self,
        facts: AccountFacts,
        context: HistoricalContext,
        *,
        memory_refs: Sequence[RecordRef] = (),
        prior: Sequence[PriorRec | Approval] = (),
    ) -> list[Recommendation]:
        """Recommendations for one account, one per problem, most urgent first; none without
        evidence (the rule table's :meth:`proposals`, folded by :mod:`.problems`)."""
        now = self.clock.now()
        priors = [p if isinstance(p, PriorRec) else PriorRec.from_approval(p, now) for p in prior]
        recs = self.proposals(
            facts, context, memory_refs=memory_refs, prior=priors, skip_held=False
        )
        # One open item per problem: a problem with a pending (or recently carried out, or
        # decided today) recommendation gets no other, whole — what rode with it then does not
        # come back on its own; and the account's cap counts open ones.
        today = now.date()
        holding = [p for p in priors if p.blocks(now, self.policy) or p.created_at.date() == today]
        held = {p.target for p in holding if p.target}
        unknown = {p.type for p in holding if not p.target}  # target unknown: hold the type
        already_open = sum(1 for p in priors if p.status == "pending")
        folded = fold_problems(recs, already_open=already_open, held=held)
        return [r for r in folded if r.type not in unknown]

    def proposals(
        self,
        facts: AccountFacts,
        context: HistoricalContext,
        *,
        memory_refs: Sequence[RecordRef] = (),
        prior: Sequence[PriorRec | Approval] = (),
        skip_held: bool = True,
    ) -> list[Recommendation]:
        """What the rule table proposes for one account, before folding: one recommendation
        per (type, target), most urgent first; none without evidence. With ``skip_held``, none
        that an earlier recommendation holds (pending, done recently, or made today)."""
        now = self.clock.now()
        priors = [p if isinstance(p, PriorRec) else PriorRec.from_approval(p, now) for p in prior]
        evidence = Evidence(facts, memory_refs)
        recs: list[Recommendation] = []
        for group in self._groups(facts, evidence, now.date()):
            rec = self._recommend(facts, context, evidence, group, priors, now, skip_held)
            if rec is not None:
                recs.append(rec)
        restored = self._rating_restored(facts, priors, now)
        if restored is not None:
            recs.append(restored)
        rank = {p: i for i, p in enumerate(("critical", "high", "medium", "low"))}
        recs.sort(key=lambda r: (rank[r.priority], TYPE_ORDER.index(r.type), r.data_references))
        return recs

    # -- choosing what to propose ----------------------------------------------------------

    def _groups(self, facts: AccountFacts, evidence: Evidence, today: date) -> list[_Group]:
        account = str(facts.account.ref())
        signals = sorted(
            (s for s in facts.signals if s.key in RULES),
            key=lambda s: (-SEVERITY_RANK[s.severity], _RULE_ORDER[s.key], s.message),
        )
        groups: dict[tuple[str, str], _Group] = {}
        found: list[tuple[RiskSignal, Deal | None]] = []
        for signal in signals:
            refs = evidence.resolve(signal.evidence)
            if not refs:
                continue  # no evidence, no recommendation
            deal = evidence.deal_of(refs)
            found.append((signal, deal))
            for proposal in RULES[signal.key].proposals:
                target = str(deal.ref()) if proposal.scope == "deal" and deal else account
                key = (proposal.type, target)
                group = groups.setdefault(key, _Group(proposal.type, target, proposal))
                group.add(signal, refs, deal)
        combos = escalation_reasons(found, facts.deals, today, self.policy)
        if combos:
            escalation = _Group("escalation", account, ESCALATION)
            for reason, involved in combos:
                escalation.reasons.append(reason)
                for signal in involved:
                    refs = evidence.resolve(signal.evidence)
                    escalation.add(signal, refs, evidence.deal_of(refs))
            groups[("escalation", account)] = escalation
            rating = self._rating_group(facts, escalation)
            if rating is not None:
                groups[("update_account", account)] = rating
        else:
            strong = [(s, d) for s, d in found if SEVERITY_RANK[s.severity] >= 2]
            if strong:  # a high-risk account: its Rating should say so
                at_risk = _Group("update_account", account, UPDATE_RATING)
                for signal, deal in strong:
                    at_risk.add(signal, evidence.resolve(signal.evidence), deal)
                rating = self._rating_group(facts, at_risk)
                if rating is not None:
                    groups[("update_account", account)] = rating
        return self._readdress(facts, groups)

    def _rating_group(self, facts: AccountFacts, basis: _Group) -> _Group | None:
        """Rating → :attr:`AuthorPolicy.at_risk_rating` for an account with an escalation or
        a high-risk signal, when that value is configured, the org's Rating picklist has it
        (:meth:`AuthorPolicy.may_write_rating`) and the current one may be replaced."""
        policy = self.policy
        current = facts.account.rating
        if policy.at_risk_rating is None or current == policy.at_risk_rating:
            return None
        if not policy.may_write_rating(policy.at_risk_rating):
            return None
        if current not in policy.replaceable_ratings:
            return None
        group = _Group("update_account", basis.target, UPDATE_RATING)
        group.reasons = list(basis.reasons)
        for signal in basis.signals:
            group.add(signal, [], None)
        group.refs = [f"{basis.target}#Rating", *basis.refs]
        group.deals = list(basis.deals)
        return group

    def _rating_restored(
        self, facts: AccountFacts, priors: Sequence[PriorRec], now: datetime
    ) -> Recommendation | None:
        """Rating back from :attr:`AuthorPolicy.at_risk_rating` to
        :attr:`AuthorPolicy.recovered_rating` once no risk signal is left on the account (and
        the org's Rating picklist has the recovered value)."""
        policy = self.policy
        current = facts.account.rating
        if policy.at_risk_rating is None or current != policy.at_risk_rating or facts.signals:
            return None
        if not policy.may_write_rating(policy.recovered_rating):
            return None
        target = str(facts.account.ref())
        rec_id = recommendation_id(facts.account_id, "update_account", target, now.date())
        for p in priors:
            if p.recommendation_id == rec_id or (
                p.matches("update_account", target) and p.blocks(now, policy)
            ):
                return None
        change = FieldChange(field="Rating", old=current, new=policy.recovered_rating)
        return Recommendation(
            id=rec_id,
            account_id=facts.account_id,
            type="update_account",
            priority="low",
            confidence="medium",
            rationale=(
                f"No risk signal is left on {clean(facts.account.name)}, but its Rating still "
                f"says '{clean(current)}'. Set it back to '{clean(policy.recovered_rating)}' so "
                "the CRM tells the truth."
            ),
            suggested_action=UpdateAccountAction(field_changes=[change]),
            data_references=[f"{target}#Rating", target],
            created_at=now,
        )

    def _readdress(
        self, facts: AccountFacts, groups: dict[tuple[str, str], _Group]
    ) -> list[_Group]:
        """An email nobody can receive becomes (part of) the account task to find a contact."""
        out: dict[tuple[str, str], _Group] = {}
        for key, group in groups.items():
            if group.type == "follow_up_email" and self._recipient(facts, group) is None:
                task_key = ("create_task", group.target)
                task = groups.get(task_key) or out.get(task_key)
                if task is None:
                    task = _Group(
                        "create_task", group.target, Proposal("create_task", "find_contact")
                    )
                    out[task_key] = task
                for signal in group.signals:
                    task.add(signal, group.refs, None)
                task.deals += [d for d in group.deals if d not in task.deals]
                continue
            out.setdefault(key, group)
        return list(out.values())

    def _recipient(self, facts: AccountFacts, group: _Group) -> Contact | None:
        return best_contact(facts, group.primary.flavour, group.refs, group.deals, email=True)

    # -- building one recommendation ---------------------------------------------------------

    def _recommend(
        self,
        facts: AccountFacts,
        context: HistoricalContext,
        evidence: Evidence,
        group: _Group,
        priors: Sequence[PriorRec],
        now: datetime,
        skip_held: bool = True,
    ) -> Recommendation | None:
        policy = self.policy
        rec_id = recommendation_id(facts.account_id, group.type, group.target, now.date())
        for p in priors if skip_held else ():
            if p.recommendation_id == rec_id or (
                p.matches(group.type, group.target) and p.blocks(now, policy)
            ):
                return None  # already proposed, pending, or done recently
        notes: list[str] = []
        priority = self._priority(facts, group, now.date(), notes)
        rejected = sum(
            1 for p in priors if p.type == group.type and p.recently_rejected(now, policy)
        )
        if rejected >= policy.rejection_threshold:
            lowered = shift_priority(priority, -1)
            notes.append(
                f"Priority lowered from {priority} to {lowered}: the owner rejected {rejected} "
                f"{group.type.replace('_', ' ')} recommendations for this account in the last "
                f"{policy.rejection_window_days} days."
            )
            priority = lowered
        history = memory_sentence(context) if self._uses_memory(group) else ""
        confidence = self._confidence(facts, context, evidence, group, now, notes)
        # An account-level proposal names (and cites) the open deals at stake.
        shown = group.deals or [d for d in facts.deals if is_open(d)]
        refs = [group.target, *group.refs, str(facts.account.ref())]
        refs += [str(d.ref()) for d in shown]
        if history:
            refs += evidence.memory
        refs = list(dict.fromkeys(refs))
        last = max(
            (p for p in priors if p.type == group.type and p.outcome),
            key=lambda p: p.created_at,
            default=None,
        )
        if last is not None:
            notes.append(f"Last {group.type.replace('_', ' ')} outcome: {clean(last.outcome)}.")
        action = self._action(facts, context, group, priority, now.date())
        return Recommendation(
            id=rec_id,
            account_id=facts.account_id,
            type=group.type,
            priority=priority,
            confidence=confidence,
            rationale=rationale(
                facts,
                group.signals,
                shown,
                group.refs,
                history,
                group.reasons,
                notes,
                now,
                policy.currency,
            ),
            suggested_action=action,
            data_references=refs,
            created_at=now,
            signals=list(dict.fromkeys(s.key for s in group.signals)),
        )

    def _uses_memory(self, group: _Group) -> bool:
        return group.type in ("escalation", "update_account") or any(
            RULES[s.key].uses_memory for s in group.signals
        )

    def _priority(
        self, facts: AccountFacts, group: _Group, today: date, notes: list[str]
    ) -> Priority:
        """Severity of the strongest signal, one step up when at least
        :attr:`AuthorPolicy.large_deal_amount` is at stake in open deals or a renewal closes
        within :attr:`AuthorPolicy.renewal_soon_days` (one step at most), then the proposal's
        own shift (notes sit one step lower); an escalation is at least ``high``.

        ``critical`` is kept for a concrete near-term loss (:func:`near_term_loss`): anything
        else stops at ``high``, so critical stays rare enough to mean "today"."""
        policy = self.policy
        severity = max(group.signals, key=lambda s: SEVERITY_RANK[s.severity]).severity
        priority = SEVERITY_PRIORITY[severity]
        open_deals = [d for d in (group.deals or facts.deals) if is_open(d)]
        at_stake = sum(d.amount or 0 for d in open_deals)
        renewal = renewal_within(facts.deals, today, policy.renewal_soon_days)
        if at_stake >= policy.large_deal_amount:
            worth = format_money(at_stake, policy.currency)
            notes.append(f"Priority raised: {worth} at stake in open deals.")
            priority = shift_priority(priority, 1)
        elif renewal is not None and renewal.closing_date is not None:
            days = (renewal.closing_date - today).days
            notes.append(f"Priority raised: the renewal closes in {days} days.")
            priority = shift_priority(priority, 1)
        floor: Priority = "high" if group.type == "escalation" else "low"
        priority = shift_priority(priority, group.primary.shift, floor=floor)
        loss = self._near_term_loss(facts, group, today)
        if loss is None or group.type == "add_note":
            return "high" if priority == "critical" else priority
        deal, days = loss
        amount = f" ({format_money(deal.amount, self.policy.currency)})" if deal.amount else ""
        notes.append(
            f"Critical: '{clean(deal.name)}'{amount} closes in {days} days and this puts it "
            "at risk."
        )
        return "critical"

    def _near_term_loss(
        self, facts: AccountFacts, group: _Group, today: date
    ) -> tuple[Deal, int] | None:
        """The open deal this problem is about (the account's, for an account problem) that
        closes within :attr:`AuthorPolicy.near_term_days` while the problem is a long silence
        (``no_activity_critical``) or a turned sponsor or sentiment (:data:`TURNED_KEYS`), or
        within half that while the account has gone quiet (``no_activity_warning``); None
        when there is no such deal."""
        keys = {s.key for s in group.signals}
        days = 0
        if keys & TURNED_KEYS or "no_activity_critical" in keys:
            days = self.policy.near_term_days
        elif keys & SILENCE_KEYS:
            days = self.policy.near_term_days // 2
        if days <= 0:
            return None
        deal = closing_soon(group.deals or facts.deals, today, days)
        if deal is None or deal.closing_date is None:
            return None
        return deal, (deal.closing_date - today).days

    def _confidence(
        self,
        facts: AccountFacts,
        context: HistoricalContext,
        evidence: Evidence,
        group: _Group,
        now: datetime,
        notes: list[str],
    ) -> Confidence:
        """Points: signal strength (info 0, warning 1, high/critical 2), +1 for corroborating
        signals, +1 for a sync under a day old (-1 over a week), for event signals +1 when the
        newest evidence record changed within 30 days (-1 beyond 90), -1 for stale memory.
        3+ is high, 1-2 medium, less is low."""
        policy = self.policy
        points = min(2, max(SEVERITY_RANK[s.severity] for s in group.signals))
        if len({s.key for s in group.signals}) >= 2:
            points += 1
        sync_age = now - facts.reviewed_at
        if sync_age <= timedelta(hours=policy.fresh_sync_hours):
            points += 1
        elif sync_age > timedelta(days=policy.stale_sync_days):
            points -= 1
            notes.append(f"The CRM data is {sync_age.days} days old.")
        events = [s for s in group.signals if RULES[s.key].kind == "event"]
        if events:
            newest = evidence.newest(evidence.resolve([r for s in events for r in s.evidence]))
            if newest is not None:
                age = (now - newest).days
                if age <= policy.fresh_evidence_days:
                    points += 1
                elif age > policy.old_evidence_days:
                    points -= 1
                    notes.append(f"The newest evidence is {age} days old.")
        if context.memory_stale:
            points -= 1
            notes.append("Memory is stale, so confidence is lower.")
        return "high" if points >= 3 else "medium" if points >= 1 else "low"

    def _action(
        self,
        facts: AccountFacts,
        context: HistoricalContext,
        group: _Group,
        priority: Priority,
        today: date,
    ) -> SuggestedAction:
        if group.type == "update_account":
            change = FieldChange(
                field="Rating", old=facts.account.rating, new=self.policy.at_risk_rating
            )
            return UpdateAccountAction(field_changes=[change])
        email = group.type == "follow_up_email"
        contact = best_contact(facts, group.primary.flavour, group.refs, group.deals, email=email)
        due = add_business_days(today, DUE_BUSINESS_DAYS[priority])
        ctx = template_context(
            facts,
            context,
            group.signals,
            contact=contact,
            deal=group.deals[0] if group.deals else None,
            refs=group.refs,
            reasons=group.reasons,
            next_steps=group.primary.next_steps,
            priority=priority,
            due=due,
            today=today,
            currency=self.policy.currency,
        )
        draft = self.templates.render(group.primary.template, ctx)
        if group.type == "follow_up_email":
            return FollowUpEmailAction(
                subject=draft.headline,
                draft_body=draft.body,
                next_steps=list(group.primary.next_steps),
                recipient=contact.email if contact else None,
            )
        if group.type == "create_task":
            return CreateTaskAction(
                subject=draft.headline,
                due_date=due,
                priority=ZOHO_TASK_PRIORITY[priority],
                description=draft.body,
            )
        if group.type == "add_note":
            return AddNoteAction(title=draft.headline, content=draft.body)
        return EscalationAction(escalate_to=self.policy.escalate_to, reason=draft.body)
