"""Names for what a person reads: accounts, deals, contacts and users instead of raw Zoho ids.

:class:`RecordNames` is built from the workspace's latest account snapshots (each holds the
account's name, its deals and its contacts, see :func:`~sergas_tui.domain.changes.snapshot_of`),
plus what else is known: user names, people behind roles (``[zoho] people``), the changes the
latest review found, descriptions of memory items and where records open in Zoho's web UI. Every
screen, command and export that shows an approval or a recommendation asks it for labels, so
they all say the same thing: the name first, the id secondary (``Quarry Ridge Materials
(…7306)``), and never a bare 19-digit id. Pure: no I/O; callers read the snapshots.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import JsonValue

from sergas_tui.domain.changes import NESTED_MODULES
from sergas_tui.domain.money import DEFAULT_CURRENCY, format_money, record_currency
from sergas_tui.domain.pipeline import is_closed_stage
from sergas_tui.domain.record_links import NO_WEB, ZohoWeb
from sergas_tui.domain.records import Change, Snapshot

SHORT_ID_DIGITS = 4
"""How many trailing characters of a record id a label shows after the name."""

MODULE_WORDS: Mapping[str, str] = {
    "Accounts": "Account",
    "Deals": "Deal",
    "Contacts": "Contact",
    "Leads": "Lead",
    "Tasks": "Task",
    "Events": "Meeting",
    "Calls": "Call",
    "Notes": "Note",
}
"""How a module's record is called in a sentence."""

_NAME_FIELD = {"Accounts": "Account_Name", "Deals": "Deal_Name", "Contacts": "Full_Name"}
_WORD = re.compile(r"[^\W_]+")


def short_id(record_id: str) -> str:
    """``…7306`` for a long id (the last four characters); short ids stay whole."""
    text = str(record_id)
    return text if len(text) <= 2 * SHORT_ID_DIGITS else "…" + text[-SHORT_ID_DIGITS:]


def module_word(module: str) -> str:
    """``Deal`` for ``Deals``; unknown modules lose a trailing ``s``."""
    return MODULE_WORDS.get(module) or (module[:-1] if module.endswith("s") else module)


def _words(text: str) -> list[str]:
    """Lower-case words without accents: ``José Núñez`` → ``["jose", "nunez"]``."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return _WORD.findall(plain.casefold())


def role_words(role: str) -> str:
    """``sales manager`` for ``sales_manager``."""
    return " ".join(role.replace("_", " ").replace("-", " ").split())


@dataclass(frozen=True)
class KnownRecord:
    """One record the snapshots name: an account, or a deal or contact of one."""

    module: str
    id: str
    name: str | None
    account_id: str
    fields: Mapping[str, JsonValue]
    currency: str


@dataclass(frozen=True)
class CrmUser:
    """A CRM user as far as names go: who they are and whom they report to."""

    id: str | None
    email: str | None
    name: str | None
    manager_id: str | None = None


MANAGER_ROLES = frozenset({"sales_manager", "manager", "owner_manager"})
"""Roles an escalation may name that mean "the owner's manager" when no one is configured."""


@dataclass
class RecordNames:
    """Ids → display names (and currencies, values at stake, links) for one workspace."""

    home_currency: str = DEFAULT_CURRENCY
    web: ZohoWeb = NO_WEB
    people: Mapping[str, str] = field(default_factory=dict)
    """Role → the person behind it (``sales_manager`` → ``Dana Whitfield <dana@…>``)."""
    _records: dict[tuple[str, str], KnownRecord] = field(default_factory=dict)
    _children: dict[tuple[str, str], list[KnownRecord]] = field(
        default_factory=lambda: defaultdict(list)
    )
    _users: dict[str, CrmUser] = field(default_factory=dict)
    _changes: dict[tuple[str, str, str], Change] = field(default_factory=dict)
    _memory: dict[str, str] = field(default_factory=dict)

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def from_snapshots(
        cls,
        snapshots: Iterable[Snapshot],
        *,
        home_currency: str = DEFAULT_CURRENCY,
        web: ZohoWeb = NO_WEB,
        people: Mapping[str, str] | None = None,
    ) -> RecordNames:
        names = cls(home_currency=home_currency, web=web, people=dict(people or {}))
        for snapshot in snapshots:
            names.add_snapshot(snapshot.account_id, snapshot.data)
        return names

    def add_snapshot(self, account_id: str, data: Mapping[str, JsonValue]) -> None:
        """Learn an account, its deals and its contacts from one stored snapshot."""
        currency = record_currency(data, self.home_currency)
        self._add("Accounts", account_id, account_id, data, currency)
        for module in NESTED_MODULES:
            section = data.get(module)
            if not isinstance(section, dict):
                continue
            self._children.pop((module, account_id), None)
            for record_id, record in section.items():
                if isinstance(record, dict):
                    self._add(
                        module, record_id, account_id, record, record_currency(record, currency)
                    )

    def _add(
        self,
        module: str,
        record_id: str,
        account_id: str,
        data: Mapping[str, JsonValue],
        currency: str,
    ) -> None:
        raw = data.get(_NAME_FIELD.get(module, ""))
        name = raw.strip() if isinstance(raw, str) and raw.strip() else None
        fields = {k: v for k, v in data.items() if k not in NESTED_MODULES}
        record = KnownRecord(module, record_id, name, account_id, fields, currency)
        self._records[(module, record_id)] = record
        if module != "Accounts":
            self._children[(module, account_id)].append(record)

    def add_users(self, users: Iterable[CrmUser]) -> None:
        """Learn CRM users; their id or e-mail finds them."""
        for user in users:
            if user.email:
                self._users[user.email.casefold()] = user
            if user.id:
                self._users[user.id] = user

    def add_changes(self, account_id: str, changes: Iterable[Change]) -> None:
        """Learn the field changes a review found on an account (the newest per field wins)."""
        for change in changes:
            key = (change.module or "Accounts", change.record_id or account_id, change.field)
            known = self._changes.get(key)
            if (
                known is None
                or known.timestamp is None
                or (change.timestamp is not None and change.timestamp >= known.timestamp)
            ):
                self._changes[key] = change

    def add_memory(self, descriptions: Mapping[str, str]) -> None:
        """Learn what memory items (``memory:key_events:…``) say."""
        self._memory.update(descriptions)

    # -- records ----------------------------------------------------------------------------

    def record(self, module: str, record_id: str) -> KnownRecord | None:
        return self._records.get((module, record_id))

    def name(self, module: str, record_id: str) -> str | None:
        """The record's name, None when the snapshots do not know it."""
        known = self._records.get((module, record_id))
        return known.name if known else None

    def label(self, module: str, record_id: str) -> str:
        """``Quarry Ridge Materials (…7306)``; ``Account …7306`` when the name is unknown."""
        name = self.name(module, record_id)
        if name:
            return f"{name} ({short_id(record_id)})"
        return f"{module_word(module)} {short_id(record_id)}"

    def account(self, account_id: str) -> str:
        """The account's label (see :meth:`label`)."""
        return self.label("Accounts", account_id)

    def account_name(self, account_id: str) -> str:
        """The account's name alone; ``Account …7306`` when unknown."""
        return self.name("Accounts", account_id) or self.label("Accounts", account_id)

    def owner_of(self, account_id: str) -> str | None:
        """The account's owner as the snapshot stores it (e-mail, else user id)."""
        known = self._records.get(("Accounts", account_id))
        owner = known.fields.get("Owner") if known else None
        return owner if isinstance(owner, str) and owner else None

    def deals_of(self, account_id: str) -> list[KnownRecord]:
        return list(self._children.get(("Deals", account_id), ()))

    def contacts_of(self, account_id: str) -> list[KnownRecord]:
        return list(self._children.get(("Contacts", account_id), ()))

    def change(self, module: str, record_id: str, field_name: str) -> Change | None:
        return self._changes.get((module, record_id, field_name))

    def memory(self, ref: str) -> str | None:
        return self._memory.get(ref)

    def url(self, module: str, record_id: str) -> str | None:
        """The record's page in Zoho's web UI (None for the demo org and pageless modules)."""
        return self.web.url(module, record_id)

    # -- money ------------------------------------------------------------------------------

    def currency_of(self, module: str, record_id: str | None) -> str:
        """The record's currency (its ``Currency``, its account's, or the home currency)."""
        known = self._records.get((module, record_id)) if record_id else None
        return known.currency if known else self.home_currency

    def money(self, amount: object, module: str = "Accounts", record_id: str | None = None) -> str:
        """``USD 36,000`` in the record's currency."""
        return format_money(amount, self.currency_of(module, record_id))

    def open_deal_value(self, account_id: str) -> float:
        """The summed amounts of the account's open deals (what is at stake), 0 when none."""
        total = 0.0
        for deal in self.deals_of(account_id):
            stage = deal.fields.get("Stage")
            amount = deal.fields.get("Amount")
            if is_closed_stage(stage if isinstance(stage, str) else None):
                continue
            if isinstance(amount, int | float) and not isinstance(amount, bool):
                total += float(amount)
        return total

    def value_at_stake(self, account_id: str) -> str:
        """:meth:`open_deal_value` as money in the account's currency; ``—`` when nothing."""
        value = self.open_deal_value(account_id)
        return self.money(value, "Accounts", account_id) if value else "—"

    # -- people -----------------------------------------------------------------------------

    def _user(self, who: str) -> CrmUser | None:
        return self._users.get(who) or self._users.get(who.casefold())

    def user(self, who: str | None) -> str:
        """A CRM user (email or id) as ``Jordan Avery <jordan@…>``, or as given when unknown."""
        if not who:
            return "—"
        user = self._user(who)
        if user is None or not user.name:
            return who
        email = user.email or (who if "@" in who else None)
        return f"{user.name} <{email}>" if email else user.name

    def manager_of(self, owner: str | None) -> CrmUser | None:
        """Whom the owner (email or id) reports to in the CRM, when known."""
        user = self._user(owner) if owner else None
        manager = self._user(user.manager_id) if user and user.manager_id else None
        return manager if manager and manager.name else None

    def contact_for_address(self, address: str, account_id: str | None) -> KnownRecord | None:
        """The account's one contact whose name spells the address (``liam.murphy@…`` is Liam
        Murphy). The snapshots keep no e-mail addresses, so this is the only way to a name;
        two matching contacts, or none, give None."""
        if account_id is None or "@" not in address:
            return None
        local = _words(address.split("@", 1)[0])
        if not local:
            return None
        joined = "".join(local)
        found = [
            c
            for c in self.contacts_of(account_id)
            if c.name and (_words(c.name) == local or "".join(_words(c.name)) == joined)
        ]
        return found[0] if len(found) == 1 else None

    def recipient(self, address: str | None, account_id: str | None) -> str:
        """An e-mail recipient as ``Liam Murphy <liam.murphy@…>`` when the contact is known."""
        if not address:
            return "(recipient to confirm)"
        contact = self.contact_for_address(address, account_id)
        if contact is None:
            return self.user(address)
        return f"{contact.name} <{address}>"

    def person(self, who: str, owner: str | None = None) -> str:
        """Who an escalation goes to: a configured role's person, a user, or the role in words.

        ``sales_manager`` becomes ``Dana Whitfield <dana@…> (sales manager)`` when
        ``[zoho] people`` names her; failing that, a manager role is the owner's manager in the
        CRM (``reporting_to``) when known; else ``your sales manager (not named in [zoho]
        people)``.
        """
        text = who.strip()
        if "@" in text:
            return self.user(text)
        words = role_words(text)
        known = self.people.get(text) or self.people.get(text.casefold())
        if known:
            return f"{known} ({words})"
        manager = self.manager_of(owner) if text.casefold() in MANAGER_ROLES else None
        if manager is not None:
            return f"{self.user(manager.email or manager.id)} ({words})"
        user = self._user(text)
        if user is not None and user.name:
            return self.user(text)
        return f"your {words} (not named in [zoho] people)"
