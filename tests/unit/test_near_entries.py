"""The near cache's bookkeeping without a database: arguments, the byte budget, TTLs, races."""

from __future__ import annotations

import math
import os
import sys
import tracemalloc

import pytest
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from cassandra_llm_cache import ConfigurationError, NearCache
from cassandra_llm_cache._values import codec
from cassandra_llm_cache.near import ENTRY_OVERHEAD, NearEntries, Ticket, _size_of, near_option


@pytest.mark.parametrize("max_bytes", [0, -1, -0.5, "64", None, True, math.nan, math.inf, [1], 0.9])
def test_bad_max_bytes(max_bytes):
    with pytest.raises(ConfigurationError, match="max_bytes"):
        NearCache(max_bytes=max_bytes)


@pytest.mark.parametrize("refresh", [0, -1, "1", None, False, math.nan, math.inf, 3601])
def test_bad_refresh_seconds(refresh):
    with pytest.raises(ConfigurationError, match="refresh_seconds"):
        NearCache(refresh_seconds=refresh)


@pytest.mark.parametrize("option", ["yes", 1, 64 * 2**20, object()])
def test_bad_near_cache_option(option):
    with pytest.raises(ConfigurationError, match="near_cache"):
        near_option(option)


def test_options():
    assert near_option(None) is None
    assert near_option(option=False) is None
    assert repr(near_option(option=True)) == "NearCache(max_bytes=67108864, refresh_seconds=1)"
    options = NearCache(max_bytes=1000.7, refresh_seconds=0.5)
    assert (options.max_bytes, options.refresh_seconds) == (1000, 0.5)
    assert near_option(options) is options
    assert 'CREATE TABLE IF NOT EXISTS "ks"."llm_cache_epochs"' in NearCache.schema_cql("KS")


def serving(options: NearCache) -> NearEntries:
    """Entries whose epochs were just read (what attach() and a first epoch read give)."""
    entries = NearEntries(options)
    entries._fresh_at = math.inf  # epochs always fresh: these tests are about the entries
    entries._epoch = frozenset()
    return entries


def key(index: int) -> tuple[str, bytes, bytes]:
    return ("", os.urandom(32), index.to_bytes(32, "big"))


def keep_raw(entries: NearEntries, item: tuple[object, ...], row: tuple, ticket: Ticket) -> None:
    """Keep ``row``'s value as it is (a decoder of another format: these tests are about the
    bookkeeping, not the value)."""
    entries.keep(item, row, [], ticket, rebuild=bytes)


def kept_data(entries: NearEntries, item: tuple[object, ...]) -> object:
    kept = entries.get(item)
    assert kept is not None
    return kept.data


def test_the_byte_budget_bounds_real_memory_writing_ten_times_the_budget():
    budget = 256 * 1024
    entries = serving(NearCache(max_bytes=budget))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        written = 0
        index = 0
        while written < 10 * budget:
            body = os.urandom(100 + index % 3000)
            keep_raw(entries, key(index), (body, None), entries.ticket())
            written += len(body)
            index += 1
            assert entries.nbytes <= budget
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0 < len(entries) < index
    # What the entries really hold stays within the budget they are charged against, plus the
    # LRU's hash table (sized by the most entries it ever held, so itself bounded by the budget).
    table = sys.getsizeof(entries._entries)
    assert table <= budget // 8
    assert used <= budget + table, f"{used} bytes held for a budget of {budget}"


def test_bookkeeping_is_bounded_by_the_per_entry_charge():
    entries = serving(NearCache(max_bytes=100 * ENTRY_OVERHEAD))
    for index in range(10_000):
        keep_raw(entries, key(index), (b"", None), entries.ticket())
    assert len(entries) < 100


def test_an_entry_over_an_eighth_of_the_budget_is_not_kept():
    entries = serving(NearCache(max_bytes=80_000))
    keep_raw(entries, key(1), (b"x" * 10_000, None), entries.ticket())
    assert len(entries) == 0
    small = key(2)
    keep_raw(entries, small, (b"x" * 1000, None), entries.ticket())
    assert kept_data(entries, small) == b"x" * 1000


def test_lru_order():
    body = b"x" * 1000
    size = _size_of(key(0), body)
    entries = serving(NearCache(max_bytes=8 * size))  # room for 8 such entries
    items = [key(index) for index in range(9)]
    for item in items[:8]:
        keep_raw(entries, item, (body, None), entries.ticket())
    entries.get(items[0])  # now the most recent
    keep_raw(entries, items[8], (body, None), entries.ticket())
    assert entries.get(items[1]) is None  # the least recently used went
    assert all(entries.get(item) is not None for item in (items[0], *items[2:]))


def test_ttl_counts_from_when_the_read_was_sent():
    entries = serving(NearCache())
    item = key(1)
    generation, _ = entries.ticket()
    keep_raw(entries, item, (b"v", 5), (generation, 0.0))  # sent long ago (monotonic 0), 5 s left
    assert entries.get(item) is None
    keep_raw(entries, item, (b"v", 0), entries.ticket())  # expiring now on the server
    assert entries.get(item) is None
    keep_raw(entries, item, (b"v", 60), entries.ticket())
    assert kept_data(entries, item) == b"v"


def test_a_read_that_raced_an_invalidation_is_not_kept():
    entries = serving(NearCache())
    item = key(1)
    ticket = entries.ticket()  # a lookup sends its read...
    entries.discard(key(2))  # ...meanwhile something is deleted here...
    keep_raw(entries, item, (b"maybe stale", None), ticket)  # ...so its answer is not kept
    assert entries.get(item) is None
    ticket = entries.ticket()
    entries.clear()
    keep_raw(entries, item, (b"maybe stale", None), ticket)
    assert entries.get(item) is None


def test_nothing_is_kept_or_served_before_the_first_epoch_read():
    entries = NearEntries(NearCache())
    item = key(1)
    keep_raw(entries, item, (b"v", None), entries.ticket())
    assert entries.get(item) is None
    assert not entries.serving()


@pytest.mark.parametrize("size", [100, 100_000])  # the larger value is stored compressed
def test_a_kept_hit_is_rebuilt_into_new_equal_objects_each_time(size):
    generations = [
        ChatGeneration(
            message=AIMessage(
                content="y" * size,
                response_metadata={"model": "m"},
                usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
            )
        ),
        Generation(text="plain", generation_info={"finish_reason": "stop"}),
    ]
    body = codec.encode(generations)
    entries = serving(NearCache())
    item = key(1)
    entries.keep(item, (body, None), generations, entries.ticket())
    kept = entries.get(item)
    assert kept is not None
    assert (kept.nbytes, kept.tokens) == (len(body), 7)  # what a database hit would count
    # An uncompressed value is kept as its JSON payload, a compressed one as stored (smaller).
    compressed = size > codec.COMPRESSION_THRESHOLD
    assert kept.data == (body if compressed else body[codec.HEADER_SIZE :])
    assert compressed == (body[5] != codec.Compression.NONE)
    first, second = kept.rebuild(kept.data), kept.rebuild(kept.data)
    assert first == second == generations == codec.decode(body)
    assert [type(one) for one in first] == [ChatGeneration, Generation]
    assert first[0] is not second[0]
    assert first[0].message is not second[0].message
    first[0].message.response_metadata["model"] = "changed by a caller"
    assert kept.rebuild(kept.data)[0].message.response_metadata == {"model": "m"}


def test_a_value_of_another_format_needs_its_decoder():
    entries = serving(NearCache())
    item = key(1)
    entries.keep(item, ("legacy text", None), [], entries.ticket())  # not this package's bytes
    assert entries.get(item) is None
    entries.keep(item, ("legacy text", None), [], entries.ticket(), rebuild=lambda text: [text])
    kept = entries.get(item)
    assert kept is not None
    assert kept.rebuild(kept.data) == ["legacy text"]
