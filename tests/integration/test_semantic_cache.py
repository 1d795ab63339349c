"""CassandraSemanticCache on the real node: exact-first, one metric, hard tenancy, memo, guard."""

from __future__ import annotations

import asyncio
import inspect
import time

import pytest
from cache_helpers import rows, table_exists
from langchain_core.embeddings import Embeddings
from langchain_core.outputs import Generation

from cassandra_llm_cache import CassandraSemanticCache, ConfigurationError, SetupMode
from cassandra_llm_cache.testing import (
    DeterministicEmbeddings,
    EmbeddingFailedError,
    basis_vector,
    unit_vector_with_cosine,
)

DIM = 8
MODEL = "model-a"
OTHER_MODEL = "model-b"


def gen(text: str) -> list[Generation]:
    return [Generation(text=text)]


def toward(cosine: float, rest_axis: int) -> list[float]:
    """A unit vector at ``cosine`` from axis 0, the rest of its length on ``rest_axis``."""
    vector = [0.0] * DIM
    vector[0] = cosine
    vector[rest_axis] = (1 - cosine * cosine) ** 0.5
    return vector


@pytest.fixture
def emb() -> DeterministicEmbeddings:
    """Text "q" on axis 0; "near", "mid" and "far" at cosine 0.97, 0.90 and 0.5 from it.

    Their remainders lie on different axes, so they are far from each other (at most 0.873).
    """
    embeddings = DeterministicEmbeddings(DIM)
    embeddings.set("q", basis_vector(DIM, 0))
    embeddings.set("near", toward(0.97, 1))
    embeddings.set("mid", toward(0.90, 2))
    embeddings.set("far", toward(0.5, 3))
    return embeddings


class Opaque(Embeddings):
    """Embeddings that do not tell their dimension."""

    def __init__(self) -> None:
        self.inner = DeterministicEmbeddings(DIM)

    def embed_documents(self, texts):
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)

    async def aembed_query(self, text):
        return await self.inner.aembed_query(text)


@pytest.fixture
def make(cassandra_session, cassandra_keyspace, table_name, emb):
    def build(**kwargs) -> CassandraSemanticCache:
        kwargs.setdefault("score_threshold", 0.95)
        kwargs.setdefault("embedding", emb)
        return CassandraSemanticCache(
            cassandra_session, cassandra_keyspace, table_name=table_name, **kwargs
        )

    return build


# -- the legacy contract --------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:`langchain-community` is being sunset:DeprecationWarning")
def test_constructor_keeps_the_legacy_names_and_positions():
    from langchain_community.cache import CassandraSemanticCache as Legacy

    ours = list(inspect.signature(CassandraSemanticCache).parameters)
    legacy = list(inspect.signature(Legacy).parameters)
    assert ours[: len(legacy)] == legacy
    keyword_only = [
        name
        for name, p in inspect.signature(CassandraSemanticCache).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    assert {"embedding_dimension", "namespace", "guard", "verifier"} <= set(keyword_only)


def test_missing_embedding_is_a_value_error(cassandra_session, cassandra_keyspace):
    with pytest.raises(ValueError, match="embedding"):
        CassandraSemanticCache(cassandra_session, cassandra_keyspace)


@pytest.mark.parametrize("measure", ["l1", "max"])
def test_measures_cassandra_cannot_compute_are_refused(make, measure):
    with pytest.raises(ConfigurationError, match="similarity_measure"):
        make(similarity_measure=measure)


def test_distance_metric_is_a_deprecated_alias(make):
    with pytest.warns(DeprecationWarning, match="distance_metric"):
        cache = make(distance_metric="dot")
    assert "similarity_measure='dot'" in repr(cache)


def test_sync_and_async_methods_agree(make, emb):
    cache = make()
    cache.update("near", MODEL, gen("N"))
    sync = (
        cache.lookup("q", MODEL),
        cache.lookup_with_id("q", MODEL),
        cache.lookup_with_score("q", MODEL),
    )

    async def both():
        return (
            await cache.alookup("q", MODEL),
            await cache.alookup_with_id("q", MODEL),
            await cache.alookup_with_score("q", MODEL),
        )

    assert asyncio.run(both()) == sync
    assert sync[0] == gen("N")
    assert sync[1] == (cache.document_id("near", MODEL), gen("N"))
    assert sync[2].score == pytest.approx(0.97, abs=1e-5)
    assert sync[2].exact is False


def test_async_writes_deletes_and_clears_agree(make):
    cache = make()

    async def scenario():
        await cache.aupdate("near", MODEL, gen("N"))
        hit = await cache.alookup_with_id("q", MODEL)
        assert hit is not None
        await cache.adelete_by_document_id(hit[0])
        assert await cache.alookup("q", MODEL) is None
        await cache.aupdate("near", MODEL, gen("N"))
        await cache.adelete("near", MODEL)
        assert await cache.alookup("near", MODEL) is None
        await cache.aupdate("near", MODEL, gen("N"))
        await cache.aclear()
        assert await cache.alookup("near", MODEL) is None

    asyncio.run(scenario())


def test_delete_by_document_id_and_delete(make):
    cache = make()
    cache.update("near", MODEL, gen("N"))
    document_id, _ = cache.lookup_with_id("q", MODEL)
    cache.delete_by_document_id(document_id)
    assert cache.lookup("near", MODEL) is None
    cache.update("near", MODEL, gen("N"))
    cache.delete("near", MODEL)
    assert cache.lookup("q", MODEL) is None


@pytest.mark.parametrize("bad", ["", "nothex-nothex", "ab-cd", 42, None])
def test_foreign_document_ids_are_refused(make, bad):
    with pytest.raises(ConfigurationError, match="document id"):
        make().delete_by_document_id(bad)


def test_clear_by_model_keeps_the_other_models(make):
    cache = make()
    cache.update("near", MODEL, gen("A"))
    cache.update("near", OTHER_MODEL, gen("B"))
    cache.clear(llm_string=MODEL)
    assert cache.lookup("near", MODEL) is None
    assert cache.lookup("near", OTHER_MODEL) == gen("B")


def test_lookup_with_id_through_llm(make, emb):
    from langchain_core.language_models import FakeListLLM

    from cassandra_llm_cache._values.keys import langchain_cache_key

    llm = FakeListLLM(responses=["unused"])
    prompt, llm_string = langchain_cache_key("near", llm)
    emb.set(prompt, unit_vector_with_cosine(0.97, DIM))
    cache = make()
    cache.update(prompt, llm_string, gen("via llm"))
    hit = cache.lookup_with_id_through_llm("near", llm)
    assert hit == (cache.document_id(prompt, llm_string), gen("via llm"))
    assert asyncio.run(cache.alookup_with_id_through_llm("near", llm)) == hit


# -- exact first, one metric, filters inside the ANN query ----------------------------------------


def test_identical_prompt_is_answered_without_any_embedding_call(make, emb):
    make().update("some prompt", MODEL, gen("stored"))
    reader = make(embedding_dimension=DIM)
    emb.reset_counts()
    hit = reader.lookup_with_score("some prompt", MODEL)
    assert hit is not None
    assert hit.exact
    assert hit.score == 1.0
    assert hit.generations == gen("stored")
    assert emb.calls == 0
    assert asyncio.run(reader.alookup("some prompt", MODEL)) == gen("stored")
    assert emb.calls == 0
    assert reader.stats().exact_hits == 2


def test_no_embedding_call_in_the_constructor_when_the_dimension_is_known(make, emb):
    emb.reset_counts()
    make(embedding_dimension=DIM)
    make()  # DeterministicEmbeddings advertises its dimension
    assert emb.calls == 0


def test_sync_setup_probes_the_dimension_when_nothing_tells_it(make):
    opaque = Opaque()
    make(embedding=opaque)
    assert opaque.inner.calls == 1


def test_async_setup_without_a_dimension_embeds_nothing_in_the_constructor(
    make, cassandra_session, cassandra_keyspace, table_name
):
    opaque = Opaque()
    cache = make(embedding=opaque, setup_mode=SetupMode.ASYNC)
    assert opaque.inner.calls == 0
    assert not table_exists(cassandra_session, cassandra_keyspace, table_name)

    async def use():
        await cache.aupdate("x", MODEL, gen("X"))
        return await cache.alookup("x", MODEL)

    assert asyncio.run(use()) == gen("X")
    assert table_exists(cassandra_session, cassandra_keyspace, table_name)


def test_same_model_entry_is_found_behind_a_nearer_entry_of_another_model(make, emb):
    emb.set("other model's twin", basis_vector(DIM, 0))  # cosine 1.0 with "q"
    cache = make(candidates=1)
    cache.update("other model's twin", OTHER_MODEL, gen("wrong model"))
    cache.update("near", MODEL, gen("right model"))
    hit = cache.lookup_with_score("q", MODEL)
    assert hit is not None
    assert hit.generations == gen("right model")


@pytest.mark.parametrize("use_async", [False, True])
def test_same_model_entry_is_found_behind_a_full_window_of_other_models(make, emb, use_async):
    # More entries of other models, all nearer than ours, than the unfiltered first query looks
    # at: the lookup must go on to the scope-filtered search and still find ours.
    cache = make(candidates=1)
    for i in range(24):
        text = f"other model's paraphrase {i}"
        emb.set(text, toward(0.999 - i / 10_000, 1 + i % (DIM - 1)))
        cache.update(text, f"{OTHER_MODEL}-{i % 3}", gen("wrong model"))
    cache.update("near", MODEL, gen("right model"))
    if use_async:
        hit = asyncio.run(cache.alookup_with_score("q", MODEL))
    else:
        hit = cache.lookup_with_score("q", MODEL)
    assert hit is not None
    assert hit.generations == gen("right model")
    assert hit.score == pytest.approx(0.97, abs=1e-5)
    assert [c.generations for c in cache.similar_entries("q", MODEL)] == [gen("right model")]


def test_a_miss_behind_other_models_entries_reads_none_of_their_values(
    make, emb, cassandra_session, cassandra_keyspace, table_name
):
    # Other models' entries near the prompt, none of ours: a miss, and no value of theirs is
    # read (their bodies are made unreadable: decoding one would count an error).
    cache = make()
    for i in range(3):
        text = f"other model's paraphrase {i}"
        emb.set(text, toward(0.99, 1 + i))
        cache.update(text, OTHER_MODEL, gen("theirs"))
    table = f'"{cassandra_keyspace}"."{table_name}"'
    keys = list(cassandra_session.execute(f"SELECT namespace, llm_key, prompt_key FROM {table}"))
    for key in keys:
        cassandra_session.execute(
            f"UPDATE {table} SET body = 0xdeadbeef "
            "WHERE namespace = %s AND llm_key = %s AND prompt_key = %s",
            tuple(key),
        )
    assert len(keys) == 3
    assert cache.lookup("q", MODEL) is None
    assert cache.similar_entries("q", MODEL) == []
    assert cache.stats().errors == 0


@pytest.fixture
def make_table(cassandra_session, cassandra_keyspace, emb):
    created = []

    def build(suffix: str, **kwargs) -> CassandraSemanticCache:
        from cassandra_llm_cache.testing import unique_table_name

        name = unique_table_name(f"sem_{suffix}")
        created.append(name)
        kwargs.setdefault("embedding", emb)
        return CassandraSemanticCache(
            cassandra_session, cassandra_keyspace, table_name=name, **kwargs
        )

    yield build
    for name in created:
        cassandra_session.execute(f'DROP TABLE IF EXISTS "{cassandra_keyspace}"."{name}"')


@pytest.mark.parametrize(
    ("measure", "threshold", "hit"),
    [
        ("cos", 0.969, True),
        ("cos", 0.971, False),
        ("dot", 0.969, True),
        ("l2", 0.25, True),
        ("l2", 0.24, False),
    ],
)
def test_threshold_boundaries(make_table, measure, threshold, hit):
    # "near" is at cosine 0.97 from "q": euclidean distance sqrt(2 - 2 * 0.97) = 0.2449.
    cache = make_table(measure, similarity_measure=measure, score_threshold=threshold)
    cache.update("near", MODEL, gen("N"))
    assert (cache.lookup("q", MODEL) is not None) is hit


@pytest.mark.parametrize("measure", ["cos", "dot"])
def test_score_is_cassandras_similarity_on_the_legacy_scale(make_table, measure):
    cache = make_table(measure, similarity_measure=measure, score_threshold=0.0)
    cache.update("near", MODEL, gen("N"))
    assert cache.lookup_with_score("q", MODEL).score == pytest.approx(0.97, abs=1e-5)


def test_l2_reports_the_distance(make_table):
    cache = make_table("l2d", similarity_measure="l2", score_threshold=1.0)
    cache.update("near", MODEL, gen("N"))
    assert cache.lookup_with_score("q", MODEL).score == pytest.approx(0.2449, abs=1e-3)


def test_one_table_ranks_with_one_measure(make):
    make(similarity_measure="cos")
    with pytest.raises(ConfigurationError, match="another similarity measure"):
        make(similarity_measure="dot")


def test_the_table_keeps_its_vector_length(make, emb):
    make()
    with pytest.raises(ConfigurationError, match="vectors of 8 numbers"):
        make(embedding_dimension=DIM * 2)


def test_nearest_below_threshold_is_a_miss_and_counted(make):
    cache = make()
    cache.update("far", MODEL, gen("F"))
    assert cache.lookup("q", MODEL) is None
    assert cache.stats().misses == 1


# -- hard tenancy ---------------------------------------------------------------------------------


def test_namespaces_never_see_each_other(make):
    alice, bob = make(namespace="alice"), make(namespace="bob")
    alice.update("near", MODEL, gen("alice's"))
    assert bob.lookup("near", MODEL) is None  # not by key
    assert bob.lookup("q", MODEL) is None  # not by similarity
    assert bob.similar_entries("q", MODEL) == []
    bob.update("near", MODEL, gen("bob's"))
    assert alice.lookup("q", MODEL) == gen("alice's")
    assert bob.lookup("q", MODEL) == gen("bob's")
    bob.clear()
    assert bob.lookup("near", MODEL) is None
    assert alice.lookup("near", MODEL) == gen("alice's")
    document_id, _ = alice.lookup_with_id("near", MODEL)
    bob.delete_by_document_id(document_id)  # an id from another namespace deletes nothing there
    assert alice.lookup("near", MODEL) == gen("alice's")


# -- embeddings: reuse, memo, failures ------------------------------------------------------------


def test_update_reuses_the_embedding_its_lookup_computed(make, emb):
    cache = make()
    emb.reset_counts()
    assert cache.lookup("mid", MODEL) is None
    cache.update("mid", MODEL, gen("M"))
    assert emb.texts["mid"] == 1

    async def flow():
        assert await cache.alookup("near", MODEL) is None
        await cache.aupdate("near", MODEL, gen("N"))

    asyncio.run(flow())
    assert emb.texts["near"] == 1
    assert emb.async_calls == 1  # the async path called aembed_query


def test_concurrent_async_lookups_of_one_prompt_share_one_embedding_call(make, emb):
    cache = make()
    cache.update("near", MODEL, gen("N"))
    emb.async_delay = 0.05
    emb.reset_counts()

    async def many():
        return await asyncio.gather(*(cache.alookup("q", MODEL) for _ in range(50)))

    results = asyncio.run(many())
    assert results == [gen("N")] * 50
    assert emb.texts["q"] == 1


def test_a_failed_embedding_reaches_its_waiters_and_is_never_remembered(make, emb):
    cache = make()
    cache.update("near", MODEL, gen("N"))
    emb.async_delay = 0.3
    emb.fail_next = 1
    emb.reset_counts()

    async def many():
        return await asyncio.gather(
            *(cache.alookup("q", MODEL) for _ in range(10)), return_exceptions=True
        )

    outcomes = asyncio.run(many())
    failed = [o for o in outcomes if isinstance(o, EmbeddingFailedError)]
    # Lookups that waited on the failing call got its error; any that came after it had failed
    # (a slow key read on a busy machine) made a new call, which worked: never the failure again.
    assert failed
    assert all(o == gen("N") for o in outcomes if o not in failed)
    assert emb.texts["q"] == 1 + (len(failed) < len(outcomes))
    assert asyncio.run(cache.alookup("q", MODEL)) == gen("N")
    emb.fail_next = 1
    with pytest.raises(EmbeddingFailedError):
        cache.lookup("mid", MODEL)
    assert cache.lookup("mid", MODEL) is None  # sync path too: the retry embeds and misses


def test_a_cancelled_waiter_does_not_cancel_the_others(make, emb):
    cache = make()
    cache.update("near", MODEL, gen("N"))
    emb.async_delay = 0.1

    async def scenario():
        first = asyncio.create_task(cache.alookup("q", MODEL))
        second = asyncio.create_task(cache.alookup("q", MODEL))
        await asyncio.sleep(0.02)
        first.cancel()
        return await second

    assert asyncio.run(scenario()) == gen("N")


def test_a_zero_vector_leaves_the_entry_to_exact_lookups(
    make, cassandra_session, cassandra_keyspace, table_name
):
    class Zero(DeterministicEmbeddings):
        def embed_query(self, text):
            return [0.0] * DIM

    cache = make(embedding=Zero(DIM))
    cache.update("anything", MODEL, gen("X"))
    (row,) = rows(cassandra_session, cassandra_keyspace, table_name)
    assert row.embedding is None
    assert cache.lookup("anything", MODEL) == gen("X")  # by key
    assert cache.lookup("anything else", MODEL) is None  # never by similarity
    assert cache.stats().errors == 2


# -- chat models ----------------------------------------------------------------------------------


def chat_prompt(system: str, question: str) -> str:
    from langchain_core.load import dumps
    from langchain_core.messages import HumanMessage, SystemMessage

    return dumps([SystemMessage(system), HumanMessage(question)])


def test_chat_prompts_match_on_the_question_within_one_conversation_context(make, emb):
    cache = make()
    cache.update(chat_prompt("Be brief.", "near"), MODEL, gen("brief"))
    assert cache.lookup(chat_prompt("Be brief.", "q"), MODEL) == gen("brief")
    assert cache.lookup(chat_prompt("Answer in French.", "q"), MODEL) is None
    assert set(emb.texts) == {"q", "near"}  # the questions, never the JSON


def test_a_chat_model_is_served_by_a_similar_question(make, emb):
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    emb.set("What is Apache Cassandra?", basis_vector(DIM, 0))
    emb.set("What's Apache Cassandra?", toward(0.98, 1))
    cache = make()
    model = GenericFakeChatModel(
        messages=iter([AIMessage("A database."), AIMessage("unused")]), cache=cache
    )
    first = model.invoke("What is Apache Cassandra?")
    second = model.invoke("What's Apache Cassandra?")
    assert second.content == first.content == "A database."
    assert cache.stats().hits == 1


# -- guard and verifier ---------------------------------------------------------------------------


def test_guard_rejects_a_reversed_conversion_that_embeds_identically(make, emb):
    cached, query = "Convert 10 miles to kilometers", "Convert 10 kilometers to miles"
    emb.set(cached, unit_vector_with_cosine(0.995, DIM))
    emb.set(query, basis_vector(DIM, 0))
    guarded = make()
    guarded.update(cached, MODEL, gen("16.09 km"))
    assert guarded.lookup(query, MODEL) is None
    assert guarded.stats().guard_rejections == 1
    (candidate,) = guarded.similar_entries(query, MODEL)
    assert candidate.guard_rejection == "direction"
    assert make(guard=False).lookup(query, MODEL) == gen("16.09 km")


def test_guard_lets_a_paraphrase_through(make, emb):
    cached, query = "Convert 10 miles to kilometers", "How many kilometers are in 10 miles?"
    emb.set(cached, unit_vector_with_cosine(0.97, DIM))
    emb.set(query, basis_vector(DIM, 0))
    cache = make()
    cache.update(cached, MODEL, gen("16.09 km"))
    assert cache.lookup(query, MODEL) == gen("16.09 km")


def test_verifier_sees_the_candidate_and_can_veto(make):
    seen = []

    def verifier(prompt, candidate):
        seen.append((prompt, candidate.document_id, round(candidate.score, 3), candidate.prompt))
        return candidate.generations != gen("vetoed")

    cache = make(verifier=verifier, store_plaintext=True)
    cache.update("near", MODEL, gen("vetoed"))
    assert cache.lookup("q", MODEL) is None
    assert seen == [("q", cache.document_id("near", MODEL), 0.97, "near")]
    assert cache.stats().verifier_rejections == 1
    cache.update("mid", MODEL, gen("fine"))
    assert make(verifier=verifier, score_threshold=0.85).lookup("q", MODEL) == gen("fine")


def test_async_verifier_is_awaited_by_alookup_and_refused_by_lookup(make):
    async def verifier(prompt, candidate):
        await asyncio.sleep(0)
        return True

    cache = make(verifier=verifier)
    cache.update("near", MODEL, gen("N"))
    assert asyncio.run(cache.alookup("q", MODEL)) == gen("N")
    with pytest.raises(ConfigurationError, match="async verifier"):
        cache.lookup("q", MODEL)


# -- privacy and TTL ------------------------------------------------------------------------------


def test_prompt_text_is_stored_only_when_asked(
    make, cassandra_session, cassandra_keyspace, table_name
):
    secret = "my secret prompt 1234"
    make().update(secret, MODEL, gen("A"))
    (row,) = rows(cassandra_session, cassandra_keyspace, table_name)
    assert row.prompt is None
    assert row.llm_string is None
    assert secret not in str(row)
    assert "1234" not in (row.guard or "")
    make(store_plaintext=True).update(secret, OTHER_MODEL, gen("B"))
    stored = {r.prompt for r in rows(cassandra_session, cassandra_keyspace, table_name)}
    assert stored == {None, secret}


def test_entries_expire(make):
    cache = make(ttl_seconds=3)  # long enough to read both back first on a busy machine
    cache.update("near", MODEL, gen("N"))
    cache.update("mid", MODEL, gen("M"), ttl_seconds=60)
    assert cache.lookup("near", MODEL) == gen("N")
    assert cache.lookup("q", MODEL) == gen("N")
    time.sleep(4.2)
    assert cache.lookup("q", MODEL) is None  # "near" expired; "mid" is below 0.95
    assert cache.similar_entries("q", MODEL)[0].generations == gen("M")
    assert cache.lookup("mid", MODEL) == gen("M")


def test_without_a_ttl_the_tables_default_time_to_live_applies(
    make, cassandra_session, cassandra_keyspace, table_name
):
    cache = make()
    cache.update("first", MODEL, gen("F"))  # the table exists once a write went through
    cassandra_session.execute(
        f"ALTER TABLE {cassandra_keyspace}.{table_name} WITH default_time_to_live = 3600"
    )
    cache.update("near", MODEL, gen("N"))
    ttls = [
        row[0]
        for row in cassandra_session.execute(
            f"SELECT TTL(body) FROM {cassandra_keyspace}.{table_name}"
        )
    ]
    assert sorted(ttl is None for ttl in ttls) == [False, True]
    assert 3500 < max(ttl for ttl in ttls if ttl is not None) <= 3600


def test_repr_is_stable_and_holds_no_ids(make):
    cache = make(namespace="tenant")
    assert repr(cache) == repr(make(namespace="tenant"))
    assert "0x" not in repr(cache)
