"""Vectors for the semantic benchmarks: clustered unit vectors and a memoised embedding.

The semantic cache is measured with an embedding whose answers are already known (a table
lookup), so its figures are the cache's and the database's, not a model's.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from numpy.typing import NDArray

DIMENSION = 384  # the size of small sentence-embedding models (e.g. e5-small)


def unit_rows(matrix: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: NDArray[np.float32] = (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


def clustered(
    count: int, seed: int, *, per_cluster: int = 50, spread: float = 0.75
) -> NDArray[np.float32]:
    """``count`` unit vectors in clusters of about ``per_cluster``, as real embeddings cluster.

    ``spread`` is the noise's length relative to the cluster centre (0.75: members have a cosine
    of about 0.8 with their centre, about 0.64 with each other).
    """
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng.standard_normal((max(1, count // per_cluster), DIMENSION)))
    members = centres[rng.integers(0, len(centres), count)]
    noise = unit_rows(rng.standard_normal((count, DIMENSION))) * spread
    return unit_rows(members + noise)


def nearby(vectors: NDArray[np.float32], seed: int, spread: float = 0.15) -> NDArray[np.float32]:
    """Vectors close to ``vectors`` (cosine about 0.99 for the default spread)."""
    rng = np.random.default_rng(seed)
    noise = unit_rows(rng.standard_normal(vectors.shape).astype(np.float32)) * spread
    return unit_rows(vectors + noise)


class VectorBook(Embeddings):
    """An embedding that answers from a table of registered texts (a memoised model).

    Unregistered texts get a random unit vector seeded by the text's digest (computed once, then
    remembered), so that writes of new prompts cost no model time either.
    """

    def __init__(self, dimension: int = DIMENSION) -> None:
        self.dimension = dimension
        self._rows: dict[str, tuple[NDArray[np.float32], int]] = {}

    def register(self, texts: list[str], vectors: NDArray[np.float32]) -> None:
        if len(texts) != len(vectors):
            raise ValueError("one vector per text")
        block = np.ascontiguousarray(vectors, dtype=np.float32)
        for row, text in enumerate(texts):
            self._rows[text] = (block, row)

    def vector(self, text: str) -> NDArray[np.float32]:
        found = self._rows.get(text)
        if found is None:
            # A random direction of its own, fixed by the text: unrelated texts never coincide
            # (a shared pool of vectors would make some "misses" exact matches).
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
            block = unit_rows(np.random.default_rng(seed).standard_normal((1, self.dimension)))
            self._rows[text] = (block, 0)
            found = (block, 0)
        block, row = found
        vector: NDArray[np.float32] = block[row]
        return vector

    def embed_query(self, text: str) -> list[float]:
        values: list[float] = self.vector(text).tolist()
        return values

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)
