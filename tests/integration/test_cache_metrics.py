"""`stats()` and the OpenTelemetry instruments, fed by real operations on the real node."""

from __future__ import annotations

import json

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cassandra_llm_cache import CassandraCache, CassandraSemanticCache, Telemetry
from cassandra_llm_cache.testing import DeterministicEmbeddings

ANSWER = AIMessage(
    content="Paris.",
    usage_metadata={"input_tokens": 10, "output_tokens": 2, "total_tokens": 12},
)


@pytest.fixture
def otel():
    reader = InMemoryMetricReader()
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader])
    yield (
        Telemetry(meter_provider=meter_provider, tracer_provider=tracer_provider),
        reader,
        exporter,
    )
    meter_provider.shutdown()
    tracer_provider.shutdown()


def metric_points(reader, name):
    data = reader.get_metrics_data()
    return [
        point
        for resource in (data.resource_metrics if data else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def test_stats_count_hits_bytes_tokens_and_time_every_operation(
    cassandra_session, cassandra_keyspace, table_name
):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name, telemetry=False)
    model = GenericFakeChatModel(messages=iter([ANSWER, ANSWER]), cache=cache)
    for _ in range(4):
        model.invoke("Capital of France?")  # 1 miss and write, then 3 hits
    cache.lookup("never", "asked")
    cache.delete("never", "asked")

    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.writes, stats.errors) == (3, 2, 1, 0)
    assert stats.llm_calls_saved == 3
    assert stats.hit_rate == pytest.approx(0.6)
    assert stats.tokens_saved == 36
    assert stats.bytes_read > 3 * len("Paris.")
    assert stats.bytes_written > stats.bytes_read / 3
    assert stats.timeouts == 0
    assert stats.latency["lookup"].count == 5
    assert stats.latency["update"].count == 1
    assert stats.latency["delete"].count == 1
    assert 0 < stats.latency["lookup"].p50 <= stats.latency["lookup"].p99 < 5
    assert json.loads(json.dumps(stats.as_dict()))["latency"]["lookup"]["count"] == 5


@pytest.mark.asyncio
async def test_async_operations_are_timed_too(cassandra_session, cassandra_keyspace, table_name):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name, telemetry=False)
    await cache.aupdate("p", "m", [Generation(text="x")])
    assert await cache.alookup("p", "m") == [Generation(text="x")]
    await cache.aclear()
    stats = cache.stats()
    assert stats.latency["update"].count == 1
    assert stats.latency["lookup"].count == 1
    assert stats.latency["clear"].count == 1


def test_opentelemetry_metrics_and_spans_from_a_real_cache(
    cassandra_session, cassandra_keyspace, table_name, otel
):
    telemetry, reader, exporter = otel
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name, telemetry=telemetry)
    cache.update("p", "m", [ChatGeneration(message=ANSWER)])
    cache.lookup("p", "m")
    cache.lookup("q", "m")

    lookups = {
        p.attributes["cassandra_llm_cache.result"]: p.value
        for p in metric_points(reader, "cassandra_llm_cache.lookups")
    }
    assert lookups == {"hit": 1, "miss": 1}
    durations = {
        p.attributes["db.operation.name"]: p.count
        for p in metric_points(reader, "db.client.operation.duration")
    }
    assert durations == {"SELECT": 2, "INSERT": 1}
    (tokens,) = metric_points(reader, "cassandra_llm_cache.tokens.saved")
    assert tokens.value == 12
    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == [
        f"INSERT {table_name}",
        f"SELECT {table_name}",
        f"SELECT {table_name}",
    ]
    assert spans[1].attributes["db.namespace"] == cassandra_keyspace
    assert spans[1].attributes["db.system.name"] == "cassandra"


def test_telemetry_false_records_nothing(cassandra_session, cassandra_keyspace, table_name, otel):
    _, reader, exporter = otel
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name, telemetry=False)
    cache.lookup("p", "m")
    assert metric_points(reader, "cassandra_llm_cache.lookups") == []
    assert exporter.get_finished_spans() == ()


def test_the_semantic_cache_keeps_its_own_counters_and_gains_latencies(
    cassandra_session, cassandra_keyspace, table_name
):
    embeddings = DeterministicEmbeddings(dimension=8)
    cache = CassandraSemanticCache(
        cassandra_session,
        cassandra_keyspace,
        embeddings,
        table_name,
        embedding_dimension=8,
        telemetry=False,
    )
    cache.update("p", "m", [ChatGeneration(message=ANSWER)])
    assert cache.lookup("p", "m") is not None
    stats = cache.stats()
    assert stats.exact_hits == 1
    assert stats.hits == 1
    assert stats.tokens_saved == 12
    assert stats.latency["update"].count == 1
    assert stats.latency["lookup"].count >= 1
