"""Which text names an account: whole words, any case, never inside another account's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from sergas_tui.account_forget import rewrite_brief
from sergas_tui.domain.mentions import Mentions
from sergas_tui.errors import StorageError
from sergas_tui.memory.cognee.files import compact_cognee
from sergas_tui.storage.erasure import scrub

ACME = Mentions.of("5725767000009000011", ["Acme"], others=["Acme Logistics", "Zeta"])


@pytest.mark.parametrize(
    ("text", "names_it"),
    [
        ("Acme renewal", True),
        ("renewal at ACME.", True),
        ("Acme's buyer", True),
        ("(acme)", True),
        ("id 5725767000009000011", True),
        ("Acme Logistics renewal", False),  # another account
        ("ceo@acme.com", False),
        ("acme.com", False),
        ("acme-tools", False),
        ("Acmetal", False),
        ("NewAcme", False),
        ("57257670000090000112", False),
    ],
)
def test_a_mention_is_a_whole_word_of_this_account(text: str, names_it: bool) -> None:
    assert ACME.names_it(text) is names_it


@pytest.mark.parametrize(
    ("names", "text", "expected"),
    [
        (["Müller Bau AG"], "Straße 1, Müller Bau AG", "Straße 1, [erased]"),
        (["Müller Bau AG"], "Straße 1, MÜLLER BAU AG, Köln", "Straße 1, [erased], Köln"),
        (["Straße"], "Große Straße 1 für Straße", "Große [erased] 1 für [erased]"),
        (["Ångström AB"], "Kunde: ångström ab; Größe 3", "Kunde: [erased]; Größe 3"),
        (["Acme"], "Acme and Acme Logistics and acme", "[erased] and Acme Logistics and [erased]"),
    ],
)
def test_replacing_cuts_the_text_itself(names: list[str], text: str, expected: str) -> None:
    mentions = Mentions.of("5725767000009000031", names, others=["Acme Logistics"])
    assert mentions.replace(text) == expected


def test_scrub_keeps_another_accounts_items_that_name_it() -> None:
    data = {
        "items": [
            {"account_id": "5725767000009000011", "line": "Acme: renewal"},
            {"account_id": "5725767000009000012", "line": "Acme Logistics, like Acme"},
            "Acme called",
        ]
    }
    assert scrub(data, ACME) == {
        "items": [
            {"account_id": "5725767000009000012", "line": "Acme Logistics, like [erased]"},
            "[erased] called",
        ]
    }


def test_a_brief_is_rewritten_without_the_accounts_items() -> None:
    brief = (
        "# Account brief — Ana\n\n"
        "## Your queue (2)\n"
        "1. **[Acme](https://crm/5725767000009000011)** — high\n"
        "   - Writes: a task\n"
        "   - Why: renewal\n"
        "2. **[Acme Logistics](https://crm/5725767000009000012)** — low\n"
        "   - Why: like Acme last year\n\n"
        "## Nothing to report (2)\n\n"
        "[Acme](x) · [Zeta](y)\n"
    )
    assert rewrite_brief(brief, ACME) == (
        "# Account brief — Ana\n\n"
        "## Your queue (2)\n"
        "2. **[Acme Logistics](https://crm/5725767000009000012)** — low\n"
        "   - Why: like [erased] last year\n\n"
        "## Nothing to report (2)\n\n"
        "[[erased]](x) · [Zeta](y)\n"
    )


def test_cognee_compaction_refuses_while_another_process_uses_the_workspace(
    tmp_path: Path,
) -> None:
    graph = tmp_path / "graph.db"
    graph.write_bytes(b"untouched")
    with pytest.raises(StorageError, match=r"process 41 \(sergas review"):
        compact_cognee(tmp_path, others=lambda: ["process 41 (sergas review, since 10:00)"])
    assert graph.read_bytes() == b"untouched"
