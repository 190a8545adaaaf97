"""Build the workspace's :class:`~sergas_tui.domain.names.RecordNames` (ids → names).

One place reads what names come from, for the approvals queue, ``sergas approvals``, the brief
export and the audit view: the latest account snapshots (accounts, deals, contacts), the demo
org's users, the owners' latest briefs (the changes their review found), ``[zoho] people``,
``home_currency`` and where records open in Zoho's web UI. :func:`load_names` does blocking
SQLite reads (a thread, or a command); :func:`add_memory` asks the memory what cited memory
items say (async, one recall per account).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from pydantic import JsonValue

from sergas_tui.domain.evidence import memory_descriptions
from sergas_tui.domain.money import currency_code
from sergas_tui.domain.names import CrmUser, RecordNames
from sergas_tui.domain.outputs import OwnerBrief
from sergas_tui.domain.record_links import ZohoWeb, zoho_web
from sergas_tui.domain.records import RecordRef
from sergas_tui.logs import get_logger
from sergas_tui.services import Services

log = get_logger("sergas.viewmodels")


def web_of(services: Services) -> ZohoWeb:
    """Where records open in a browser: none for the demo org."""
    zoho = services.settings.zoho
    return zoho_web(
        zoho.data_centre, org_id=zoho.org_id, web_url=zoho.web_url, demo=services.is_demo
    )


def _text(value: JsonValue) -> str | None:
    return value if isinstance(value, str) and value else None


def _lookup_id(value: JsonValue) -> str | None:
    return _text(value.get("id")) if isinstance(value, dict) else None


def demo_users(services: Services) -> list[CrmUser]:
    """The demo org's users (names and managers); none for a real CRM."""
    if services.demo is None:
        return []
    return [
        CrmUser(
            id=_text(user.get("id")),
            email=_text(user.get("email")),
            name=_text(user.get("full_name")),
            manager_id=_lookup_id(user.get("reporting_to")),
        )
        for user in services.demo.users()
    ]


def load_names(services: Services, owners: Iterable[str | None] = ()) -> RecordNames:
    """Names of every account in the workspace, with the changes of ``owners``' latest briefs
    (blocking SQLite reads: call from a thread or a command)."""
    zoho = services.settings.zoho
    store = services.store
    names = RecordNames.from_snapshots(
        store.latest_snapshots().values(),
        home_currency=currency_code(zoho.home_currency),
        web=web_of(services),
        people=zoho.people,
    )
    names.add_users(demo_users(services))
    for owner in dict.fromkeys(o for o in owners if o):
        brief = store.latest_brief(owner)
        for group in (brief.changes or []) if brief else []:
            names.add_changes(group.account_id, group.changes)
    return names


MEMORY_CONCURRENCY = 8
"""Recalls in flight at once (a remote memory answers each over the network)."""


async def add_memory(services: Services, names: RecordNames, account_ids: Iterable[str]) -> None:
    """Teach ``names`` what the accounts' remembered items say (one recall per account, a few
    at a time).

    Memory only adds words to evidence, so a memory that fails is logged and left out: the
    references then read as "Key event from memory (…)".
    """
    wanted = list(dict.fromkeys(account_ids))
    if not wanted:
        return
    try:
        memory = services.memory()
    except Exception as err:  # no memory backend at all: the evidence just stays generic
        log.warning("memory_unavailable_for_evidence", error=str(err))
        return
    now = services.clock.now()
    gate = asyncio.Semaphore(MEMORY_CONCURRENCY)

    async def one(account_id: str) -> None:
        async with gate:
            try:
                found = await memory.recall(account_id, now=now)
            except Exception as err:  # any backend error: the evidence just stays generic
                log.warning("memory_recall_failed", account_id=account_id, error=str(err))
                return
        refs: list[RecordRef] = list(found.refs)
        names.add_memory(memory_descriptions(found.context, refs))

    await asyncio.gather(*(one(a) for a in wanted))


def no_web_page(services: Services) -> str:
    """Why a record cannot be opened in Zoho's web UI (the ``o`` key's answer)."""
    if services.is_demo:
        return "This is the demo CRM: its records have no page in Zoho's web UI."
    return "This record has no page in Zoho's web UI."


def brief_account_ids(brief: OwnerBrief) -> list[str]:
    """The accounts a brief's recommendations are about (whose memory items they cite)."""
    return list(dict.fromkeys(r.account_id for r in brief.recommendations if r.account_id))


async def names_for_brief(services: Services, brief: OwnerBrief) -> RecordNames:
    """The names a brief export needs: the workspace's, the owner's changes and what the cited
    memory items say."""
    names = await asyncio.to_thread(load_names, services, [brief.owner_email])
    await add_memory(services, names, brief_account_ids(brief))
    return names
