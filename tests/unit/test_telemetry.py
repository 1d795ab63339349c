"""The OpenTelemetry instruments, read back through the SDK's in-memory reader and exporter.

Private providers are handed to the instruments: the process-wide ones stay untouched.
"""

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache._policy import telemetry as _telemetry

READER = InMemoryMetricReader()
EXPORTER = InMemorySpanExporter()
METER_PROVIDER = MeterProvider(metric_readers=[READER])
TRACER_PROVIDER = TracerProvider()
TRACER_PROVIDER.add_span_processor(SimpleSpanProcessor(EXPORTER))


def instruments(table):
    option = _telemetry.Telemetry(meter_provider=METER_PROVIDER, tracer_provider=TRACER_PROVIDER)
    return _telemetry.create("ks", table, option=option)


def points(name):
    data = READER.get_metrics_data()
    found = []
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def for_table(found, table):
    return [p for p in found if p.attributes.get("db.collection.name") == table]


def test_a_lookup_hit_records_duration_counters_and_a_client_span():
    EXPORTER.clear()
    telemetry = instruments("hits_table")
    telemetry.operation("lookup", 0.004)
    telemetry.lookup(hit=True, nbytes=120, tokens=21)

    (duration,) = for_table(points("db.client.operation.duration"), "hits_table")
    assert duration.count == 1
    assert duration.sum == pytest.approx(0.004)
    assert dict(duration.attributes) == {
        "db.system.name": "cassandra",
        "db.namespace": "ks",
        "db.collection.name": "hits_table",
        "db.operation.name": "SELECT",
        "cassandra_llm_cache.operation": "lookup",
    }
    (lookups,) = for_table(points("cassandra_llm_cache.lookups"), "hits_table")
    assert lookups.value == 1
    assert lookups.attributes["cassandra_llm_cache.result"] == "hit"
    assert for_table(points("cassandra_llm_cache.bytes.read"), "hits_table")[0].value == 120
    assert for_table(points("cassandra_llm_cache.tokens.saved"), "hits_table")[0].value == 21

    (span,) = EXPORTER.get_finished_spans()
    assert span.name == "SELECT hits_table"
    assert span.kind is SpanKind.CLIENT
    assert (span.end_time - span.start_time) == pytest.approx(4_000_000, rel=1e-3)
    assert span.attributes["db.system.name"] == "cassandra"
    assert span.status.status_code is StatusCode.UNSET


def test_a_failed_update_records_error_type_on_the_metric_and_the_span():
    EXPORTER.clear()
    telemetry = instruments("errors_table")
    telemetry.operation("update", 1.0, error_type="OperationTimedOut")
    telemetry.operation("update", 0.002)
    telemetry.stored(nbytes=300)

    durations = for_table(points("db.client.operation.duration"), "errors_table")
    failed = [p for p in durations if p.attributes.get("error.type") == "OperationTimedOut"]
    assert len(failed) == 1
    assert failed[0].attributes["db.operation.name"] == "INSERT"
    (errors,) = for_table(points("cassandra_llm_cache.errors"), "errors_table")
    assert errors.value == 1
    assert for_table(points("cassandra_llm_cache.writes"), "errors_table")[0].value == 1
    assert for_table(points("cassandra_llm_cache.bytes.written"), "errors_table")[0].value == 300
    failed_span, stored_span = EXPORTER.get_finished_spans()
    assert failed_span.status.status_code is StatusCode.ERROR
    assert failed_span.attributes["error.type"] == "OperationTimedOut"
    assert stored_span.status.status_code is StatusCode.UNSET


def test_nothing_recorded_names_a_prompt_or_a_key():
    EXPORTER.clear()
    telemetry = instruments("privacy_table")
    telemetry.operation("lookup", 0.001)
    telemetry.lookup(hit=False)
    (span,) = EXPORTER.get_finished_spans()
    recorded = repr(dict(span.attributes)) + span.name
    assert "prompt" not in recorded
    assert "key" not in recorded.replace("db.", "")


def test_create_follows_the_option():
    assert _telemetry.create("ks", "t", option=False) is None
    assert isinstance(_telemetry.create("ks", "t", option=None), _telemetry.Instruments)
    assert isinstance(_telemetry.create("ks", "t", option=True), _telemetry.Instruments)
    with pytest.raises(ConfigurationError, match="telemetry must be"):
        _telemetry.create("ks", "t", option="yes")


def test_create_without_the_package(monkeypatch):
    monkeypatch.setattr(_telemetry, "available", lambda: False)
    assert _telemetry.create("ks", "t", option=None) is None
    with pytest.raises(ConfigurationError, match=r"cassandra-llm-cache\[otel\]"):
        _telemetry.create("ks", "t", option=True)
    with pytest.raises(ConfigurationError, match="opentelemetry-api"):
        _telemetry.create("ks", "t", option=_telemetry.Telemetry())


def test_global_tracing_builds_spans_only_once_a_real_provider_is_set(monkeypatch):
    from opentelemetry import trace

    EXPORTER.clear()
    # No SDK configured: the API's proxy provider. No span is even started.
    unconfigured = _telemetry.create("ks", "t_unconfigured", option=True)
    started = []
    monkeypatch.setattr(
        unconfigured._tracer, "start_span", lambda *args, **kwargs: started.append(args)
    )
    unconfigured.operation("lookup", 0.001)
    assert started == []
    # An SDK provider as the global one: spans are recorded through it.
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: TRACER_PROVIDER)
    configured = _telemetry.create("ks", "t_configured", option=True)
    configured.operation("lookup", 0.001)
    names = [span.name for span in EXPORTER.get_finished_spans()]
    assert "SELECT t_configured" in names
    assert "SELECT t_unconfigured" not in names


def test_a_cache_built_before_the_sdk_records_spans_once_the_recheck_is_due(monkeypatch):
    import time

    from opentelemetry import trace

    early = _telemetry.create("ks", "t_early", option=True)
    started = []
    real_start = early._tracer.start_span
    monkeypatch.setattr(
        early._tracer,
        "start_span",
        lambda name, **kwargs: started.append(name) or real_start(name, **kwargs),
    )
    early.operation("lookup", 0.001)  # the placeholder is seen, and remembered for a while
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: TRACER_PROVIDER)
    early.operation("lookup", 0.001)
    assert started == []
    later = time.monotonic() + _telemetry.GLOBAL_PROVIDER_RECHECK + 0.5
    monkeypatch.setattr(time, "monotonic", lambda: later)
    early.operation("update", 0.001)
    assert started == ["INSERT t_early"]
    # A real global provider is never replaced: it is not asked for again.
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: pytest.fail("asked again"))
    early.operation("delete", 0.001)
    assert started == ["INSERT t_early", "DELETE t_early"]
