"""DataLoop.run stops a read its caller gave up on: a superseded read (another account opened
meanwhile) must not keep spending CRM calls and interpreter time on the data loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from sergas_tui.viewmodels import data_loop
from sergas_tui.viewmodels.data_loop import DataLoop


class FakeServices:
    simulator = None

    async def aclose(self) -> None:
        return None


@pytest.fixture
def loop(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(data_loop, "shadow_of", lambda services: services)
    made = DataLoop(FakeServices())  # type: ignore[arg-type]
    yield made
    made.close()


def test_a_cancelled_caller_cancels_the_read_on_the_loop(loop: DataLoop) -> None:
    started, stopped = threading.Event(), threading.Event()
    give_up = threading.Event()

    async def slow(_services: Any) -> str:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped.set()
            raise
        return "never"

    def caller() -> None:
        with pytest.raises(asyncio.CancelledError):
            loop.run(slow, cancelled=give_up.is_set)

    thread = threading.Thread(target=caller)
    thread.start()
    assert started.wait(10)
    give_up.set()
    thread.join(10)
    assert not thread.is_alive()
    assert stopped.wait(10)  # the coroutine itself was cancelled, not just abandoned


def test_a_read_that_finishes_returns_its_result(loop: DataLoop) -> None:
    async def quick(_services: Any) -> int:
        await asyncio.sleep(0)
        return 42

    assert loop.run(quick, cancelled=lambda: False) == 42
    assert loop.run(quick) == 42
