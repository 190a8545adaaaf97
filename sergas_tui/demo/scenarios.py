"""The eight risk scenario accounts, all owned by the local user, with fixed memorable names.

Each scenario shows exactly one risk (or none, for ``healthy_expansion``); everything else about
the account is deliberately healthy: recent activity, several engaged contacts, on-time deals.
Times are exact offsets from the anchor so tests and demos can rely on them. The builders live
in :mod:`~sergas_tui.demo.scenarios_pipeline` and :mod:`~sergas_tui.demo.scenarios_people`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from sergas_tui.demo import model
from sergas_tui.demo import scenarios_people as people
from sergas_tui.demo import scenarios_pipeline as pipeline
from sergas_tui.demo.builder import OrgBuilder
from sergas_tui.demo.model import JsonDict


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario account: its key, fixed name, catalogue text and how to build it."""

    key: str
    name: str
    title: str
    description: str
    signals: tuple[str, ...]
    build: Callable[[OrgBuilder, JsonDict, str, int], JsonDict]


SCENARIOS: tuple[ScenarioSpec, ...] = (
    ScenarioSpec(
        "stalled_negotiation",
        "Harbor Point Logistics",
        "Stalled in negotiation",
        "Fleet telematics deal has sat in Negotiation/Review for 45 days; contract redlines "
        "are stuck with procurement although the account is otherwise active.",
        (model.SIGNAL_STALLED,),
        pipeline.stalled_negotiation,
    ),
    ScenarioSpec(
        "exec_sponsor_changed",
        "Meridian Health Partners",
        "Executive sponsor replaced",
        "The CFO who sponsored the deal moved to a board role 20 days ago; the new CFO is now "
        "the Executive Sponsor (contact role change, new contact, timeline entry and a note).",
        (model.SIGNAL_SPONSOR_CHANGE,),
        people.exec_sponsor_changed,
    ),
    ScenarioSpec(
        "no_activity_35d",
        "Quarry Ridge Materials",
        "Gone quiet for 35 days",
        "A customer whose latest task, call or meeting was exactly 35 days ago.",
        (model.SIGNAL_NO_ACTIVITY,),
        people.no_activity_35d,
    ),
    ScenarioSpec(
        "close_date_pushed_twice",
        "Silverline Analytics",
        "Close date pushed twice",
        "The deal's Closing_Date was pushed later twice (40 and 9 days ago), visible in the "
        "deal timeline and Stage_History.",
        (model.SIGNAL_CLOSE_DATE_PUSHED,),
        pipeline.close_date_pushed_twice,
    ),
    ScenarioSpec(
        "amount_cut",
        "Cobalt Ridge Manufacturing",
        "Deal amount cut",
        "Procurement cut the scope: the amount dropped from 320,000 to 210,000 when the deal "
        "moved to Negotiation/Review 15 days ago.",
        (model.SIGNAL_AMOUNT_DECREASED,),
        pipeline.amount_cut,
    ),
    ScenarioSpec(
        "single_threaded",
        "Solstice Grid Energy",
        "Single-threaded big deal",
        "A 640,000 deal with one contact on the account; every activity is with that person.",
        (model.SIGNAL_SINGLE_THREADED,),
        people.single_threaded,
    ),
    ScenarioSpec(
        "renewal_declining_sentiment",
        "Evergreen Retail Group",
        "Renewal with souring sentiment",
        "Renewal closing in 60 days; notes over five months go from delighted to threatening "
        "not to renew.",
        (model.SIGNAL_DECLINING_SENTIMENT,),
        people.renewal_declining_sentiment,
    ),
    ScenarioSpec(
        "healthy_expansion",
        "Brightwater Foods",
        "Healthy expansion",
        "No risk: activity within the last 3 days, five engaged contacts, an expansion deal "
        "progressing on schedule with a next step, and positive notes.",
        (),
        people.healthy_expansion,
    ),
)

SCENARIO_NAMES: Mapping[str, str] = {spec.key: spec.name for spec in SCENARIOS}


def add_scenarios(b: OrgBuilder, me: JsonDict, numbers: Iterator[int]) -> None:
    """Add every scenario account, owned by ``me``, and record it in the scenario list."""
    for spec in SCENARIOS:
        acct = spec.build(b, me, spec.name, next(numbers))
        b.add_scenario(spec.key, acct, spec.title, spec.description, spec.signals)
