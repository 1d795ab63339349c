"""The benchmark's memoised embedding and vector helpers (pure)."""

from __future__ import annotations

import numpy as np

from cassandra_llm_cache.bench._vectors import VectorBook, clustered, nearby


def test_registered_texts_embed_to_their_vectors():
    vectors = clustered(20, seed=1)
    book = VectorBook()
    book.register([f"t{i}" for i in range(20)], vectors)
    assert np.allclose(book.embed_query("t7"), vectors[7], atol=1e-6)


def test_unknown_texts_get_distinct_stable_unit_vectors():
    book = VectorBook()
    a, b = np.array(book.embed_query("one")), np.array(book.embed_query("two"))
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert abs(float(a @ b)) < 0.5
    assert book.embed_query("one") == a.tolist()
    assert VectorBook().embed_query("one") == a.tolist()


def test_nearby_vectors_are_close_and_clusters_are_not_identical():
    vectors = clustered(100, seed=2)
    close = nearby(vectors, seed=3)
    cosines = np.sum(vectors * close, axis=1)
    assert float(cosines.min()) > 0.95
    others = vectors @ vectors.T
    np.fill_diagonal(others, 0.0)
    assert float(others.max()) < 0.95
