"""The argument models of the memory tools: each the single source of its tool's JSON input
schema and of the validation of what an agent sends (unknown fields are errors)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sergas_tui.domain import Outcome

TOO_LARGE = "too_large"
"""The pydantic error type an argument model raises for an oversized argument."""


class ToolArgs(BaseModel):
    """Base of every tool's arguments: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


_ACCOUNT = "Zoho record id of the account."


class SearchMemoryArgs(ToolArgs):
    query: str = Field(
        min_length=1,
        max_length=500,
        description="Words to look for, e.g. 'executive sponsor changes affecting renewal'.",
    )
    account_id: str | None = Field(None, description=f"{_ACCOUNT} Omit to search every account.")
    limit: int = Field(10, ge=1, le=50, description="Most hits to return, best first.")


class RetrieveHistoryArgs(ToolArgs):
    account_id: str = Field(min_length=1, description=_ACCOUNT)
    since: dt.date | None = Field(
        None, description="First day of the window (YYYY-MM-DD). Omit to use `days`."
    )
    until: dt.date | None = Field(None, description="Last day of the window; omit for today.")
    days: int = Field(90, ge=1, le=3650, description="Window length when `since` is omitted.")


class AggregateInsightsArgs(ToolArgs):
    account_id: str | None = Field(None, description=f"{_ACCOUNT} Omit for many accounts.")
    owner_email: str | None = Field(
        None, description="Only the accounts of this owner; omit both filters for every account."
    )
    days: int = Field(90, ge=1, le=3650, description="How many days back to aggregate.")


class RelationshipGraphArgs(ToolArgs):
    account_id: str = Field(min_length=1, description=_ACCOUNT)


StoreKind = Literal["note", "key_event", "commitment", "decision", "outcome"]


class StoreContextArgs(ToolArgs):
    account_id: str = Field(min_length=1, description=_ACCOUNT)
    kind: StoreKind = Field(
        description="note / key_event / commitment: new context (needs `text`). decision / "
        "outcome: what became of a remembered recommendation (needs `recommendation_id`)."
    )
    text: str | None = Field(
        None, max_length=4000, description="The note, event or commitment text."
    )
    title: str | None = Field(None, max_length=500, description="A note's title.")
    impact: str | None = Field(None, max_length=500, description="What a key event changed.")
    date: dt.date | None = Field(None, description="When it happened (YYYY-MM-DD); default today.")
    recommendation_id: str | None = Field(None, description="The recommendation decided on.")
    status: str | None = Field(
        None, description="For decision: approved, adjusted, rejected, expired, completed..."
    )
    outcome: Outcome | None = Field(None, description="For outcome: what executing achieved.")
    effectiveness_score: float | None = Field(None, ge=0.0, le=1.0, description="For outcome.")
    rationale: str | None = Field(None, max_length=2000, description="Why (for decision).")
    actor: str = Field("memory_mcp", max_length=200, description="Who decided (for decision).")


class DeduplicateArgs(ToolArgs):
    account_id: str | None = Field(None, description=f"{_ACCOUNT} Omit for every account.")
    dry_run: bool = Field(True, description="Only report what would be removed (the default).")


class PageTokenArgs(ToolArgs):
    """What the MCP server adds to a list tool's arguments: continue a listing."""

    page_token: str | None = Field(
        None,
        max_length=200,
        description="The next_page_token of the previous call, to continue a result (the other "
        "arguments are then ignored). Results come in pages of about 100 KB; a page with more "
        "to follow carries next_page_token.",
    )


class PageArgs(PageTokenArgs):
    """A page token and the most items one page may hold."""

    limit: int | None = Field(
        None, ge=1, le=1000, description="Most list items to return in this call (one page)."
    )
