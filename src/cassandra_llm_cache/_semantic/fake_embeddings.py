"""``DeterministicEmbeddings``: a LangChain ``Embeddings`` for tests, exported by ``testing``.

Pure Python, no model: a text given a vector with ``set`` (or the constructor) embeds to exactly
that vector (normalised); any other text embeds to a fixed pseudo-random unit vector derived from
its SHA-256, the same in every process. ``unit_vector_with_cosine`` builds vectors at an exact
cosine from another, which makes threshold boundaries testable. Every call is counted, and calls
can be made slow (async only, with ``asyncio.sleep``) or made to fail, to test memoisation and
concurrency.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import struct
import threading
from collections import Counter
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings
from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "DeterministicEmbeddings",
    "EmbeddingFailedError",
    "basis_vector",
    "unit_vector_with_cosine",
]


class EmbeddingFailedError(RuntimeError):
    """Raised by ``DeterministicEmbeddings`` when told to fail."""


def unit_vector_with_cosine(cosine: float, dimension: int, *, axis: int = 0) -> list[float]:
    """A unit vector whose cosine with the basis vector ``e[axis]`` is exactly ``cosine``.

    The rest of its length goes on the next axis, so two vectors built for different ``axis``
    values are orthogonal apart from those two coordinates.
    """
    if not -1.0 <= cosine <= 1.0:
        raise ValueError("cosine must be within [-1, 1]")
    if not 0 <= axis < dimension - 1:
        raise ValueError("axis must leave room for one more coordinate")
    vector = [0.0] * dimension
    vector[axis] = cosine
    vector[axis + 1] = math.sqrt(max(0.0, 1.0 - cosine * cosine))
    return vector


def basis_vector(dimension: int, axis: int) -> list[float]:
    """The unit vector along ``axis``."""
    vector = [0.0] * dimension
    vector[axis] = 1.0
    return vector


class DeterministicEmbeddings(Embeddings):
    """Predictable embeddings with call counting and failure injection (see the module doc).

    Attributes:
        calls: how many texts were embedded, sync and async together.
        texts: how many times each text was embedded (a ``Counter``).
        sync_calls / async_calls: how many ``embed_*`` / ``aembed_*`` method calls were made.
        fail_next: the next this-many texts raise ``EmbeddingFailedError`` (then embedding works).
        fail_texts: these texts always raise ``EmbeddingFailedError``.
        async_delay: seconds each async call waits (``asyncio.sleep``) before answering.
    """

    def __init__(
        self,
        dimension: int = 16,
        vectors: Mapping[str, Sequence[float]] | None = None,
        *,
        async_delay: float = 0.0,
    ) -> None:
        if dimension < 2:  # noqa: PLR2004 - one coordinate cannot express a cosine
            raise ValueError("dimension must be at least 2")
        self.dimension = dimension
        self.async_delay = async_delay
        self.fail_next = 0
        self.fail_texts: set[str] = set()
        self.calls = 0
        self.sync_calls = 0
        self.async_calls = 0
        self.texts: Counter[str] = Counter()
        self._vectors: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        for text, vector in (vectors or {}).items():
            self.set(text, vector)

    def __repr__(self) -> str:
        return f"DeterministicEmbeddings(dimension={self.dimension})"

    def set(self, text: str, vector: Sequence[float]) -> None:
        """Make ``text`` embed to ``vector`` (normalised to unit length)."""
        if len(vector) != self.dimension:
            raise ValueError(f"vector must have {self.dimension} coordinates")
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0:
            raise ValueError("a zero vector has no direction")
        self._vectors[text] = [x / norm for x in vector]

    def reset_counts(self) -> None:
        """Forget every count (not the vectors)."""
        with self._lock:
            self.calls = self.sync_calls = self.async_calls = 0
            self.texts.clear()

    @override
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            self.sync_calls += 1
        return [self._embed(text) for text in texts]

    @override
    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            self.sync_calls += 1
        return self._embed(text)

    @override
    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            self.async_calls += 1
        if self.async_delay:
            await asyncio.sleep(self.async_delay)
        return [self._embed(text) for text in texts]

    @override
    async def aembed_query(self, text: str) -> list[float]:
        with self._lock:
            self.async_calls += 1
        if self.async_delay:
            await asyncio.sleep(self.async_delay)
        return self._embed(text)

    def _embed(self, text: str) -> list[float]:
        with self._lock:
            self.calls += 1
            self.texts[text] += 1
            failing = self.fail_next > 0 or text in self.fail_texts
            if self.fail_next > 0:
                self.fail_next -= 1
        if failing:
            raise EmbeddingFailedError("embedding failed (as the test asked)")
        known = self._vectors.get(text)
        return list(known) if known is not None else _hashed_unit_vector(text, self.dimension)


def _hashed_unit_vector(text: str, dimension: int) -> list[float]:
    """A unit vector fixed by ``text`` alone (coordinates uniform in [-1, 1), then normalised)."""
    coordinates: list[float] = []
    block = 0
    while len(coordinates) < dimension:
        digest = hashlib.sha256(f"{block}\x1f{text}".encode("utf-8", "surrogatepass")).digest()
        coordinates.extend(v / 2**31 for v in _ints(struct.iter_unpack(">i", digest)))
        block += 1
    vector = coordinates[:dimension]
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _ints(unpacked: Iterable[tuple[int, ...]]) -> Iterable[int]:
    return (values[0] for values in unpacked)
