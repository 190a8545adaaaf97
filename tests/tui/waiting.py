"""Wait for a condition in a Pilot test, never for a number of ticks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

CONDITION_TIMEOUT = 60.0
"""Seconds before a condition that never comes true fails the test (a bound, not a wait)."""


async def until(
    pilot: Any, condition: Callable[[], bool], what: str, limit: float = CONDITION_TIMEOUT
) -> None:
    """Let the app run (workers finish, messages land) until ``condition()`` holds; fail
    naming ``what`` if it does not within ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while True:
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {limit:g} s for {what}")
        await pilot.pause(0.05)


async def settle(pilot: Any) -> None:
    """Let the screen mount, its workers finish and their messages land."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
