"""Which model reviews an account (``agents/claude/routing.py``) and the per-kind session pool."""

from __future__ import annotations

import asyncio

import pytest

from sergas_tui.agents.claude.routing import is_simple, model_for
from sergas_tui.agents.claude.sessions import Session, SessionPool
from sergas_tui.domain import RiskSignal
from tests.unit.author_kit import make_deal, make_facts

MAIN, SIMPLE = "main-model", "simple-model"


def sig(severity: str, key: str = "no_activity") -> RiskSignal:
    return RiskSignal(key=key, severity=severity, message=f"a {severity} signal")


CLOSED = [make_deal().model_copy(update={"stage": "Closed Won"})]
OPEN = [make_deal()]


@pytest.mark.parametrize(
    ("deals", "signals", "simple"),
    [
        ([], [], True),
        (CLOSED, [], True),
        (CLOSED, [sig("info")], True),
        (CLOSED, [sig("warning")], True),
        (CLOSED, [sig("high")], False),
        (CLOSED, [sig("critical")], False),
        (CLOSED, [sig("warning"), sig("info", "stalled")], False),
        (OPEN, [], False),
        (OPEN, [sig("warning")], False),
        (CLOSED + OPEN, [], False),
    ],
)
def test_simple_means_no_open_deal_and_at_most_one_mild_signal(
    deals: list[object], signals: list[RiskSignal], simple: bool
) -> None:
    facts = make_facts(signals, deals=deals)  # type: ignore[arg-type]
    assert is_simple(facts) is simple
    assert model_for(facts, MAIN, SIMPLE) == (SIMPLE if simple else MAIN)
    assert model_for(facts, MAIN, None) == MAIN  # unset: everything to the main model


class _FakeSession:
    def __init__(self, kind: tuple[str, str]) -> None:
        self.role, self.model = kind
        self.usable = True
        self.closed = False

    async def aclose(self) -> None:
        self.usable = False
        self.closed = True


async def test_pool_keeps_sessions_per_role_and_model() -> None:
    opened: list[tuple[str, str]] = []

    async def open_session(kind: tuple[str, str]) -> Session:
        opened.append(kind)
        return _FakeSession(kind)  # type: ignore[return-value]

    pool: SessionPool[tuple[str, str]] = SessionPool(open_session, 6, kinds=6)
    main = await pool.acquire(("author", MAIN))
    simple = await pool.acquire(("author", SIMPLE))
    assert main is not simple
    assert (main.model, simple.model) == (MAIN, SIMPLE)
    await pool.release(main)
    await pool.release(simple)
    # Reused per kind: a request of a model always gets a session of that model.
    assert await pool.acquire(("author", SIMPLE)) is simple
    assert await pool.acquire(("author", MAIN)) is main
    assert opened == [("author", MAIN), ("author", SIMPLE)]
    await pool.aclose()


async def test_a_pool_smaller_than_its_kinds_closes_an_idle_session_of_another_kind() -> None:
    async def open_session(kind: tuple[str, str]) -> Session:
        return _FakeSession(kind)  # type: ignore[return-value]

    pool: SessionPool[tuple[str, str]] = SessionPool(open_session, 1, kinds=2)
    main = await pool.acquire(("scout", MAIN))
    waiting = asyncio.ensure_future(pool.acquire(("scout", SIMPLE)))
    await asyncio.sleep(0)
    assert not waiting.done()  # the only slot is in use
    await pool.release(main)
    simple = await asyncio.wait_for(waiting, 5)
    assert simple.model == SIMPLE
    assert main.closed  # type: ignore[attr-defined]
    assert pool.started == 2
    await pool.aclose()
