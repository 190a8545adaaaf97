"""The offline embedder, the embedder pin and the provider settings (no Cognee needed)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sergas_tui.errors import ConfigError
from sergas_tui.memory.cognee.embed import (
    HASHING_PROVIDER,
    EmbedderSpec,
    HashingEmbedder,
    check_pin,
    features,
    read_pin,
    resolve_spec,
    stem,
)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_hashing_is_deterministic_and_normalised() -> None:
    embedder = HashingEmbedder(64)
    one, two = embedder.embed(["Executive sponsor changed", "Executive sponsor changed"])
    assert one == two
    assert math.isclose(math.sqrt(sum(x * x for x in one)), 1.0)
    assert len(one) == 64
    empty = embedder.embed_one("")
    assert math.isclose(sum(x * x for x in empty), 1.0)


def test_similarity_follows_shared_words() -> None:
    embedder = HashingEmbedder()
    query = embedder.embed_one("executive sponsor")
    event = embedder.embed_one("Executive sponsor changed\nDana Lee became Executive Sponsor")
    other = embedder.embed_one("Budget approved for Q1")
    assert cosine(query, event) > 0.5
    assert abs(cosine(query, other)) < 0.2


@pytest.mark.parametrize(
    ("word", "expected"), [("changed", "chang"), ("changes", "chang"), ("q1", "q1"), ("is", "is")]
)
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_features_include_word_pairs() -> None:
    assert features("Renewal at risk") == ["renewal", "at", "risk", "renewal at", "at risk"]


def test_resolve_spec_per_provider() -> None:
    assert resolve_spec("offline", None, {}).provider == HASHING_PROVIDER
    assert resolve_spec("minilm", None, {}).dimensions == 384
    openai = resolve_spec("openai", None, {})
    assert (openai.model, openai.dimensions) == ("text-embedding-3-small", 1536)
    custom = resolve_spec(
        "openai_compatible",
        "bge-m3",
        {"EMBEDDING_DIMENSIONS": "1024", "EMBEDDING_ENDPOINT": "http://127.0.0.1:9/v1"},
    )
    assert (custom.dimensions, custom.endpoint) == (1024, "http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="EMBEDDING_DIMENSIONS"):
        resolve_spec("openai_compatible", "mystery-model", {})


def test_the_pin_refuses_another_embedder(tmp_path: Path) -> None:
    first = resolve_spec("offline", None, {})
    check_pin(tmp_path, first)
    assert read_pin(tmp_path) == first
    check_pin(tmp_path, first)  # same embedder: fine
    other = EmbedderSpec("openai", "text-embedding-3-small", 1536)
    with pytest.raises(ConfigError, match="sergas memory reindex") as err:
        check_pin(tmp_path, other)
    assert err.value.title == "Memory embedder changed"
    (tmp_path / "embedder.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="reindex"):
        check_pin(tmp_path, first)


def test_importing_memory_does_not_import_cognee() -> None:
    import subprocess
    import sys

    code = (
        "import sys, sergas_tui.memory, sergas_tui.memory.factory, "
        "sergas_tui.memory.cognee.backend, sergas_tui.memory.remote; "
        "print('cognee' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
