"""Cache statistics: cheap counters, consistent snapshots, safe across threads."""

from __future__ import annotations

import threading

import pytest

from cassandra_llm_cache import CacheStats
from cassandra_llm_cache._stats import StatsRecorder


def test_counts_and_derived_values():
    recorder = StatsRecorder()
    recorder.hit()
    recorder.hit()
    recorder.miss()
    recorder.miss(error=True)
    recorder.write()
    recorder.error()
    stats = recorder.snapshot()
    assert stats == CacheStats(hits=2, misses=2, writes=1, errors=2)
    assert stats.lookups == 4
    assert stats.hit_rate == 0.5
    assert CacheStats().hit_rate == 0.0


def test_snapshots_are_frozen():
    stats = StatsRecorder().snapshot()
    with pytest.raises(AttributeError):
        stats.hits = 3  # type: ignore[misc]


def test_no_update_is_lost_across_threads():
    recorder = StatsRecorder()

    def work():
        for _ in range(2000):
            recorder.hit()
            recorder.write()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert recorder.snapshot() == CacheStats(hits=16000, writes=16000)
