"""The demo workspace: a deterministic, Zoho-CRM-shaped org in one SQLite file.

See :mod:`sergas_tui.demo.generator` for what the org contains (scenario and hostile-content
accounts included) and :mod:`sergas_tui.demo.store` for reading it back.
"""

from __future__ import annotations

from sergas_tui.demo.generator import build_org, generate
from sergas_tui.demo.model import (
    HOSTILE_KEYS,
    SCENARIO_KEYS,
    TOUCH_KEYS,
    DemoInfo,
    DemoOrg,
    Scenario,
)
from sergas_tui.demo.store import DemoStore

__all__ = [
    "HOSTILE_KEYS",
    "SCENARIO_KEYS",
    "TOUCH_KEYS",
    "DemoInfo",
    "DemoOrg",
    "DemoStore",
    "Scenario",
    "build_org",
    "generate",
]
