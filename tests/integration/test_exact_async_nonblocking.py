"""The async API never blocks the event loop: checked by blockbuster and by a loop-lag probe."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from blockbuster import BlockBuster, BlockingError
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.outputs import Generation

from cassandra_llm_cache import CassandraCache, SetupMode

CONCURRENT = 500
# These tests watch the event loop, not resilience: on a busy 2-core machine 500 concurrent
# requests can exceed the default 1 s request timeout, and a lookup the circuit breaker skips
# returns without awaiting anything.
UNHURRIED: dict[str, Any] = {"request_timeout": 60.0, "circuit_breaker": False, "on_error": "raise"}
ROUNDS = 3


@pytest.fixture
def blockbuster():
    detector = BlockBuster()
    detector.activate()
    try:
        yield detector
    finally:
        detector.deactivate()


@pytest.mark.asyncio
async def test_the_detector_is_armed(blockbuster):
    with pytest.raises(BlockingError):
        time.sleep(0.001)  # noqa: ASYNC251 - the point: the detector must catch it


@pytest.mark.asyncio
async def test_no_blocking_call_anywhere_on_the_async_path(
    blockbuster, cassandra_session, cassandra_keyspace, table_name
):
    cache = CassandraCache(
        cassandra_session,
        cassandra_keyspace,
        table_name,
        setup_mode=SetupMode.ASYNC,
        **UNHURRIED,
    )
    await asyncio.gather(
        *(cache.aupdate(f"p{i}", "l", [Generation(text=f"g{i}")]) for i in range(0, CONCURRENT, 2))
    )
    results = await asyncio.gather(*(cache.alookup(f"p{i}", "l") for i in range(CONCURRENT)))
    assert sum(r is not None for r in results) == CONCURRENT // 2
    assert results[2] == [Generation(text="g2")]
    llm = FakeListLLM(responses=["answer"], cache=cache)
    await cache.adelete_through_llm("q", llm)
    await cache.adelete("p0", "l")
    await cache.aclear(llm_string="l")
    await cache.aclear()
    assert await cache.alookup("p2", "l") is None


@pytest.mark.asyncio
async def test_every_lookup_lets_the_loop_run_under_500_concurrent_lookups(
    cassandra_session, cassandra_keyspace, table_name
):
    """A loop probe ticks once per loop iteration; a lookup that never lets it tick blocked.

    Timing-independent: on a busy machine the loop's *latency* under 500 concurrent lookups is
    CPU-bound for any client (raw driver included), but a non-blocking lookup always suspends
    while the server answers, so the probe always ticks during it; a blocking one never does.
    """
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name, **UNHURRIED)
    for i in range(0, CONCURRENT, 5):
        cache.update(f"p{i}", "l", [Generation(text="x" * 2000)])
    ticks = 0
    done = asyncio.Event()

    async def probe():
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0)
            ticks += 1

    ticks_seen: list[int] = []

    async def client(i: int) -> None:
        for round_ in range(ROUNDS):
            before = ticks
            await cache.alookup(f"p{(i + round_) % CONCURRENT}", "l")
            ticks_seen.append(ticks - before)

    async def clients():
        await asyncio.sleep(0)
        try:
            await asyncio.gather(*(client(i) for i in range(CONCURRENT)))
        finally:
            done.set()

    await asyncio.gather(probe(), clients())
    assert len(ticks_seen) == CONCURRENT * ROUNDS
    assert min(ticks_seen) >= 1, f"{ticks_seen.count(0)} lookups never let the loop run"
    assert cache.stats().hits == ROUNDS * CONCURRENT // 5
