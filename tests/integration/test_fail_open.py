"""The error policy, the circuit breaker, consistency levels and a failed setup, on the real node.

Failures are real server answers, never mocks: a consistency level the single-replica keyspace
cannot meet (the server answers ``Unavailable``), a table dropped under a running cache
(``InvalidRequest``), a keyspace that does not exist yet. Under the default ``on_error="miss"``
no exception reaches the application (nor a LangChain model); ``on_error="raise"`` raises.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import pytest
from cassandra import Unavailable
from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile, NoHostAvailable
from cassandra.policies import FallthroughRetryPolicy
from langchain_core.language_models import FakeListChatModel
from langchain_core.outputs import Generation

from cassandra_llm_cache import (
    CacheOperationError,
    CassandraCache,
    CassandraSemanticCache,
    CircuitBreaker,
    ConfigurationError,
    SetupMode,
)
from cassandra_llm_cache.testing import DeterministicEmbeddings

GEN = [Generation(text="cached answer")]
SECRET_PROMPT = f"SECRET-PROMPT-{uuid.uuid4().hex}"


def answer_as_is(session) -> ExecutionProfile:
    """The session's default profile, except that the server's ``Unavailable`` is raised as is.

    Under the driver's default retry policy an ``Unavailable`` is retried on the next host and,
    with none left, raised inside ``NoHostAvailable``. cassandra-driver 3.30 schedules that retry
    before it records the host's error, so the ``NoHostAvailable`` can still read ``{}`` when the
    cache words its message (seen once in CI). Tests that check that the server's answer reaches
    the message and the logs use this profile; the default policy has its own test below.
    """
    return session.execution_profile_clone_update(
        EXEC_PROFILE_DEFAULT, retry_policy=FallthroughRetryPolicy()
    )


def unmeetable(session, keyspace, table_name, **options) -> CassandraCache:
    """A cache whose every lookup and update the server refuses: CL TWO on a keyspace of RF=1."""
    return CassandraCache(
        session,
        keyspace,
        table_name,
        read_consistency="TWO",
        write_consistency="TWO",
        execution_profile=answer_as_is(session),
        **options,
    )


def test_failed_calls_are_misses_and_no_ops_counted_and_logged_once(
    cassandra_session, cassandra_keyspace, table_name, caplog
):
    cache = unmeetable(cassandra_session, cassandra_keyspace, table_name, circuit_breaker=False)
    with caplog.at_level(logging.DEBUG, logger="cassandra_llm_cache"):
        for _ in range(3):
            cache.update(SECRET_PROMPT, "llm", GEN)
            assert cache.lookup(SECRET_PROMPT, "llm") is None
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.writes, stats.errors) == (0, 3, 0, 6)
    assert stats.skipped == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # one per kind of failure (lookup, update), then DEBUG
    assert any("lookup" in w and "Unavailable" in w and "a miss" in w for w in warnings)
    assert any("update" in w and "Unavailable" in w and "not cached" in w for w in warnings)
    assert SECRET_PROMPT not in caplog.text
    assert "cached answer" not in caplog.text


@pytest.mark.asyncio
async def test_failed_async_calls_are_misses_and_no_ops(
    cassandra_session, cassandra_keyspace, table_name
):
    cache = unmeetable(cassandra_session, cassandra_keyspace, table_name, circuit_breaker=False)
    await cache.aupdate("p", "llm", GEN)
    assert await cache.alookup("p", "llm") is None
    results = await asyncio.gather(*(cache.alookup(f"p{i}", "llm") for i in range(20)))
    assert results == [None] * 20
    stats = cache.stats()
    assert (stats.misses, stats.writes, stats.errors) == (21, 0, 22)


def test_a_langchain_model_never_sees_the_cache_fail(
    cassandra_session, cassandra_keyspace, table_name
):
    cache = unmeetable(cassandra_session, cassandra_keyspace, table_name)
    model = FakeListChatModel(responses=["first", "second"], cache=cache)
    assert model.invoke("question").content == "first"
    assert model.invoke("question").content == "second"  # not cached: the model answered again
    assert cache.stats().errors == 4


def test_on_error_raise_raises_with_the_driver_error_as_cause(
    cassandra_session, cassandra_keyspace, table_name
):
    cache = unmeetable(cassandra_session, cassandra_keyspace, table_name, on_error="raise")
    with pytest.raises(CacheOperationError, match=r"lookup on .* failed: Unavailable: ") as caught:
        cache.lookup(SECRET_PROMPT, "llm")
    assert isinstance(caught.value.__cause__, Unavailable)
    assert "Cannot achieve consistency level TWO" in str(caught.value)
    assert SECRET_PROMPT not in str(caught.value)
    with pytest.raises(CacheOperationError, match=r"update on .* failed: Unavailable: "):
        cache.update(SECRET_PROMPT, "llm", GEN)
    assert cache.stats().errors == 2


def test_under_the_default_retry_policy_the_answer_comes_inside_no_host_available(
    cassandra_session, cassandra_keyspace, table_name
):
    cache = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, read_consistency="TWO", on_error="raise"
    )
    with pytest.raises(
        CacheOperationError, match=r"lookup on .* failed: NoHostAvailable"
    ) as caught:
        cache.lookup(SECRET_PROMPT, "llm")
    # The driver retried on the next host (there is none). It records the host's Unavailable just
    # after scheduling that retry, so the error may arrive a moment after the exception.
    cause = caught.value.__cause__
    assert isinstance(cause, NoHostAvailable)
    deadline = time.monotonic() + 2.0
    while not cause.errors and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [type(error) for error in cause.errors.values()] == [Unavailable]
    assert SECRET_PROMPT not in str(caught.value)


@pytest.mark.asyncio
async def test_on_error_raise_raises_in_async_calls_too(
    cassandra_session, cassandra_keyspace, table_name
):
    cache = unmeetable(cassandra_session, cassandra_keyspace, table_name, on_error="raise")
    with pytest.raises(CacheOperationError, match=r"lookup on .* failed: Unavailable: "):
        await cache.alookup("p", "llm")
    with pytest.raises(CacheOperationError, match=r"update on .* failed: Unavailable: "):
        await cache.aupdate("p", "llm", GEN)


def test_deletes_and_clears_always_raise(cassandra_session, cassandra_keyspace, table_name):
    cache = unmeetable(cassandra_session, cassandra_keyspace, table_name)
    with pytest.raises(CacheOperationError, match=r"delete on .* failed: Unavailable: "):
        cache.delete("p", "llm")


def test_consistency_levels_are_the_servers_to_meet(
    cassandra_session, cassandra_keyspace, table_name
):
    # RF=1: ALL and QUORUM are one replica, so they work; TWO cannot (the test above).
    cache = CassandraCache(
        cassandra_session,
        cassandra_keyspace,
        table_name,
        read_consistency="ALL",
        write_consistency="quorum",
        on_error="raise",
    )
    cache.update("p", "llm", GEN)
    assert cache.lookup("p", "llm") == GEN
    # Only the writes are refused when only the write level cannot be met.
    writes_refused = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, write_consistency="TWO"
    )
    assert writes_refused.lookup("p", "llm") == GEN
    writes_refused.update("p2", "llm", GEN)
    assert writes_refused.stats().errors == 1


@pytest.mark.parametrize(
    "case",
    [
        ("on_error", "ignore", "on_error must be 'miss' or 'raise'"),
        ("request_timeout", 0, "request_timeout must be > 0"),
        ("request_timeout", float("nan"), "request_timeout must be > 0"),
        ("read_consistency", "SERIAL", "read_consistency cannot be SERIAL"),
        ("write_consistency", "MOST", "write_consistency must be a consistency level"),
        ("max_value_bytes", 0, "max_value_bytes must be a positive number"),
        ("should_cache", "yes", "should_cache must be a callable"),
        ("circuit_breaker", "on", "circuit_breaker must be a CircuitBreaker"),
    ],
)
def test_bad_options_are_refused_before_any_request(
    cassandra_session, cassandra_keyspace, table_name, case
):
    option, value, message = case
    with pytest.raises(ConfigurationError, match=message):
        CassandraCache(cassandra_session, cassandra_keyspace, table_name, **{option: value})
    with pytest.raises(ConfigurationError, match=message):
        CassandraSemanticCache(
            cassandra_session,
            cassandra_keyspace,
            DeterministicEmbeddings(4),
            table_name,
            **{option: value},
        )


def test_non_default_options_show_in_the_repr(cassandra_session, cassandra_keyspace, table_name):
    cache = CassandraCache(
        cassandra_session,
        cassandra_keyspace,
        table_name,
        on_error="raise",
        request_timeout=0.5,
        read_consistency="LOCAL_QUORUM",
    )
    text = repr(cache)
    assert "on_error='raise', request_timeout=0.5, read_consistency='LOCAL_QUORUM'" in text
    assert "0x" not in text
    assert "request_timeout" not in repr(
        CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    )


# -- the circuit breaker -------------------------------------------------------------------------


def drop(session, keyspace, table) -> None:
    session.execute(f"DROP TABLE {keyspace}.{table}", timeout=60)


def test_the_breaker_opens_skips_calls_and_the_same_cache_recovers(
    cassandra_session, cassandra_keyspace, table_name
):
    breaker = CircuitBreaker(failure_threshold=3, cool_down=1.0)
    cache = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, circuit_breaker=breaker
    )
    cache.update("before", "llm", GEN)
    assert cache.lookup("before", "llm") == GEN
    assert cache.stats().breaker == "closed"

    drop(cassandra_session, cassandra_keyspace, table_name)  # a schema surprise at run time
    for _ in range(3):
        assert cache.lookup("before", "llm") is None
    assert cache.stats().errors == 3
    assert cache.stats().breaker == "open"

    # While open: nothing is sent, each call costs microseconds, nothing is raised.
    spent = []
    for index in range(200):
        began = time.perf_counter()
        assert cache.lookup(f"q{index}", "llm") is None
        cache.update(f"q{index}", "llm", GEN)
        spent.append(time.perf_counter() - began)
    stats = cache.stats()
    assert stats.errors == 3
    assert stats.skipped == 400
    assert sorted(spent)[len(spent) // 2] < 0.001  # lookup + update, median

    # The table comes back; after the cool-down one probe closes the breaker.
    CassandraCache(cassandra_session, cassandra_keyspace, table_name)  # recreates it
    time.sleep(breaker.cool_down)
    cache.update("after", "llm", GEN)
    assert cache.stats().breaker == "closed"
    assert cache.lookup("after", "llm") == GEN
    assert breaker.snapshot().times_opened == 1


@pytest.mark.asyncio
async def test_the_breaker_gates_async_calls(cassandra_session, cassandra_keyspace, table_name):
    breaker = CircuitBreaker(failure_threshold=2, cool_down=60.0)
    cache = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, circuit_breaker=breaker
    )
    drop(cassandra_session, cassandra_keyspace, table_name)
    assert await cache.alookup("a", "llm") is None
    await cache.aupdate("a", "llm", GEN)
    assert cache.stats().breaker == "open"
    results = await asyncio.gather(*(cache.alookup(f"p{i}", "llm") for i in range(50)))
    assert results == [None] * 50
    stats = cache.stats()
    assert (stats.errors, stats.skipped, stats.misses) == (2, 50, 51)


def test_an_open_breaker_raises_under_on_error_raise(
    cassandra_session, cassandra_keyspace, table_name
):
    breaker = CircuitBreaker(failure_threshold=1, cool_down=60.0)
    cache = CassandraCache(
        cassandra_session,
        cassandra_keyspace,
        table_name,
        circuit_breaker=breaker,
        on_error="raise",
    )
    drop(cassandra_session, cassandra_keyspace, table_name)
    with pytest.raises(CacheOperationError, match="failed: InvalidRequest"):
        cache.lookup("p", "llm")
    with pytest.raises(CacheOperationError, match="not sent: the circuit breaker is open"):
        cache.lookup("p", "llm")
    # Explicit administration is not gated: it reaches the server (and fails there).
    with pytest.raises(CacheOperationError, match=r"delete on .* failed: InvalidRequest"):
        cache.delete("p", "llm")


def test_one_breaker_can_guard_several_caches(cassandra_session, cassandra_keyspace, table_name):
    breaker = CircuitBreaker(failure_threshold=2, cool_down=60.0)
    failing = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, circuit_breaker=breaker
    )
    other = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name + "_b", circuit_breaker=breaker
    )
    drop(cassandra_session, cassandra_keyspace, table_name)
    failing.lookup("p", "llm")
    failing.lookup("p", "llm")
    assert other.lookup("p", "llm") is None
    assert other.stats().skipped == 1  # the shared breaker is open: not sent
    cassandra_session.execute(f"DROP TABLE {cassandra_keyspace}.{table_name}_b", timeout=60)


# -- a failed setup ------------------------------------------------------------------------------


def wait_for(condition, timeout: float) -> float:
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            pytest.fail(f"not within {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - began


def test_a_failed_async_setup_is_misses_then_retried_until_it_works(cassandra_session, caplog):
    keyspace = f"ks_later_{uuid.uuid4().hex[:8]}"
    cache = CassandraCache(cassandra_session, keyspace, "t", setup_mode=SetupMode.ASYNC)
    try:
        with caplog.at_level(logging.WARNING, logger="cassandra_llm_cache"):
            assert cache.lookup("p", "llm") is None
            cache.update("p", "llm", GEN)
            assert cache.lookup("p", "llm") is None
        stats = cache.stats()
        assert (stats.misses, stats.writes, stats.errors, stats.skipped) == (2, 0, 1, 3)
        assert "lookups are misses and updates are skipped until its setup succeeds" in caplog.text
        cassandra_session.execute(
            f"CREATE KEYSPACE {keyspace} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        )

        def works() -> bool:
            cache.update("p", "llm", GEN)
            return cache.lookup("p", "llm") == GEN

        waited = wait_for(works, timeout=30)
        assert waited < 30
        assert cache.stats().writes >= 1
    finally:
        cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)


@pytest.mark.asyncio
async def test_a_failed_setup_does_not_block_async_calls(cassandra_session):
    keyspace = f"ks_missing_{uuid.uuid4().hex[:8]}"
    cache = CassandraCache(cassandra_session, keyspace, "t", setup_mode=SetupMode.ASYNC)
    assert await cache.alookup("p", "llm") is None
    await cache.aupdate("p", "llm", GEN)
    began = time.perf_counter()
    for _ in range(100):
        assert await cache.alookup("p", "llm") is None
    assert time.perf_counter() - began < 1.0  # no waiting on a setup that failed
    assert cache.stats().errors == 1


# -- the semantic cache, through the same seam ---------------------------------------------------


def semantic(session, keyspace, table_name, embeddings, **options) -> CassandraSemanticCache:
    return CassandraSemanticCache(
        session, keyspace, embeddings, table_name, score_threshold=0.9, **options
    )


def test_semantic_failures_are_misses_without_an_embedding(
    cassandra_session, cassandra_keyspace, table_name
):
    embeddings = DeterministicEmbeddings(8)
    cache = semantic(
        cassandra_session,
        cassandra_keyspace,
        table_name,
        embeddings,
        read_consistency="TWO",
        write_consistency="TWO",
        circuit_breaker=False,
    )
    assert cache.lookup("what is the capital of France?", "llm") is None
    assert embeddings.calls == 0  # the key read failed: no embedding, no vector search
    cache.update("what is the capital of France?", "llm", GEN)
    stats = cache.stats()
    assert (stats.misses, stats.writes, stats.errors) == (1, 0, 2)


@pytest.mark.asyncio
async def test_semantic_async_failures_are_misses(
    cassandra_session, cassandra_keyspace, table_name
):
    embeddings = DeterministicEmbeddings(8)
    cache = semantic(
        cassandra_session, cassandra_keyspace, table_name, embeddings, read_consistency="TWO"
    )
    assert await cache.alookup("question", "llm") is None
    assert embeddings.calls == 0
    await cache.aupdate("question", "llm", GEN)  # writes still work
    assert cache.stats().writes == 1


def test_semantic_raise_policy_and_breaker(cassandra_session, cassandra_keyspace, table_name):
    embeddings = DeterministicEmbeddings(8)
    strict = semantic(
        cassandra_session,
        cassandra_keyspace,
        table_name,
        embeddings,
        read_consistency="TWO",
        on_error="raise",
        execution_profile=answer_as_is(cassandra_session),
    )
    with pytest.raises(CacheOperationError, match=r"lookup on .* failed: Unavailable: "):
        strict.lookup("question", "llm")
    breaker = CircuitBreaker(failure_threshold=2, cool_down=60.0)
    cache = semantic(
        cassandra_session,
        cassandra_keyspace,
        table_name,
        embeddings,
        read_consistency="TWO",
        circuit_breaker=breaker,
    )
    for _ in range(5):
        assert cache.lookup("question", "llm") is None
    stats = cache.stats()
    assert (stats.errors, stats.skipped, stats.breaker) == (2, 3, "open")


def test_semantic_failed_setup_is_a_miss(cassandra_session):
    keyspace = f"ks_missing_{uuid.uuid4().hex[:8]}"
    cache = CassandraSemanticCache(
        cassandra_session, keyspace, DeterministicEmbeddings(8), setup_mode=SetupMode.ASYNC
    )
    assert cache.lookup("question", "llm") is None
    cache.update("question", "llm", GEN)
    stats = cache.stats()
    assert (stats.misses, stats.writes, stats.errors) == (1, 0, 1)
