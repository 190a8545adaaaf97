"""Reading the Prometheus exposition the way a scraper does."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import IO

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Scrape:
    """One scrape: every sample by (name, sorted labels without ``le``)."""

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]
    families: dict[str, set[str]]
    """Every family's samples' names (``x_total``, ``x_count``, ``x_bucket``, …)."""

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every series of ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= set(ls))

    def by(self, name: str, label: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for (n, ls), v in self.samples.items():
            if n == name:
                key = dict(ls).get(label)
                if key is not None:
                    out[key] = out.get(key, 0.0) + v
        return out


def parse(text: str) -> Scrape:
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    families: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        names = families.setdefault(family.name, set())
        for sample in family.samples:
            names.add(sample.name)
            if sample.name.endswith("_bucket") or sample.name.endswith("_created"):
                continue
            labels = tuple(sorted(sample.labels.items()))
            samples[(sample.name, labels)] = sample.value
    return Scrape(samples, families)


def scrape(url: str) -> Scrape:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def delta(after: Scrape, before: Scrape, name: str, **labels: str) -> float:
    return after.total(name, **labels) - before.total(name, **labels)


_ANNOUNCED = re.compile(r"Prometheus metrics on (http://127\.0\.0\.1:\d+/metrics)")


@dataclass
class Followed:
    """The lines a process writes to one of its streams, read by a thread as they come."""

    lines: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def metrics_url(self) -> str | None:
        """The address the process said it serves its metrics on, once it has said it."""
        found = _ANNOUNCED.search(self.text)
        return found.group(1) if found else None

    def join(self) -> str:
        """Everything the stream held, once it is closed."""
        if self.thread is not None:
            self.thread.join(timeout=30)
        return self.text


def follow(stream: IO[str] | None) -> Followed:
    assert stream is not None
    followed = Followed()

    def read() -> None:
        for line in stream:
            followed.lines.append(line)

    followed.thread = threading.Thread(target=read, daemon=True)
    followed.thread.start()
    return followed
