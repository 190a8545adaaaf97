"""Approval links and sent notices in the team's central PostgreSQL (central schema v4).

``approval_links``: one row per link a digest sent, keyed by the SHA-256 of its token (the
token itself is only ever in the message). A link is bound to one approval and its owner and
expires with the approval; it is spent by one compare-and-set UPDATE (``used_at IS NULL AND
expires_at > now``), which also records the decision taken, the client's address and user
agent. ``team_notices``: an escalation or expiry notice is claimed by inserting its row (the
primary key makes it once per approval, kind and recipient) before it is sent, and the claim is
withdrawn when no channel could deliver it.

"now" is the caller's clock (the services' clock, the one approvals expire by), not the
database's. The stores are synchronous, a connection per call; callers on an event loop run
them in a thread.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg

from sergas_tui.audit.central.store import CentralTableStore
from sergas_tui.domain.approval import Decision

LINKS_VERSION = 4
"""The central schema version that created ``approval_links`` and ``team_notices``."""

TOKEN_BYTES = 32
"""Random bytes per link token (``secrets.token_urlsafe``: 43 characters)."""
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{40,64}")
"""What a presented token must look like before it is looked up."""
AGENT_MAX = 512
"""The longest user agent kept with a used link (and in the audit row)."""

NoticeKind = Literal["escalation", "expiry"]

_LINK_COLUMNS = (
    "token_hash, approval_id, owner_email, expires_at, created_at, used_at, used_action, "
    "used_ip, used_agent"
)


def new_token() -> str:
    """A fresh link token (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    return TOKEN_SHAPE.fullmatch(token) is not None


def link_id(hashed: str) -> str:
    """A link's name in logs and audit rows: the start of its hash (never the token)."""
    return hashed[:12]


@dataclass(frozen=True)
class Link:
    """One row of ``approval_links``."""

    token_hash: str
    approval_id: str
    owner_email: str
    expires_at: datetime
    created_at: datetime
    used_at: datetime | None = None
    used_action: str | None = None
    used_ip: str | None = None
    used_agent: str | None = None

    @property
    def id(self) -> str:
        return link_id(self.token_hash)

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class NewLink:
    """A link to issue: the approval it decides, for whom, until when."""

    approval_id: str
    owner_email: str
    expires_at: datetime


def _link(row: Sequence[Any]) -> Link:
    return Link(*row)


class LinkStore(CentralTableStore):
    """``approval_links``: issue, read and spend single-use approval links."""

    needs = LINKS_VERSION
    what = "approval links"

    def issue(self, links: Iterable[NewLink]) -> list[str]:
        """Store a fresh link for each item (hashed) and return their tokens, in order."""
        wanted = list(links)
        tokens = [new_token() for _ in wanted]
        values = [
            (token_hash(t), n.approval_id, n.owner_email.lower(), n.expires_at)
            for t, n in zip(tokens, wanted, strict=True)
        ]
        if not values:
            return []
        action = "store approval links"
        conn = self._connect(action)
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO approval_links (token_hash, approval_id, owner_email, "
                    "expires_at) VALUES (%s, %s, %s, %s)",
                    values,
                )
        except psycopg.Error as err:
            raise self._convert(err, action) from err
        finally:
            conn.close()
        return tokens

    def find(self, hashed: str) -> Link | None:
        action = "read an approval link"
        conn = self._connect(action)
        try:
            row = conn.execute(
                f"SELECT {_LINK_COLUMNS} FROM approval_links WHERE token_hash = %s", (hashed,)
            ).fetchone()
        except psycopg.Error as err:
            raise self._convert(err, action) from err
        finally:
            conn.close()
        return None if row is None else _link(row)

    def spend(
        self, hashed: str, *, action: Decision, now: datetime, ip: str | None, agent: str | None
    ) -> Link | None:
        """Use the link once: None when it is unknown, used or expired (nothing changed)."""
        what = "use an approval link"
        conn = self._connect(what)
        try:
            row = conn.execute(
                "UPDATE approval_links SET used_at = %s, used_action = %s, used_ip = %s, "
                "used_agent = %s WHERE token_hash = %s AND used_at IS NULL AND expires_at > %s "
                f"RETURNING {_LINK_COLUMNS}",
                (now, action, ip, (agent or "")[:AGENT_MAX] or None, hashed, now),
            ).fetchone()
        except psycopg.Error as err:
            raise self._convert(err, what) from err
        finally:
            conn.close()
        return None if row is None else _link(row)

    def release(self, link: Link) -> bool:
        """Make a link spent by ``link`` usable again (its decision could not be recorded)."""
        what = "release an approval link"
        conn = self._connect(what)
        try:
            cursor = conn.execute(
                "UPDATE approval_links SET used_at = NULL, used_action = NULL, used_ip = NULL, "
                "used_agent = NULL WHERE token_hash = %s AND used_at = %s",
                (link.token_hash, link.used_at),
            )
        except psycopg.Error as err:
            raise self._convert(err, what) from err
        finally:
            conn.close()
        return cursor.rowcount == 1


class NoticeStore(CentralTableStore):
    """``team_notices``: each escalation and expiry notice once per approval and recipient."""

    needs = LINKS_VERSION
    what = "team notices"

    def claim(self, kind: NoticeKind, recipient: str, approval_ids: Iterable[str]) -> list[str]:
        """Claim the notices not sent yet; returns the approval ids claimed now."""
        ids = list(dict.fromkeys(approval_ids))
        if not ids:
            return []
        what = "record notices"
        conn = self._connect(what)
        try:
            rows = conn.execute(
                "INSERT INTO team_notices (approval_id, kind, recipient) "
                "SELECT unnest(%s::text[]), %s, %s "
                "ON CONFLICT DO NOTHING RETURNING approval_id",
                (ids, kind, recipient.lower()),
            ).fetchall()
        except psycopg.Error as err:
            raise self._convert(err, what) from err
        finally:
            conn.close()
        claimed = {str(r[0]) for r in rows}
        return [i for i in ids if i in claimed]

    def withdraw(self, kind: NoticeKind, recipient: str, approval_ids: Iterable[str]) -> None:
        """Withdraw claims whose notice could not be delivered (the next run sends them)."""
        ids = list(approval_ids)
        if not ids:
            return
        what = "withdraw undelivered notices"
        conn = self._connect(what)
        try:
            conn.execute(
                "DELETE FROM team_notices WHERE kind = %s AND recipient = %s "
                "AND approval_id = ANY(%s)",
                (kind, recipient.lower(), ids),
            )
        except psycopg.Error as err:
            raise self._convert(err, what) from err
        finally:
            conn.close()
