"""Evidence for the rules author: which references resolve, and how fresh their records are.

A reference counts only when its record (``zoho:Deals:1`` for ``zoho:Deals:1#Stage``) is among
the account's facts; memory references count only when the Memory Analyst supplied them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sergas_tui.domain import AccountFacts, Deal, RecordRef

MAX_MEMORY_REFS = 5
"""At most this many memory references are cited by one recommendation."""


class Evidence:
    """Resolves evidence references against the facts and dates the records they name."""

    def __init__(self, facts: AccountFacts, memory_refs: Sequence[RecordRef]) -> None:
        self.facts = facts
        self.known = facts.known_refs()
        # A memory reference to a CRM record still has to be one of this account's records.
        usable = (r for r in memory_refs if r.system != "zoho" or str(r.record()) in self.known)
        self.memory = list(dict.fromkeys(str(r) for r in usable))[:MAX_MEMORY_REFS]
        self.deals = {d.id: d for d in facts.deals}

    def resolve(self, refs: Sequence[RecordRef | str]) -> list[str]:
        """The references whose record is among the facts, as strings, in order."""
        out: list[str] = []
        for raw in refs:
            try:
                ref = raw if isinstance(raw, RecordRef) else RecordRef.parse(raw)
            except ValueError:
                continue
            text = str(ref)
            if ref.system == "zoho" and str(ref.record()) in self.known and text not in out:
                out.append(text)
        return out

    def deal_of(self, refs: Sequence[str]) -> Deal | None:
        for text in refs:
            ref = RecordRef.parse(text)
            if ref.module == "Deals" and ref.id in self.deals:
                return self.deals[ref.id]
        return None

    def newest(self, refs: Sequence[str]) -> datetime | None:
        """The latest moment any of the referenced records (or fields) changed."""
        times = [t for t in (self._time(RecordRef.parse(r)) for r in refs) if t is not None]
        return max(times, default=None)

    def _time(self, ref: RecordRef) -> datetime | None:
        facts = self.facts
        changed = [
            c.timestamp
            for c in facts.changes
            if c.timestamp is not None
            and (c.module or "Accounts") == ref.module
            and (c.record_id or facts.account.id) == ref.id
            and (ref.field is None or c.field == ref.field)
        ]
        if changed:
            return max(changed)
        if ref.module == "Deals" and (deal := self.deals.get(ref.id)) is not None:
            moves = [m.changed_at for m in deal.stage_history if m.changed_at is not None]
            if ref.field == "Stage" and moves:
                return max(moves)
            return deal.modified_time or deal.last_activity_time
        if ref.module == "Accounts":
            return facts.account.modified_time
        for note in facts.notes:
            if ref.module == "Notes" and note.id == ref.id:
                return note.modified_time or note.created_time
        for contact in facts.contacts:
            if ref.module == "Contacts" and contact.id == ref.id:
                return contact.modified_time or contact.last_activity_time
        for act in facts.activities:
            if str(act.ref()) == str(ref.record()):
                return act.when or act.created_time
        return None
