"""CRM users and owners: resolving an owner's email to a Zoho user, with or without a users tool.

Reads and the bulk sync filter by owner email, but Zoho filters by user id, and a server may
not offer ``getUsers`` at all. :class:`Owners` keeps the one
:class:`~sergas_tui.crm.records.UserDirectory` the gateway completes records from, fills it
from the users tool when there is one, and otherwise learns owners from the accounts' ``Owner``
field until the wanted email shows up. Reads and sync share one instance so a user learnt by
one is known to the other.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import JsonValue

from sergas_tui.crm.records import UserDirectory, users_from_rows
from sergas_tui.crm.zoho_mcp.calls import ToolCaller
from sergas_tui.domain import Owner


class Owners:
    """The gateway's user directory and how it is filled from Zoho's tools."""

    def __init__(self, caller: ToolCaller, directory: UserDirectory | None = None) -> None:
        self._caller = caller
        self.catalog = caller.catalog
        self.directory = directory if directory is not None else UserDirectory()
        """Every user and owner seen so far; records are completed from it."""

    async def load(self) -> list[Owner]:
        users: list[Owner] = []
        async for rows in self._caller.pages("users", query={"type": "AllUsers"}, key="users"):
            users.extend(users_from_rows(rows))
        self.directory.replace(users)
        return users

    async def learn(self, email: str) -> None:
        """Without a users tool: collect owners from the accounts' Owner field until ``email``
        shows up (one call per 200 accounts)."""
        wanted = email.strip().casefold()
        if not self.catalog.has("get_records"):
            return
        query: dict[str, JsonValue] = {"fields": "Owner", "sort_by": "id", "sort_order": "asc"}
        async for rows in self._caller.pages(
            "get_records", path={"module": "Accounts"}, query=query
        ):
            for row in rows:
                owner = row.get("Owner")
                if isinstance(owner, Mapping) and owner.get("id") is not None:
                    found = Owner(
                        id=str(owner["id"]),
                        name=owner.get("name") if isinstance(owner.get("name"), str) else None,
                        email=owner.get("email") if isinstance(owner.get("email"), str) else None,
                    )
                    self.directory.add(found)
            if self.directory.by_email(wanted) is not None:
                return

    async def owner(self, email: str) -> Owner:
        if self.directory.by_email(email) is None:
            if self.catalog.has("users"):
                await self.load()
            else:
                await self.learn(email)
        return self.directory.require(email)


__all__ = ["Owners"]
