"""Building the review engine from settings: the rules engine, and the Claude engine over it.

The rules engine is always built: it is the deterministic pre-work of the Claude engine and its
fallback. :func:`rules_engine` composes the three roles (Data Scout, Memory Analyst, rule
author) with the org's Rating check; :func:`claude_engine` puts the Claude engine on top of
it. Which engine runs is settled by :mod:`sergas_tui.engine_choice`; the services wire the
result into the orchestrator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from sergas_tui.agents.analyst import MemoryAnalyst
from sergas_tui.agents.author.core import AuthorPolicy, RuleAuthor
from sergas_tui.agents.drafting import TemplateSet
from sergas_tui.agents.rating_guard import RatingGuard
from sergas_tui.agents.rules import RulesEngine
from sergas_tui.agents.scout import DataScout
from sergas_tui.clock import Clock
from sergas_tui.config import Settings
from sergas_tui.crm.gateway import CrmReader
from sergas_tui.domain.money import currency_code
from sergas_tui.locations import Locations
from sergas_tui.memory.store import MemoryStore
from sergas_tui.storage import Repository

if TYPE_CHECKING:
    from sergas_tui.agents.claude import ClaudeEngine


def rules_engine(
    settings: Settings,
    locations: Locations,
    clock: Clock,
    *,
    crm: CrmReader,
    repository: Repository,
    memory: MemoryStore,
    at_risk_rating: str | None,
    trusted_ratings: frozenset[str],
) -> RulesEngine:
    """The rules engine on ``crm``, its templates from the configuration directory."""
    return RulesEngine(
        scout=DataScout(
            crm,
            repository,
            settings.signals,
            clock,
            timeline_budget=settings.orchestrator.timeline_budget,
        ),
        analyst=MemoryAnalyst(memory),
        author=RuleAuthor(
            TemplateSet.load(locations.templates_dir),
            clock,
            policy=AuthorPolicy(
                at_risk_rating=at_risk_rating,
                currency=currency_code(settings.zoho.home_currency),
            ),
        ),
        repository=repository,
        stage_history_budget=settings.orchestrator.stage_history_budget,
        # The Rating values are checked against the org's Accounts picklist every run.
        rating_guard=RatingGuard(crm, trusted=trusted_ratings),
    )


def claude_engine(
    settings: Settings,
    locations: Locations,
    clock: Clock,
    *,
    rules: RulesEngine,
    crm: CrmReader,
    repository: Repository,
    api_key: SecretStr | None,
) -> ClaudeEngine:
    """The Claude engine over ``rules`` (its CLI processes start on first use and end with
    each run)."""
    from sergas_tui.agents.claude import ClaudeConfig, ClaudeEngine

    config = ClaudeConfig.from_settings(
        settings, api_key=api_key, prompts_dir=locations.prompts_dir
    )
    return ClaudeEngine(rules=rules, gateway=crm, repository=repository, clock=clock, config=config)
