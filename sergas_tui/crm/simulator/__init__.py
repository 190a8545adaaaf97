"""A faithful subset of Zoho CRM v8 as a Starlette ASGI app, served from a demo org file.

Build one with :func:`create_simulator` and talk to ``simulator.app`` in-process through
``httpx.ASGITransport``, or run it on a loopback port with
:func:`~sergas_tui.crm.simulator.server.start_in_thread` (tests, benchmarks) or
:func:`~sergas_tui.crm.simulator.server.serve` (a foreground server).

It serves the OAuth accounts endpoint (``POST /oauth/v2/token``), records, search, related
lists, timelines, users, COQL and the writes the app makes (notes, tasks, account updates),
with Zoho's error shapes, its API limits by edition (24-hour credit ledger, concurrency and
sub-concurrency gates; see :mod:`~sergas_tui.crm.simulator.limits`), seeded fault
injection (:class:`FaultPlan`) and call counters (:class:`Counters`). The demo OAuth client is
``DEMO_CLIENT_ID`` / ``DEMO_CLIENT_SECRET`` with refresh token ``DEMO_REFRESH_TOKEN``.
"""

from __future__ import annotations

from sergas_tui.crm.simulator.app import Simulator, create_simulator
from sergas_tui.crm.simulator.config import (
    DEMO_CLIENT,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FULL_SCOPES,
    OAuthClient,
    SimulatorConfig,
)
from sergas_tui.crm.simulator.counters import Counters
from sergas_tui.crm.simulator.faults import FaultKind, FaultPlan

__all__ = [
    "DEMO_CLIENT",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_REFRESH_TOKEN",
    "FULL_SCOPES",
    "Counters",
    "FaultKind",
    "FaultPlan",
    "OAuthClient",
    "Simulator",
    "SimulatorConfig",
    "create_simulator",
]
