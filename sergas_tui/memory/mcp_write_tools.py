"""Our own memory tools (``sergas_*``): what a remote app needs to use a shared server as memory.

The seed's six ``cognee_*`` tools (:mod:`.mcp_tools`) cannot carry a review's writes. When a
team runs ``sergas mcp memory --http PORT`` and every app sets ``[memory] endpoint = URL``,
:class:`~.remote.RemoteMemory` needs the rest of the :class:`MemoryStore` port, one tool each:

=================================  ===============================  ========================
tool                               MemoryStore                      annotation
=================================  ===============================  ========================
``sergas_ingest_facts``            ingest (AccountFacts JSON)       write
``sergas_record_recommendation``   record_recommendation            write
``sergas_record_decision``         record_decision (exact time)     write
``sergas_record_outcome``          record_outcome (exact time)      write
``sergas_forget_account``          forget                           write, destructive
``sergas_stats``                   stats (without server paths)     read-only
=================================  ===============================  ========================

They follow the shape of :mod:`.mcp_tools` (an argument model and a plain async function over
the store; results JSON; expected failures as :class:`~.mcp_tools.MemoryToolError`). Payloads
are validated with the domain models and bounded in size. None of them is offered by a
``read_only`` server, and none is given to an agent: the Memory Analyst keeps the seed's four
read tools.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from sergas_tui import __version__
from sergas_tui.clock import Clock
from sergas_tui.domain import AccountFacts, Outcome, Recommendation, Timestamp
from sergas_tui.memory.mcp_tools import (
    TOOLS,
    MemoryToolError,
    MemoryToolSpec,
    unknown_recommendation,
)
from sergas_tui.memory.store import DECISION_STATUSES, MemoryStore, memory_ref
from sergas_tui.memory.tool_args import TOO_LARGE, ToolArgs

MAX_FACTS_CHARS = 2_000_000
"""The largest AccountFacts accepted, in characters of JSON. Memory keeps 20k characters of a
note, and :class:`~.remote.RemoteMemory` sends no more, so a review's facts stay far below."""
MAX_RECOMMENDATION_CHARS = 200_000
"""The largest Recommendation accepted, in characters of JSON."""


def _at_most(limit: int) -> Callable[[Any], Any]:
    """A before-validator refusing a value whose JSON text is longer than ``limit``."""

    def check(value: Any) -> Any:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))
        if size > limit:
            raise PydanticCustomError(
                TOO_LARGE,
                "{size} characters of JSON, more than the {limit} allowed",
                {"size": size, "limit": limit},
            )
        return value

    return check


_ACCOUNT = "Zoho record id of the account."
_RECOMMENDATION = "Id of a recommendation remembered for the account."
_STATUSES = ", ".join(sorted(DECISION_STATUSES))


class IngestFactsArgs(ToolArgs):
    facts: Annotated[AccountFacts, BeforeValidator(_at_most(MAX_FACTS_CHARS))] = Field(
        description="Everything a review collected about one account (Sergas AccountFacts "
        f"JSON, at most {MAX_FACTS_CHARS:,} characters)."
    )


class RecordRecommendationArgs(ToolArgs):
    account_id: str = Field(min_length=1, description=_ACCOUNT)
    recommendation: Annotated[
        Recommendation, BeforeValidator(_at_most(MAX_RECOMMENDATION_CHARS))
    ] = Field(description="A Sergas Recommendation as JSON (idempotent by its id).")


class RecordDecisionArgs(ToolArgs):
    account_id: str = Field(min_length=1, description=_ACCOUNT)
    recommendation_id: str = Field(min_length=1, description=_RECOMMENDATION)
    status: str = Field(description=f"The decision, one of: {_STATUSES}.")
    decided_at: Timestamp | None = Field(
        None, description="When it was decided (ISO 8601); the server's now when omitted."
    )
    actor: str = Field(min_length=1, max_length=500, description="Who decided.")
    rationale: str | None = Field(None, max_length=20_000, description="Why.")


class RecordOutcomeArgs(ToolArgs):
    account_id: str = Field(min_length=1, description=_ACCOUNT)
    recommendation_id: str = Field(min_length=1, description=_RECOMMENDATION)
    outcome: Outcome = Field(description="What executing the recommendation achieved.")
    effectiveness_score: float | None = Field(None, ge=0.0, le=1.0, description="0 to 1.")
    executed_at: Timestamp | None = Field(
        None, description="When it was executed (ISO 8601); the server's now when omitted."
    )


class ForgetAccountArgs(ToolArgs):
    account_id: str = Field(min_length=1, description=_ACCOUNT)


class StatsArgs(ToolArgs):
    pass


async def ingest_facts(store: MemoryStore, args: IngestFactsArgs, clock: Clock) -> dict[str, Any]:
    facts = args.facts
    await store.ingest(facts)
    return {
        "ingested": True,
        "account_id": facts.account_id,
        "reviewed_at": facts.reviewed_at.isoformat(),
        "received": {
            "contacts": len(facts.contacts),
            "deals": len(facts.deals),
            "activities": len(facts.activities),
            "notes": len(facts.notes),
            "signals": len(facts.signals),
        },
    }


async def record_recommendation(
    store: MemoryStore, args: RecordRecommendationArgs, clock: Clock
) -> dict[str, Any]:
    rec = args.recommendation
    await store.record_recommendation(args.account_id, rec)
    return {
        "recorded": True,
        "account_id": args.account_id,
        "ref": str(memory_ref("recommendations", rec.id)),
    }


async def record_decision(
    store: MemoryStore, args: RecordDecisionArgs, clock: Clock
) -> dict[str, Any]:
    if args.status not in DECISION_STATUSES:
        raise MemoryToolError(f"Unknown decision status {args.status!r}; one of: {_STATUSES}.")
    known = await store.record_decision(
        args.account_id,
        args.recommendation_id,
        args.status,
        decided_at=args.decided_at or clock.now(),
        actor=args.actor,
        rationale=args.rationale,
    )
    if not known:
        raise unknown_recommendation(args.account_id, args.recommendation_id)
    return _recorded(args.account_id, args.recommendation_id)


async def record_outcome(
    store: MemoryStore, args: RecordOutcomeArgs, clock: Clock
) -> dict[str, Any]:
    known = await store.record_outcome(
        args.account_id,
        args.recommendation_id,
        args.outcome,
        args.effectiveness_score,
        args.executed_at or clock.now(),
    )
    if not known:
        raise unknown_recommendation(args.account_id, args.recommendation_id)
    return _recorded(args.account_id, args.recommendation_id)


def _recorded(account_id: str, recommendation_id: str) -> dict[str, Any]:
    return {
        "recorded": True,
        "account_id": account_id,
        "ref": str(memory_ref("recommendations", recommendation_id)),
    }


async def forget_account(
    store: MemoryStore, args: ForgetAccountArgs, clock: Clock
) -> dict[str, Any]:
    removed = await store.forget(args.account_id)
    return {"account_id": args.account_id, "removed": removed}


async def stats(store: MemoryStore, args: StatsArgs, clock: Clock) -> dict[str, Any]:
    found = await store.stats()
    found.pop("path", None)  # the server's file system is none of the client's business
    data: dict[str, Any] = json.loads(json.dumps(found, default=str))
    data.setdefault("backend", type(store).__name__.removesuffix("Memory").lower())
    return {**data, "server_version": __version__}


_WRITE = " Writes to Sergas memory only, never to the CRM."
_FOR_APPS = " For Sergas apps that use this server as their memory ([memory] endpoint)."

SERGAS_TOOLS: tuple[MemoryToolSpec, ...] = (
    MemoryToolSpec(
        "sergas_ingest_facts",
        "Ingest account facts",
        "Upsert one account's notes, activities, contacts, deals, signals, key events and "
        "commitments from a review's AccountFacts (idempotent)." + _FOR_APPS + _WRITE,
        IngestFactsArgs,
        ingest_facts,
        read_only=False,
    ),
    MemoryToolSpec(
        "sergas_record_recommendation",
        "Record a recommendation",
        "Remember a recommendation made for an account (idempotent by its id)."
        + _FOR_APPS
        + _WRITE,
        RecordRecommendationArgs,
        record_recommendation,
        read_only=False,
    ),
    MemoryToolSpec(
        "sergas_record_decision",
        "Record a decision",
        "Remember the owner's decision on a remembered recommendation, with its exact time."
        + _FOR_APPS
        + _WRITE,
        RecordDecisionArgs,
        record_decision,
        read_only=False,
    ),
    MemoryToolSpec(
        "sergas_record_outcome",
        "Record an outcome",
        "Remember what executing a recommendation achieved, with its exact time."
        + _FOR_APPS
        + _WRITE,
        RecordOutcomeArgs,
        record_outcome,
        read_only=False,
    ),
    MemoryToolSpec(
        "sergas_forget_account",
        "Forget an account",
        "Remove everything memory holds about one account and nothing else (right to be "
        "forgotten); returns how many items were removed." + _FOR_APPS + _WRITE,
        ForgetAccountArgs,
        forget_account,
        read_only=False,
        destructive=True,
    ),
    MemoryToolSpec(
        "sergas_stats",
        "Memory statistics",
        "How many items memory holds per kind, how many accounts, and the newest ingest."
        + _FOR_APPS
        + " Read-only.",
        StatsArgs,
        stats,
    ),
)
"""Our tools, offered after the seed's six by a server that is not ``read_only``."""

SERGAS_TOOL_NAMES: tuple[str, ...] = tuple(spec.name for spec in SERGAS_TOOLS)
SERVER_TOOLS: tuple[MemoryToolSpec, ...] = (*TOOLS, *SERGAS_TOOLS)
"""Everything a full memory server offers, in listing order."""
SERVER_TOOLS_BY_NAME: Mapping[str, MemoryToolSpec] = {spec.name: spec for spec in SERVER_TOOLS}
SERGAS_WRITE_TOOL_NAMES: tuple[str, ...] = tuple(
    spec.name for spec in SERGAS_TOOLS if not spec.read_only
)
