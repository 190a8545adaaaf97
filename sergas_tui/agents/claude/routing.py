"""Which model reviews an account: ``[anthropic] model_simple`` for simple ones, else ``model``.

An account is *simple* when nothing in its facts needs the stronger model's judgement:

- it has **no open deal** (no pipeline to reason about: stages, close dates, amounts), and
- it has **at most one risk signal**, of severity ``info`` or ``warning`` (a ``high`` or
  ``critical`` signal, or two signals of any kind, go to the main model).

Changes alone (a field edited since the last review) do not make an account complex. The rule
is pure and decided once per account per run, from the facts the rules engine's Data Scout
produced, so the Scout, Analyst and Author requests for one account all go to the same model,
and every request carries accounts of a single model.
"""

from __future__ import annotations

from sergas_tui.domain import AccountFacts
from sergas_tui.domain.pipeline import is_open

SIMPLE_MAX_SIGNALS = 1
"""Most risk signals a simple account may have."""
SIMPLE_SEVERITIES = frozenset({"info", "warning"})
"""The severities a simple account's signal may have."""


def is_simple(facts: AccountFacts) -> bool:
    """Whether ``facts`` are simple enough for the cheaper model (see the module docstring)."""
    if any(is_open(deal) for deal in facts.deals):
        return False
    if len(facts.signals) > SIMPLE_MAX_SIGNALS:
        return False
    return all(signal.severity in SIMPLE_SEVERITIES for signal in facts.signals)


def model_for(facts: AccountFacts, model: str, model_simple: str | None) -> str:
    """The model that reviews ``facts``: ``model_simple`` when set and the account is simple."""
    if model_simple and is_simple(facts):
        return model_simple
    return model
