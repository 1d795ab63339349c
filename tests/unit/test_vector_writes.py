"""Vector inserts: the per-cache limit and the retries of Cassandra's pool-limit failure."""

from __future__ import annotations

import asyncio

import pytest
from cassandra import InvalidRequest, WriteFailure

from cassandra_llm_cache._errors import CacheOperationError
from cassandra_llm_cache._semantic.vector_writes import ATTEMPTS, VectorWriteGate


def failure(cause: Exception) -> CacheOperationError:
    """What the store raises: the driver's error as the cause."""
    error = CacheOperationError("update failed")
    error.__cause__ = cause
    return error


POOL_LIMIT = WriteFailure("Operation failed - received 0 responses and 1 failures: UNKNOWN")


def test_the_pool_limit_failure_is_retried():
    calls = []

    def insert():
        calls.append(1)
        if len(calls) < 3:
            raise failure(POOL_LIMIT)
        return "done"

    assert VectorWriteGate().run(insert) == "done"
    assert len(calls) == 3


def test_it_gives_up_after_a_few_attempts():
    calls = []

    def insert():
        calls.append(1)
        raise failure(POOL_LIMIT)

    with pytest.raises(CacheOperationError):
        VectorWriteGate().run(insert)
    assert len(calls) == ATTEMPTS


def test_a_fail_open_page_with_the_failure_is_retried_too():
    from cassandra_llm_cache._storage.bridge import Page

    pages = [Page([], None, failure(POOL_LIMIT)), Page([], None)]
    calls = []

    def insert():
        calls.append(1)
        return pages[len(calls) - 1]

    assert not VectorWriteGate().run(insert).failed
    assert len(calls) == 2
    other = Page([], None, failure(InvalidRequest("bad value")))
    assert VectorWriteGate().run(lambda: other) is other


def test_other_failures_are_not_retried():
    calls = []

    def insert():
        calls.append(1)
        raise failure(InvalidRequest("bad value"))

    with pytest.raises(CacheOperationError):
        VectorWriteGate().run(insert)
    assert len(calls) == 1


def test_async_inserts_stay_within_the_limit_and_retry():
    gate = VectorWriteGate(limit=2)
    running = 0
    peak = 0
    failures_left = 3

    async def insert():
        nonlocal running, peak, failures_left
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.005)
        running -= 1
        if failures_left:
            failures_left -= 1
            raise failure(POOL_LIMIT)
        return 1

    async def many():
        return await asyncio.gather(*(gate.arun(insert) for _ in range(20)))

    assert asyncio.run(many()) == [1] * 20
    assert peak == 2
