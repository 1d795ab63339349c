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

import pytest
from cassandra.cluster import Cluster
from langchain_core.embeddings import Embeddings
from langchain_core.messages import HumanMessage
from langchain_core.outputs import Generation

from cassandra_llm_cache import CachedChatModel, CassandraSemanticCache
from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache._semantic.adaptive import same_answer, wilson_lower, wilson_upper
from streaming_fakes import Probe, ScriptedChat

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


def test_a_refused_candidate_is_judged_for_free(cassandra_session, cassandra_keyspace, table):
    seeder, cache = seeder_and_learner(cassandra_session, cassandra_keyspace, table)
    verdicts: list[tuple[str, str]] = []

    def judge(cached: str, fresh: str) -> bool:
        verdicts.append((cached, fresh))
        return True

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
