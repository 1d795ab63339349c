"""What is stored: the size limit (checked on the real node), should_cache, bad return values,
and concurrent writers of one key."""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import threading

import pytest
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from cassandra_llm_cache import CassandraCache, CassandraSemanticCache
from cassandra_llm_cache._policy.resilience import DEFAULT_MAX_VALUE_BYTES, write_size
from cassandra_llm_cache.testing import DeterministicEmbeddings

MIB = 1024 * 1024


def setting_bytes(session, name: str) -> int:
    """A size setting of the running node, in bytes (from ``system_views.settings``)."""
    value = session.execute("SELECT value FROM system_views.settings WHERE name = %s", (name,))
    text = value.one().value
    units = {"KiB": 1024, "MiB": MIB, "GiB": 1024 * MIB, "B": 1}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(text[: -len(unit)]) * factor
    return int(text)


def test_the_default_limit_stays_well_under_the_nodes_limits(cassandra_session):
    mutation = setting_bytes(cassandra_session, "max_mutation_size")
    message = setting_bytes(cassandra_session, "native_transport_max_message_size")
    assert min(mutation, message) >= DEFAULT_MAX_VALUE_BYTES * 4


def incompressible_text(length: int, seed: int = 5) -> str:
    rng = random.Random(seed)
    return base64.b64encode(rng.randbytes(length * 3 // 4 + 3)).decode()[:length]


def test_the_largest_accepted_value_is_stored_on_the_node_and_one_more_byte_is_not(
    cassandra_session, cassandra_keyspace, table_name, caplog
):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    layout = cache._active
    filler = incompressible_text(7 * MIB)

    def size(length: int) -> int:
        _, values = layout.insert("p", "l", [Generation(text=filler[:length])], 0)
        return write_size(values)

    # Largest length whose write fits: size(low) <= limit < size(low + 1), found by bisection.
    low, high = 0, len(filler)
    assert size(high) > DEFAULT_MAX_VALUE_BYTES
    while high - low > 1:
        middle = (low + high) // 2
        if size(middle) <= DEFAULT_MAX_VALUE_BYTES:
            low = middle
        else:
            high = middle
    largest = [Generation(text=filler[:low])]
    assert DEFAULT_MAX_VALUE_BYTES - size(low) < 64  # as close to the limit as text allows

    cache.update("largest", "l", largest)
    assert cache.stats().writes == 1
    assert cache.lookup("largest", "l") == largest  # the node took it and gives it back
    with caplog.at_level(logging.WARNING, logger="cassandra_llm_cache"):
        cache.update("too large", "l", [Generation(text=filler[:high])])
    assert cache.lookup("too large", "l") is None
    stats = cache.stats()
    assert (stats.writes, stats.oversized, stats.errors) == (1, 1, 0)
    assert f"over max_value_bytes={DEFAULT_MAX_VALUE_BYTES}" in caplog.text


@pytest.mark.asyncio
async def test_a_custom_limit_applies_to_both_caches_sync_and_async(
    cassandra_session, cassandra_keyspace, table_name
):
    big = [Generation(text=incompressible_text(5000))]
    small = [Generation(text="small")]
    exact = CassandraCache(cassandra_session, cassandra_keyspace, table_name, max_value_bytes=2000)
    await exact.aupdate("big", "l", big)
    exact.update("big", "l", big)
    await exact.aupdate("small", "l", small)
    assert await exact.alookup("big", "l") is None
    assert await exact.alookup("small", "l") == small
    assert (exact.stats().oversized, exact.stats().writes) == (2, 1)

    semantic = CassandraSemanticCache(
        cassandra_session,
        cassandra_keyspace,
        DeterministicEmbeddings(8),
        table_name + "_s",
        max_value_bytes=2000,
    )
    semantic.update("big", "l", big)
    await semantic.aupdate("big", "l", big)
    semantic.update("small", "l", small)
    assert semantic.lookup("small", "l") == small
    assert (semantic.stats().oversized, semantic.stats().writes) == (2, 1)
    unlimited = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, max_value_bytes=None
    )
    unlimited.update("big", "l", big)
    assert unlimited.lookup("big", "l") == big


CUT = [
    [Generation(text="")],
    [Generation(text="   ")],
    [],
    [Generation(text="half an answ", generation_info={"finish_reason": "length"})],
    [Generation(text="filtered", generation_info={"finish_reason": "content_filter"})],
    [
        ChatGeneration(
            message=AIMessage("cut", response_metadata={"stop_reason": "max_tokens"}),
        )
    ],
    [ChatGeneration(message=AIMessage("no", response_metadata={"finishReason": "SAFETY"}))],
    [ChatGeneration(message=AIMessage("", response_metadata={"finish_reason": "stop"}))],
]
KEPT = [
    [Generation(text="a full answer", generation_info={"finish_reason": "stop"})],
    [ChatGeneration(message=AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "1"}]))],
    [ChatGeneration(message=AIMessage("done", response_metadata={"stop_reason": "end_turn"}))],
]


def test_should_cache_by_default_skips_empty_and_cut_outputs(
    cassandra_session, cassandra_keyspace, table_name
):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    for index, value in enumerate(CUT):
        cache.update(f"cut {index}", "l", value)
    for index, value in enumerate(KEPT):
        cache.update(f"kept {index}", "l", value)
    stats = cache.stats()
    assert (stats.not_cached, stats.writes) == (len(CUT), len(KEPT))
    stored = cassandra_session.execute(f"SELECT count(*) FROM {cassandra_keyspace}.{table_name}")
    assert stored.one().count == len(KEPT)
    assert all(cache.lookup(f"cut {i}", "l") is None for i in range(len(CUT)))
    assert [cache.lookup(f"kept {i}", "l") for i in range(len(KEPT))] == KEPT


@pytest.mark.asyncio
async def test_a_custom_should_cache_decides_for_both_caches(
    cassandra_session, cassandra_keyspace, table_name
):
    seen = []

    def only_long(generations):
        seen.append(len(generations))
        return all(len(g.text) > 3 for g in generations)

    exact = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, should_cache=only_long
    )
    exact.update("p1", "l", [Generation(text="ok")])
    await exact.aupdate("p2", "l", [Generation(text="long enough")])
    assert exact.lookup("p1", "l") is None
    assert await exact.alookup("p2", "l") == [Generation(text="long enough")]
    assert (exact.stats().not_cached, exact.stats().writes) == (1, 1)
    everything = CassandraSemanticCache(
        cassandra_session,
        cassandra_keyspace,
        DeterministicEmbeddings(8),
        table_name + "_s",
        should_cache=lambda generations: True,
    )
    everything.update("empty", "l", [Generation(text="")])
    assert everything.lookup("empty", "l") == [Generation(text="")]
    everything_not = CassandraSemanticCache(
        cassandra_session, cassandra_keyspace, DeterministicEmbeddings(8), table_name + "_s"
    )
    await everything_not.aupdate("empty 2", "l", [Generation(text="")])
    assert everything_not.stats().not_cached == 1
    assert seen == [1, 1]


BAD_VALUES = ["a string", b"bytes", None, 3, {"text": "x"}, ["a string in a list"], [None]]


@pytest.mark.asyncio
async def test_a_value_that_is_not_a_list_of_generations_is_a_type_error(
    cassandra_session, cassandra_keyspace, table_name
):
    exact = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    semantic = CassandraSemanticCache(
        cassandra_session, cassandra_keyspace, DeterministicEmbeddings(8), table_name + "_s"
    )
    for cache in (exact, semantic):
        for value in BAD_VALUES:
            with pytest.raises(TypeError, match=r"return_val must be a list of .*Generation"):
                cache.update("p", "l", value)
            with pytest.raises(TypeError, match=r"return_val must be a list of .*Generation"):
                await cache.aupdate("p", "l", value)
        assert cache.stats().writes == 0
    assert exact.lookup("p", "l") is None


def test_concurrent_writers_of_one_key_last_write_wins_without_torn_values(
    cassandra_session, cassandra_keyspace, table_name
):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name, on_error="raise")
    written: set[str] = set()
    lock = threading.Lock()
    seen: list[str | None] = []
    stop = threading.Event()

    def writer(index: int) -> None:
        for round_ in range(10):
            # Large enough to be compressed and to span several network frames.
            text = f"writer {index} round {round_} " + incompressible_text(
                150_000, index * 100 + round_
            )
            with lock:
                written.add(text)
            cache.update("one key", "l", [Generation(text=text)])

    def reader() -> None:
        while not stop.is_set():
            found = cache.lookup("one key", "l")
            seen.append(None if found is None else found[0].text)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    stop.set()
    watcher.join(30)
    assert len(seen) > 0
    assert all(text is None or text in written for text in seen)  # whole values only
    final = cache.lookup("one key", "l")
    assert final is not None
    assert final[0].text in written
    last = [Generation(text="the last write")]
    cache.update("one key", "l", last)
    assert cache.lookup("one key", "l") == last


@pytest.mark.asyncio
async def test_concurrent_async_writers_of_one_key(
    cassandra_session, cassandra_keyspace, table_name
):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name, on_error="raise")
    values = [[Generation(text=f"value {i} " + "x" * (i * 1000))] for i in range(40)]
    await asyncio.gather(*(cache.aupdate("one key", "l", value) for value in values))
    assert await cache.alookup("one key", "l") in values
