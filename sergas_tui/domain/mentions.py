"""Finding where a text names one account, and only that account.

An account is named by its id and by every name it was known by. A name counts only as a whole
word, in any case (``Acme`` in "Acme's renewal", not in "Acmetal", not in the address
``ceo@acme.com`` and not in ``acme-tools``), and not inside the longer name of another account
the workspace knows (``Acme`` in "Acme Logistics" is that other account). Matching runs on the
text itself with :mod:`re` (``IGNORECASE``), so a replacement cuts at the right characters
whatever the script ("Müller Bau AG", "Straße").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

ERASED_PLACEHOLDER = "[erased]"
"""What replaces a mention of the account in a text that is kept."""

_BEFORE = r"(?<![\w@.\-/])"
"""A mention does not follow a word character, nor ``@ . - /`` (an address, a path, a
hyphenated word)."""

_AFTER = r"(?![\w@])(?![.\-/]\w)"
"""A mention is not followed by a word character or ``@``, nor by ``. - /`` and a word
character (``acme.com``, ``Acme-Tools``); a full stop ending a sentence is fine."""


def _pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted({w for w in words if w}, key=lambda w: (-len(w), w))
    if not ordered:
        return None
    alternatives = "|".join(re.escape(w) for w in ordered)
    return re.compile(f"{_BEFORE}(?:{alternatives}){_AFTER}", re.IGNORECASE)


@dataclass(frozen=True)
class Mentions:
    """The account's id and names (``needles``), and the other accounts' names that contain
    one of them as a word (``shadows``: a match inside one of those is not a mention)."""

    account_id: str
    names: tuple[str, ...]
    shadows: tuple[str, ...] = ()
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _needles: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        needles = {self.account_id.casefold(), *(n.casefold() for n in self.names)}
        object.__setattr__(self, "_needles", frozenset(n for n in needles if n))
        object.__setattr__(self, "_pattern", _pattern([*self.needles, *self.shadows]))

    @classmethod
    def of(cls, account_id: str, names: Iterable[str], others: Iterable[str] = ()) -> Mentions:
        """The mentions of the account ``account_id`` known by ``names``; ``others`` are the
        names of the workspace's other accounts (those containing one of its names shadow it)."""
        own = tuple(dict.fromkeys(n.strip() for n in names if n and n.strip()))
        own_folded = {n.casefold() for n in own}
        probe = _pattern(own)
        shadows = tuple(
            sorted(
                {
                    o.strip()
                    for o in others
                    if o
                    and o.strip().casefold() not in own_folded
                    and probe is not None
                    and probe.search(o.strip())
                }
            )
        )
        return cls(account_id=account_id.strip(), names=own, shadows=shadows)

    @property
    def needles(self) -> tuple[str, ...]:
        """The account's id and names, as given."""
        return tuple(dict.fromkeys(n for n in (self.account_id, *self.names) if n))

    def _own(self, match: re.Match[str]) -> bool:
        return match.group(0).casefold() in self._needles

    def found(self, value: object) -> list[str]:
        """The mentions of the account in the text of ``value``, as written there."""
        if value is None or self._pattern is None:
            return []
        return [m.group(0) for m in self._pattern.finditer(str(value)) if self._own(m)]

    def names_it(self, value: object) -> bool:
        """True when the text of ``value`` mentions the account (its id or one of its names)."""
        if value is None or self._pattern is None:
            return False
        return any(self._own(m) for m in self._pattern.finditer(str(value)))

    def names_id(self, value: object) -> bool:
        """True when the text of ``value`` holds the account's id (as a whole word)."""
        return any(m.casefold() == self.account_id.casefold() for m in self.found(value))

    def replace(self, text: str, placeholder: str = ERASED_PLACEHOLDER) -> str:
        """``text`` with every mention of the account replaced by ``placeholder``; the rest,
        other accounts' names included, is kept character for character."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: placeholder if self._own(m) else m.group(0), text)


__all__ = ["ERASED_PLACEHOLDER", "Mentions"]
