"""Error-bounded per-entry thresholds (``max_wrong_rate``) on the real node.

The embedding is scripted: ``"entry"`` is one direction and ``"at <cosine> <tag>"`` a direction at
that cosine to it, so each test puts requests at the similarity it needs. Observations go through
Cassandra, and a second session (another driver ``Cluster``) reads what the first one wrote.
"""

from __future__ import annotations

import asyncio
import math
import uuid
import zlib
from typing import TYPE_CHECKING

import pytest
from cassandra.cluster import Cluster
from langchain_core.embeddings import Embeddings
from langchain_core.messages import HumanMessage
from langchain_core.outputs import Generation

from cassandra_llm_cache import CachedChatModel, CachedLLM, CassandraSemanticCache
from cassandra_llm_cache._errors import ConfigurationError, SetupError
from cassandra_llm_cache._semantic.adaptive import same_answer, wilson_lower, wilson_upper
from cassandra_llm_cache.streaming import LearningStats
from streaming_fakes import Probe, ScriptedChat, ScriptedLLM

if TYPE_CHECKING:
    from collections.abc import Callable

LLM = "scripted-llm"
ANSWER = "Paris is the capital of France."


class Scripted(Embeddings):
    """``"entry"`` is e1; ``"at c tag"`` is at cosine c to it (tags keep requests apart)."""

    dimension = 4

    def embed_query(self, text: str) -> list[float]:
        if not text.startswith("at "):
            return [1.0, 0.0, 0.0, 0.0]
        _, cosine, tag = text.split(" ", 2)
        c = float(cosine)
        s = math.sqrt(1 - c * c)
        angle = (zlib.crc32(tag.encode()) % 1000) / 1000 * math.pi / 2
        return [c, s * math.cos(angle), s * math.sin(angle), 0.0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]


def make_cache(session, keyspace, table, **options) -> CassandraSemanticCache:
    return CassandraSemanticCache(
        session,
        keyspace,
        Scripted(),
        table,
        score_threshold=0.5,
        guard=False,
        **options,
    )


@pytest.fixture
def table() -> str:
    return f"adapt_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def other_session(cassandra_contact, cassandra_keyspace):
    cluster = Cluster(**cassandra_contact.cluster_kwargs())
    try:
        yield cluster.connect(cassandra_keyspace)
    finally:
        cluster.shutdown()


def test_the_bounds_and_the_default_judge():
    assert wilson_upper(0, 0) == 1.0
    assert wilson_lower(0, 0) == 0.0
    assert 0.27 < wilson_upper(0, 10) < 0.28  # 10 right answers bound the wrong rate by ~28%
    assert wilson_lower(10, 10) > 0.7
    assert same_answer("Paris is the capital.", "paris is the capital")
    assert not same_answer("Paris is the capital of France.", "Lyon is the capital of France.")
    for bad in (0, 0.5, -0.1, 1, True, "0.1"):
        with pytest.raises(ConfigurationError, match="max_wrong_rate"):
            CassandraSemanticCache(embedding=Scripted(), max_wrong_rate=bad, setup_mode="off")


def test_off_changes_nothing(cassandra_session, cassandra_keyspace, table):
    cache = make_cache(cassandra_session, cassandra_keyspace, table)
    cache.update("entry", LLM, [Generation(text=ANSWER)])
    found = cache.lookup_adaptive("at 0.95 a", LLM)
    assert found.hit is not None
    assert found.hit.certain
    assert found.refused is None
    assert cache.lookup("at 0.95 b", LLM) == [Generation(text=ANSWER)]
    assert cache.max_wrong_rate is None
    metadata = cassandra_session.cluster.metadata.keyspaces[cassandra_keyspace]
    assert f"{table}_observations" not in metadata.tables
    with pytest.raises(ConfigurationError, match="max_wrong_rate"):
        cache.observe(found.hit.document_id, 0.95, right=True)


def test_without_evidence_only_the_conservative_threshold_serves(
    cassandra_session, cassandra_keyspace, table
):
    cache = make_cache(cassandra_session, cassandra_keyspace, table, max_wrong_rate=0.3)
    cache.update("entry", LLM, [Generation(text=ANSWER)])
    assert cache.lookup("entry", LLM) is not None  # the identical prompt is always served
    far = cache.lookup_adaptive("at 0.95 a", LLM)
    assert far.hit is None
    assert far.refused is not None
    assert math.isclose(far.refused.score, 0.95, abs_tol=1e-3)
    close = cache.lookup_adaptive("at 0.995 a", LLM)
    assert close.hit is not None
    assert not close.hit.certain
    assert cache.stats().bound_refusals == 1


def test_two_sessions_learn_from_each_other(
    cassandra_session, other_session, cassandra_keyspace, table
):
    writer = make_cache(cassandra_session, cassandra_keyspace, table, max_wrong_rate=0.3)
    reader = make_cache(other_session, cassandra_keyspace, table, max_wrong_rate=0.3)
    writer.update("entry", LLM, [Generation(text=ANSWER)])
    entry = writer.lookup_adaptive("at 0.96 a", LLM).refused
    assert entry is not None
    assert reader.lookup("at 0.97 a", LLM) is None
    for _ in range(10):
        writer.observe(entry.document_id, 0.96, right=True)
    assert writer.stats().observations == 10

    served = reader.lookup_adaptive("at 0.97 b", LLM)  # evidence at 0.96: a little farther
    assert served.hit is not None
    assert served.hit.certain
    assert reader.lookup("at 0.90 b", LLM) is None  # no evidence that far out

    for _ in range(15):
        writer.observe(entry.document_id, 0.96, right=False)
    assert reader.lookup("at 0.97 c", LLM) is None  # wrong answers stop it
    assert reader.lookup("at 0.995 c", LLM) is None  # even above the conservative threshold


def test_the_pool_speaks_for_entries_without_evidence_in_every_session(
    cassandra_session, other_session, cassandra_keyspace, table
):
    writer = make_cache(cassandra_session, cassandra_keyspace, table, max_wrong_rate=0.3)
    writer.update("entry", LLM, [Generation(text=ANSWER)])
    reader = make_cache(other_session, cassandra_keyspace, table, max_wrong_rate=0.3)
    assert reader.lookup_adaptive("at 0.97 a", LLM).hit is None
    assert writer.lookup_adaptive("at 0.97 a", LLM).hit is None
    # Other entries of the model were right for requests at 0.96: ten observations.
    for index in range(10):
        writer.observe(writer.document_id(f"at 0.2 other{index}", LLM), 0.96, right=True)
    entry = writer.document_id("entry", LLM)
    assert observation_count(cassandra_session, cassandra_keyspace, table, entry) == 0

    late = make_cache(other_session, cassandra_keyspace, table, max_wrong_rate=0.3)
    served = late.lookup_adaptive("at 0.97 b", LLM)  # a new process reads the bands
    assert served.hit is not None
    assert served.hit.document_id == entry
    assert not served.hit.certain  # served on the pool's word: the wrapper still explores it
    assert late.lookup("at 0.93 b", LLM) is None  # no pooled evidence from 0.88 to 0.93
    # The writer had read these bands (empty) before it observed: its own observations count
    # at once (the reader's copy is refreshed after POOL_REFRESH seconds: the unit tests).
    assert writer.lookup("at 0.97 c", LLM) == [Generation(text=ANSWER)]
    with pytest.raises(ConfigurationError):
        writer.observe("not-an-id", 0.96, right=True)


class Spread(Embeddings):
    """``"entry K"`` is basis vector K (K < 32); ``"at c K tag"`` is at cosine c to entry K and
    orthogonal to every other entry, so requests near one entry never come near another."""

    dimension = 64

    def embed_query(self, text: str) -> list[float]:
        words = text.split(" ")
        vector = [0.0] * self.dimension
        if words[0] == "entry":
            vector[int(words[1])] = 1.0
            return vector
        c, k = float(words[1]), int(words[2])
        angle = (zlib.crc32(words[3].encode()) % 1000) / 1000 * math.pi / 2
        vector[k] = c
        vector[32 + k] = math.sqrt(1 - c * c) * math.cos(angle)
        vector[32 + (k + 1) % 32] = math.sqrt(1 - c * c) * math.sin(angle)
        return vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]


def test_ten_entries_observed_once_each_teach_an_eleventh_through_the_wrapper(
    cassandra_session, cassandra_keyspace, table
):
    def cache(**options: object) -> CassandraSemanticCache:
        return CassandraSemanticCache(
            cassandra_session,
            cassandra_keyspace,
            Spread(),
            table,
            score_threshold=0.5,
            guard=False,
            max_wrong_rate=0.3,
            **options,
        )

    seeder, learner = cache(), cache(should_cache=lambda _: False)
    chat, probe = chat_wrapper(learner, ANSWER, explore=0.0)
    for k in range(11):
        seed_entry_as(seeder, chat, f"entry {k}")
    for k in range(10):  # each a miss at 0.96: the model runs, its answer judged right
        assert chat.invoke(ask(f"at 0.96 {k} q")).content == ANSWER
    assert probe.calls == 10
    assert chat.learning_stats().observations == 10

    # Entry 10 was never observed; the pool's ten right answers at 0.96 serve it at 0.97.
    assert chat.invoke(ask("at 0.97 10 q")).content == ANSWER
    assert probe.calls == 10
    assert chat.invoke(ask("at 0.94 10 q")).content == ANSWER  # a miss: the pool has no 0.89-0.94
    assert probe.calls == 11


def seed_entry_as(cache, chat, text: str) -> None:
    entry = chat._call(ask(text), None, {})
    cache.update(entry.prompt, entry.llm_string, [Generation(text=ANSWER)])


def test_an_entrys_own_wrong_answers_outrank_the_pool(cassandra_session, cassandra_keyspace, table):
    cache = make_cache(cassandra_session, cassandra_keyspace, table, max_wrong_rate=0.3)
    cache.update("entry", LLM, [Generation(text=ANSWER)])

    async def run() -> None:
        for index in range(30):
            other = cache.document_id(f"at 0.2 other{index}", LLM)
            await cache.aobserve(other, 0.96, right=True)
        assert (await cache.alookup_adaptive("at 0.97 a", LLM)).hit is not None
        entry = cache.document_id("entry", LLM)
        for _ in range(3):
            await cache.aobserve(entry, 0.96, right=False)
        refused = await cache.alookup_adaptive("at 0.97 b", LLM)
        assert refused.hit is None
        assert refused.refused is not None
        assert refused.refused.document_id == entry

    asyncio.run(run())
    assert cache.stats().observations == 33


def seeder_and_learner(session, keyspace, table):
    """A cache that writes the entry, and one on the same table that stores nothing (so each
    request is judged against that one entry, never against the answers of earlier ones)."""
    seeder = make_cache(session, keyspace, table, max_wrong_rate=0.3)
    learner = make_cache(session, keyspace, table, max_wrong_rate=0.3, should_cache=lambda _: False)
    return seeder, learner


def seed_entry(cache, chat) -> None:
    entry = chat._call(ask("entry"), None, {})
    cache.update(entry.prompt, entry.llm_string, [Generation(text=ANSWER)])


def chat_wrapper(cache, reply: str, **options) -> tuple[CachedChatModel, Probe]:
    probe = Probe()
    model = ScriptedChat(reply=reply, probe=probe)
    return CachedChatModel(model, cache, coalesce=None, **options), probe


def ask(text: str) -> list[HumanMessage]:
    return [HumanMessage(content=text)]


def recording_judge() -> tuple[list[tuple[str, str]], Callable[[str, str], bool]]:
    """A judge that calls every answer right, and the (cached, fresh) pairs it was shown."""
    verdicts: list[tuple[str, str]] = []

    def judge(cached: str, fresh: str) -> bool:
        verdicts.append((cached, fresh))
        return True

    return verdicts, judge


def test_a_refused_candidate_is_judged_for_free(cassandra_session, cassandra_keyspace, table):
    seeder, cache = seeder_and_learner(cassandra_session, cassandra_keyspace, table)
    verdicts, judge = recording_judge()
    chat, probe = chat_wrapper(cache, "Different words entirely.", judge=judge, seed=1)
    seed_entry(seeder, chat)
    for index in range(10):
        assert chat.invoke(ask(f"at 0.96 q{index}")).content == "Different words entirely."
    assert probe.calls == 10
    assert len(verdicts) == 10
    assert verdicts[0] == (ANSWER, "Different words entirely.")  # the judge decides: right
    assert chat.learning_stats().observations == 10
    assert chat.learning_stats().checks == 0  # misses: the model ran anyway

    assert chat.invoke(ask("at 0.97 next")).content == ANSWER  # now certain: served
    assert probe.calls == 10


def test_exploration_calls_the_model_and_is_counted(cassandra_session, cassandra_keyspace, table):
    seeder, cache = seeder_and_learner(cassandra_session, cassandra_keyspace, table)
    fresh = ANSWER.replace(".", "!")  # the same words: the default judge calls it right
    chat, probe = chat_wrapper(cache, fresh, explore=0.5, seed=7)
    seed_entry(seeder, chat)
    answers = [chat.invoke(ask(f"at 0.995 r{index}")).content for index in range(8)]
    stats = chat.learning_stats()
    assert probe.calls == stats.checks
    assert 0 < stats.checks < 8
    assert stats.observations == stats.checks
    assert stats.judged_wrong == 0
    assert answers.count(fresh) == stats.checks  # an explored request gets the fresh answer
    assert answers.count(ANSWER) == 8 - stats.checks
    assert cache.stats().observations == stats.checks


def test_the_default_judge_records_a_different_answer_as_wrong(
    cassandra_session, cassandra_keyspace, table
):
    seeder, cache = seeder_and_learner(cassandra_session, cassandra_keyspace, table)
    chat, probe = chat_wrapper(cache, "Lyon, surely.", explore=1.0, seed=0)
    seed_entry(seeder, chat)
    assert chat.invoke(ask("at 0.995 w1")).content == "Lyon, surely."
    assert chat.invoke(ask("at 0.995 w2")).content == "Lyon, surely."
    assert chat.learning_stats() == type(chat.learning_stats())(2, 2, 2)
    # Two wrong answers out of two at this closeness: the bound stops the entry (a miss now).
    closer = chat._call(ask("at 0.998 w3"), None, {})
    assert cache.lookup_adaptive(closer.prompt, closer.llm_string).hit is None
    assert probe.calls == 2


def test_other_caches_and_no_bound_are_unaffected(cassandra_session, cassandra_keyspace, table):
    cache = make_cache(cassandra_session, cassandra_keyspace, table)
    chat, probe = chat_wrapper(cache, "Lyon, surely.", explore=1.0, seed=0)
    entry = chat._call(ask("entry"), None, {})
    cache.update(entry.prompt, entry.llm_string, [Generation(text=ANSWER)])
    assert chat.invoke(ask("at 0.95 x")).content == ANSWER
    assert probe.calls == 0
    assert chat.learning_stats().checks == 0


def test_async_learning(cassandra_session, cassandra_keyspace, table):
    cache = make_cache(cassandra_session, cassandra_keyspace, table, max_wrong_rate=0.3)
    chat, probe = chat_wrapper(cache, ANSWER, explore=1.0, seed=0)

    async def run() -> None:
        entry = chat._call(ask("entry"), None, {})
        await cache.aupdate(entry.prompt, entry.llm_string, [Generation(text=ANSWER)])
        message = await chat.ainvoke(ask("at 0.995 async"))
        assert message.content == ANSWER

    asyncio.run(run())
    assert probe.calls == 1
    assert chat.learning_stats().checks == 1
    assert chat.learning_stats().observations == 1
    assert chat.learning_stats().judged_wrong == 0
    assert cache.stats().observations == 1


# --- observations follow their entries: clears, deletes, rewrites; the DDL; CachedLLM ----------


def observation_count(
    session, keyspace, table, document_id: str | None = None, namespace: str = ""
) -> int:
    """Observations stored in Cassandra: all of the table's, or one entry's."""
    qualified = f"{keyspace}.{table}_observations"
    if document_id is None:
        return session.execute(f"SELECT COUNT(*) FROM {qualified}").one()[0]
    prompt_hex, _, llm_hex = document_id.partition("-")
    return session.execute(
        f"SELECT COUNT(*) FROM {qualified} "
        "WHERE namespace = %s AND llm_key = %s AND prompt_key = %s",
        (namespace, bytes.fromhex(llm_hex), bytes.fromhex(prompt_hex)),
    ).one()[0]


def observed_entry(cache, prompt: str = "entry", llm: str = LLM, count: int = 10) -> str:
    """Stores ``prompt``'s entry and ``count`` right observations of it at 0.96; its id."""
    cache.update(prompt, llm, [Generation(text=ANSWER)])
    document_id = cache.document_id(prompt, llm)
    for _ in range(count):
        cache.observe(document_id, 0.96, right=True)
    return document_id


def test_clear_truncates_the_observations(cassandra_session, cassandra_keyspace, table):
    cache = make_cache(cassandra_session, cassandra_keyspace, table, max_wrong_rate=0.3)
    observed_entry(cache)
    assert cache.lookup_adaptive("at 0.97 a", LLM).hit.certain  # the evidence serves it
    # Ten of the entry's and the same ten in its model's pool.
    assert observation_count(cassandra_session, cassandra_keyspace, table) == 20
    cache.clear()
    assert observation_count(cassandra_session, cassandra_keyspace, table) == 0
    cache.update("entry", LLM, [Generation(text="Another answer.")])
    assert cache.lookup("at 0.97 b", LLM) is None  # no evidence, pooled or its own, is left


def test_a_scoped_clear_removes_only_its_observations(cassandra_session, cassandra_keyspace, table):
    tenant = make_cache(
        cassandra_session, cassandra_keyspace, table, max_wrong_rate=0.3, namespace="t1"
    )
    neighbour = make_cache(
        cassandra_session, cassandra_keyspace, table, max_wrong_rate=0.3, namespace="t2"
    )
    one = observed_entry(tenant)
    other_model = observed_entry(tenant, llm="other-llm", count=3)
    # An entry gone before the clear (expired, or deleted by an older version): its observations
    # are found by scanning the observations table itself.
    ghost = tenant.document_id("at 0.5 ghost", LLM)
    tenant.observe(ghost, 0.96, right=False)
    same_key = observed_entry(neighbour, count=4)  # the same entry key, another namespace
    assert same_key == one

    def counts() -> tuple[int, ...]:
        return tuple(
            observation_count(cassandra_session, cassandra_keyspace, table, key, namespace)
            for key, namespace in ((one, "t1"), (other_model, "t1"), (ghost, "t1"), (one, "t2"))
        )

    assert counts() == (10, 3, 1, 4)
    tenant.clear(llm_string=LLM)
    assert counts() == (0, 3, 0, 4)
    tenant.clear()
    assert counts() == (0, 0, 0, 4)
    # The neighbour's four, and the same four in its pool.
    assert observation_count(cassandra_session, cassandra_keyspace, table) == 8


def test_async_clears_remove_the_observations(cassandra_session, cassandra_keyspace, table):
    tenant = make_cache(
        cassandra_session, cassandra_keyspace, table, max_wrong_rate=0.3, namespace="t1"
    )
    whole = make_cache(cassandra_session, cassandra_keyspace, table, max_wrong_rate=0.3)
    scoped = observed_entry(tenant)
    other = observed_entry(whole, count=2)

    async def run() -> None:
        await tenant.aclear(llm_string=LLM)
        assert observation_count(cassandra_session, cassandra_keyspace, table, scoped, "t1") == 0
        assert observation_count(cassandra_session, cassandra_keyspace, table, other) == 2
        await whole.aclear()

    asyncio.run(run())
    assert observation_count(cassandra_session, cassandra_keyspace, table) == 0


def test_deletes_remove_the_entrys_observations(cassandra_session, cassandra_keyspace, table):
    cache = make_cache(cassandra_session, cassandra_keyspace, table, max_wrong_rate=0.3)
    first = observed_entry(cache, "entry")
    second = observed_entry(cache, "at 0.5 second", count=2)
    third = observed_entry(cache, "at 0.4 third", count=3)
    fourth = observed_entry(cache, "at 0.3 fourth", count=4)
    count = lambda document_id: observation_count(  # noqa: E731
        cassandra_session, cassandra_keyspace, table, document_id
    )
    cache.delete("entry", LLM)
    assert (count(first), count(second)) == (0, 2)
    cache.delete_by_document_id(second)
    assert (count(second), count(third)) == (0, 3)

    async def run() -> None:
        await cache.adelete("at 0.4 third", LLM)
        assert (count(third), count(fourth)) == (0, 4)
        await cache.adelete_by_document_id(fourth)

    asyncio.run(run())
    # The model's pool keeps all 19: they tell about requests at 0.96 to any of its entries.
    assert observation_count(cassandra_session, cassandra_keyspace, table) == 19


def test_a_rewritten_entry_starts_without_evidence(cassandra_session, cassandra_keyspace, table):
    cache = make_cache(cassandra_session, cassandra_keyspace, table, max_wrong_rate=0.3)
    entry = observed_entry(cache)
    kept = observed_entry(cache, "at 0.5 kept", count=2)
    assert cache.lookup_adaptive("at 0.97 a", LLM).hit.certain
    cache.update("entry", LLM, [Generation(text="Lyon is the capital of France.")])
    assert observation_count(cassandra_session, cassandra_keyspace, table, entry) == 0
    assert observation_count(cassandra_session, cassandra_keyspace, table, kept) == 2
    found = cache.lookup_adaptive("at 0.97 b", LLM).hit
    assert found is not None  # the pool's 12 right answers at 0.96 serve the new answer,
    assert not found.certain  # but not as certain: its own evidence is gone
    for _ in range(10):
        cache.observe(entry, 0.96, right=True)

    async def run() -> None:
        await cache.aupdate("entry", LLM, [Generation(text=ANSWER)])

    asyncio.run(run())
    assert observation_count(cassandra_session, cassandra_keyspace, table, entry) == 0


def test_a_cache_without_the_bound_still_clears_the_observations(
    cassandra_session, cassandra_keyspace, table
):
    bounded = make_cache(cassandra_session, cassandra_keyspace, table, max_wrong_rate=0.3)
    entry = observed_entry(bounded)
    observed_entry(bounded, "at 0.5 other", count=2)
    plain = make_cache(cassandra_session, cassandra_keyspace, table)  # e.g. the CLI's clear
    other = plain.document_id("at 0.5 other", LLM)
    assert observation_count(cassandra_session, cassandra_keyspace, table, other) == 2
    # Its rewrite drops the old answer's observations, as a bounded cache's would.
    plain.update("at 0.5 other", LLM, [Generation(text="Rewritten.")])
    assert observation_count(cassandra_session, cassandra_keyspace, table, other) == 0
    plain.delete_by_document_id(entry)
    assert observation_count(cassandra_session, cassandra_keyspace, table, entry) == 0
    assert observation_count(cassandra_session, cassandra_keyspace, table) == 12  # the pool
    plain.clear()
    assert observation_count(cassandra_session, cassandra_keyspace, table) == 0


def test_schema_cql_creates_a_usable_observations_table(cassandra_session):
    keyspace = f"adapt_ddl_{uuid.uuid4().hex[:8]}"
    replication = {"class": "SimpleStrategy", "replication_factor": 1}
    plain = CassandraSemanticCache.schema_cql(keyspace, "answers", embedding_dimension=4)
    assert "_observations" not in plain  # the signature without the option: as before
    ddl = CassandraSemanticCache.schema_cql(
        keyspace,
        "answers",
        embedding_dimension=4,
        keyspace_replication=replication,
        max_wrong_rate=0.3,
    )
    assert ddl.startswith(plain.split("CREATE TABLE")[0])
    assert f'"{keyspace}"."answers_observations"' in ddl
    with pytest.raises(ConfigurationError, match="max_wrong_rate"):
        CassandraSemanticCache.schema_cql(keyspace, embedding_dimension=4, max_wrong_rate=0.7)

    def off_cache() -> CassandraSemanticCache:
        return CassandraSemanticCache(
            cassandra_session,
            keyspace,
            Scripted(),
            "answers",
            score_threshold=0.5,
            guard=False,
            setup_mode="off",
            max_wrong_rate=0.3,
        )

    statements = [statement for statement in ddl.split(";") if statement.strip()]
    try:
        for statement in statements[:-1]:  # all but the observations table
            cassandra_session.execute(statement, timeout=60)
        with pytest.raises(SetupError, match=r"answers_observations does not exist.*schema_cql"):
            off_cache().clear()  # setup under OFF reads and prepares, on first use
        cassandra_session.execute(statements[-1], timeout=60)
        cache = off_cache()
        entry = observed_entry(cache)
        served = cache.lookup_adaptive("at 0.97 a", LLM).hit
        assert served is not None
        assert served.certain
        assert observation_count(cassandra_session, keyspace, "answers", entry) == 10
    finally:
        cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)


# --- CachedLLM learns as CachedChatModel does ------------------------------------------------


def llm_wrapper(cache, reply: str, **options) -> tuple[CachedLLM, Probe]:
    probe = Probe()
    return CachedLLM(ScriptedLLM(reply=reply, probe=probe), cache, coalesce=None, **options), probe


def seed_llm_entry(cache, llm: CachedLLM) -> None:
    entry = llm._call("entry", None, {})
    cache.update(entry.prompt, entry.llm_string, [Generation(text=ANSWER)])


def test_cached_llm_learns_from_refused_candidates(cassandra_session, cassandra_keyspace, table):
    seeder, cache = seeder_and_learner(cassandra_session, cassandra_keyspace, table)
    verdicts, judge = recording_judge()
    llm, probe = llm_wrapper(cache, "Different words entirely.", judge=judge, seed=1)
    seed_llm_entry(seeder, llm)
    for index in range(6):
        assert llm.invoke(f"at 0.96 q{index}") == "Different words entirely."
    # Several prompts in one call: looked up one by one, each judged after the one model call.
    answers = llm.batch([f"at 0.96 b{index}" for index in range(4)])
    assert answers == ["Different words entirely."] * 4
    assert probe.calls == 10
    assert verdicts[0] == (ANSWER, "Different words entirely.")
    assert len(verdicts) == 10
    assert llm.learning_stats() == LearningStats(checks=0, observations=10, judged_wrong=0)
    entry = llm._call("entry", None, {})
    document_id = cache.document_id(entry.prompt, entry.llm_string)
    assert observation_count(cassandra_session, cassandra_keyspace, table, document_id) == 10

    assert llm.invoke("at 0.97 next") == ANSWER  # now certain: served
    assert probe.calls == 10


def test_cached_llm_explores_and_counts_its_checks(cassandra_session, cassandra_keyspace, table):
    seeder, cache = seeder_and_learner(cassandra_session, cassandra_keyspace, table)
    llm, probe = llm_wrapper(cache, "Lyon, surely.", explore=1.0, seed=0)
    seed_llm_entry(seeder, llm)
    assert llm.invoke("at 0.995 w1") == "Lyon, surely."

    async def run() -> list[str]:
        return [await llm.ainvoke("at 0.995 w2")]

    assert asyncio.run(run()) == ["Lyon, surely."]
    assert probe.calls == 2
    assert llm.learning_stats() == LearningStats(checks=2, observations=2, judged_wrong=2)
    assert cache.stats().observations == 2
    # Two wrong answers at this closeness: the entry is stopped even above 0.99 (a miss now).
    closer = llm._call("at 0.998 w3", None, {})
    assert cache.lookup_adaptive(closer.prompt, closer.llm_string).hit is None


def test_cached_llm_options_are_checked_and_inert_without_the_bound(
    cassandra_session, cassandra_keyspace, table
):
    with pytest.raises(ConfigurationError, match="explore"):
        llm_wrapper(None, ANSWER, explore=2)
    with pytest.raises(ConfigurationError, match="judge"):
        llm_wrapper(None, ANSWER, judge="yes")
    cache = make_cache(cassandra_session, cassandra_keyspace, table)
    llm, probe = llm_wrapper(cache, "Lyon, surely.", explore=1.0, seed=0)
    seed_llm_entry(cache, llm)
    assert llm.invoke("at 0.95 x") == ANSWER
    assert llm.batch(["at 0.95 y", "at 0.95 z"]) == [ANSWER, ANSWER]
    assert probe.calls == 0
    assert llm.learning_stats() == LearningStats()
