import json
import threading

from cassandra import OperationTimedOut, ReadTimeout
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from cassandra_llm_cache._policy.stats import (
    CacheStats,
    StatsRecorder,
    bound_size,
    is_timeout,
    tokens_of,
)


class Spy:
    """Records what the recorder forwards to its OpenTelemetry instruments."""

    def __init__(self):
        self.calls = []

    def operation(self, operation, seconds, *, error_type=None):
        self.calls.append(("operation", operation, error_type))

    def lookup(self, *, hit, nbytes=0, tokens=0):
        self.calls.append(("lookup", hit, nbytes, tokens))

    def stored(self, *, nbytes=0):
        self.calls.append(("stored", nbytes))


def test_counters_views_and_latency():
    recorder = StatsRecorder()
    recorder.hit(nbytes=100, tokens=30)
    recorder.hit(nbytes=50)
    recorder.miss()
    recorder.miss(error=True)
    recorder.write(nbytes=400)
    for seconds in (0.001, 0.002, 0.003):
        recorder.observe("lookup", seconds)
    recorder.observe("update", 1.5, OperationTimedOut("slow"))
    stats = recorder.snapshot(breaker="closed")
    assert (stats.hits, stats.misses, stats.writes, stats.errors) == (2, 2, 1, 1)
    assert (stats.bytes_read, stats.bytes_written, stats.tokens_saved) == (150, 400, 30)
    assert stats.timeouts == 1
    assert stats.breaker == "closed"
    assert stats.lookups == 4
    assert stats.hit_rate == 0.5
    assert stats.llm_calls_saved == 2
    assert stats.latency["lookup"].count == 3
    assert 0.0019 < stats.latency["lookup"].p50 < 0.0021
    assert stats.latency["update"].max == 1.5


def test_as_dict_is_json_ready():
    recorder = StatsRecorder()
    recorder.hit()
    recorder.observe("lookup", 0.0015)
    data = recorder.snapshot().as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["hit_rate"] == 1.0
    assert data["llm_calls_saved"] == 1
    assert data["latency"]["lookup"]["p50_ms"] == 1.5


def test_counters_are_keyword_arguments_for_subclasses():
    stats = CacheStats(hits=3, misses=1, timeouts=2)
    assert CacheStats(**stats.counters()) == stats


def test_the_original_positional_snapshot_still_works():
    assert CacheStats(1, 2, 3, 4) == CacheStats(hits=1, misses=2, writes=3, errors=4)


def test_events_are_forwarded_to_the_instruments():
    spy = Spy()
    recorder = StatsRecorder(spy)
    recorder.hit(nbytes=10, tokens=2)
    recorder.miss()
    recorder.write(nbytes=20)
    recorder.observe("lookup", 0.001)
    recorder.observe("update", 0.5, ReadTimeout("slow"))
    assert spy.calls == [
        ("lookup", True, 10, 2),
        ("lookup", False, 0, 0),
        ("stored", 20),
        ("operation", "lookup", None),
        ("operation", "update", "ReadTimeout"),
    ]


def test_timeouts_are_recognised_by_class():
    assert is_timeout(OperationTimedOut("x"))
    assert is_timeout(ReadTimeout("x"))
    assert is_timeout(TimeoutError())
    assert not is_timeout(ValueError())


def test_tokens_come_from_usage_metadata_only():
    chat = ChatGeneration(
        message=AIMessage(
            content="x", usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}
        )
    )
    assert tokens_of([chat, chat, Generation(text="no usage")]) == 14
    assert tokens_of([ChatGeneration(message=AIMessage(content="x"))]) == 0


def test_bound_size_counts_text_and_blobs():
    assert bound_size(("ns", b"\x00" * 32, b"body", 3600, None)) == 2 + 32 + 4


def test_concurrent_updates_are_all_counted():
    recorder = StatsRecorder()

    def work():
        for _ in range(1000):
            recorder.hit(nbytes=1)
            recorder.observe("lookup", 0.001)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = recorder.snapshot()
    assert stats.hits == stats.bytes_read == stats.latency["lookup"].count == 4000
