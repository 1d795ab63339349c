"""OpenTelemetry metrics and spans for cache operations (used only if ``opentelemetry-api`` is).

Install the ``otel`` extra (``pip install "cassandra-llm-cache[otel]"``) and configure an SDK as
usual; until an SDK is configured the API's no-op providers make this nearly free. Names follow
OpenTelemetry's database semantic conventions where they fit:

- metric ``db.client.operation.duration`` (histogram, seconds), one per database call, with
  ``db.system.name="cassandra"``, ``db.namespace`` (keyspace), ``db.collection.name`` (table),
  ``db.operation.name`` (the CQL verb: ``SELECT``, ``INSERT``, ``DELETE``; absent for clears,
  which may TRUNCATE or scan and delete),
  ``error.type`` when it failed, and this package's ``cassandra_llm_cache.operation``
  (``lookup``, ``update``, ``delete``, ``clear``);
- counters ``cassandra_llm_cache.lookups`` (with ``cassandra_llm_cache.result`` = hit or miss,
  and ``cassandra_llm_cache.source`` = ``near`` on hits the in-process near cache served),
  ``cassandra_llm_cache.writes``, ``cassandra_llm_cache.errors`` (with ``error.type``),
  ``cassandra_llm_cache.bytes.read`` and ``cassandra_llm_cache.bytes.written`` (values read by
  hits; keys and values sent by updates) and ``cassandra_llm_cache.tokens.saved`` (tokens of
  the responses served from the cache);
- one CLIENT span per database call, named ``"{db.operation.name} {db.collection.name}"`` with the
  same attributes. Spans are recorded when the operation ends, with its real start time, as
  children of the span current at that moment.

Nothing recorded carries a prompt, a response, a key or a credential.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache._version import __version__

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

INSTRUMENTATION_NAME: Final = "cassandra_llm_cache"
DURATION_METRIC: Final = "db.client.operation.duration"
# The buckets the database semantic conventions recommend for operation durations.
DURATION_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)

CQL_VERBS: Final[Mapping[str, str]] = {
    "lookup": "SELECT",
    "search": "SELECT",
    "update": "INSERT",
    "delete": "DELETE",
    "epoch": "SELECT",
    "invalidate": "UPDATE",
}
"""The one CQL statement kind of each operation (a clear may TRUNCATE, or scan and DELETE)."""

OPERATION_ATTRIBUTE: Final = "cassandra_llm_cache.operation"
RESULT_ATTRIBUTE: Final = "cassandra_llm_cache.result"
SOURCE_ATTRIBUTE: Final = "cassandra_llm_cache.source"

GLOBAL_PROVIDER_RECHECK: Final = 1.0
"""Seconds between two checks whether an SDK replaced the API's placeholder tracer provider."""


def available() -> bool:
    """Is ``opentelemetry-api`` installed?"""
    return importlib.util.find_spec("opentelemetry") is not None and (
        importlib.util.find_spec("opentelemetry.metrics") is not None
    )


class Instruments:
    """The instruments of one cache (one keyspace and table)."""

    __slots__ = (
        "_attributes",
        "_bytes_read",
        "_bytes_written",
        "_duration",
        "_errors",
        "_hit_attributes",
        "_lookups",
        "_miss_attributes",
        "_near_hit_attributes",
        "_per_operation",
        "_placeholder_providers",
        "_placeholder_until",
        "_span_kind",
        "_status_error",
        "_table",
        "_tokens_saved",
        "_tracer",
        "_writes",
    )

    def __init__(
        self,
        keyspace: str,
        table: str,
        *,
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        from opentelemetry import metrics, trace

        # Default: the global providers (the API's proxies until an SDK is configured).
        meter = metrics.get_meter(INSTRUMENTATION_NAME, __version__, meter_provider)
        self._tracer = trace.get_tracer(
            INSTRUMENTATION_NAME, __version__, tracer_provider=tracer_provider
        )
        # With the global provider, spans are built only once an SDK is configured: until then
        # the API's proxy hands out non-recording spans, which cost as much client CPU per call
        # as decoding a cached value (seen in the benchmark's profiles) and record nothing.
        # Asking for the global provider reads os.environ (5% of a hit's client CPU, profiled),
        # so while it is a placeholder it is asked again at most every GLOBAL_PROVIDER_RECHECK
        # seconds; a real one is set once per process and never asked for again.
        self._placeholder_providers: tuple[type, ...] = ()
        self._placeholder_until = 0.0
        if tracer_provider is None:
            self._placeholder_providers = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        self._span_kind = trace.SpanKind.CLIENT
        self._status_error = trace.StatusCode.ERROR
        self._table = table
        self._attributes: dict[str, str] = {
            "db.system.name": "cassandra",
            "db.namespace": keyspace,
            "db.collection.name": table,
        }
        # Attribute sets and span names of successful calls, built once per operation: the
        # hot path passes the same (never mutated) dicts instead of building new ones per call.
        self._per_operation: dict[str, tuple[dict[str, str], str]] = {}
        self._hit_attributes = {**self._attributes, RESULT_ATTRIBUTE: "hit"}
        self._miss_attributes = {**self._attributes, RESULT_ATTRIBUTE: "miss"}
        self._near_hit_attributes = {**self._hit_attributes, SOURCE_ATTRIBUTE: "near"}
        self._duration = meter.create_histogram(
            DURATION_METRIC,
            unit="s",
            description="Duration of cache operations on Cassandra.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._lookups = meter.create_counter(
            "cassandra_llm_cache.lookups", unit="{lookup}", description="Cache lookups."
        )
        self._writes = meter.create_counter(
            "cassandra_llm_cache.writes", unit="{write}", description="Entries stored."
        )
        self._errors = meter.create_counter(
            "cassandra_llm_cache.errors", unit="{error}", description="Failed cache operations."
        )
        self._bytes_read = meter.create_counter(
            "cassandra_llm_cache.bytes.read", unit="By", description="Stored value bytes read."
        )
        self._bytes_written = meter.create_counter(
            "cassandra_llm_cache.bytes.written", unit="By", description="Value bytes written."
        )
        self._tokens_saved = meter.create_counter(
            "cassandra_llm_cache.tokens.saved",
            unit="{token}",
            description="Tokens of the cached responses served (as reported by the model).",
        )

    def __repr__(self) -> str:
        return f"Instruments(table={self._table!r})"

    def operation(self, operation: str, seconds: float, *, error_type: str | None = None) -> None:
        """One database call of ``operation`` took ``seconds`` (``error_type``: it failed)."""
        known = self._per_operation.get(operation)
        if known is None:
            known = self._per_operation[operation] = self._operation_attributes(operation)
        attributes, span_name = known
        if error_type is not None:
            attributes = {**attributes, "error.type": error_type}
            self._errors.add(
                1, {**self._attributes, OPERATION_ATTRIBUTE: operation, "error.type": error_type}
            )
        self._duration.record(seconds, attributes)
        self._span(span_name, seconds, attributes, error_type)

    def _operation_attributes(self, operation: str) -> tuple[dict[str, str], str]:
        verb = CQL_VERBS.get(operation)
        attributes = {**self._attributes, OPERATION_ATTRIBUTE: operation}
        if verb is not None:
            attributes["db.operation.name"] = verb
        return attributes, f"{verb or operation} {self._table}"

    def lookup(self, *, hit: bool, nbytes: int = 0, tokens: int = 0, near: bool = False) -> None:
        """A lookup ended in a hit (``nbytes`` read, ``tokens`` saved; ``near``: served from
        process memory) or a miss."""
        if near:
            attributes = self._near_hit_attributes
        else:
            attributes = self._hit_attributes if hit else self._miss_attributes
        self._lookups.add(1, attributes)
        if nbytes:
            self._bytes_read.add(nbytes, self._attributes)
        if tokens:
            self._tokens_saved.add(tokens, self._attributes)

    def stored(self, *, nbytes: int = 0) -> None:
        """An entry was written (``nbytes`` of keys and value sent)."""
        self._writes.add(1, self._attributes)
        if nbytes:
            self._bytes_written.add(nbytes, self._attributes)

    def _global_placeholder(self) -> bool:
        """Whether the global tracer provider is still the API's placeholder (spans unrecorded)."""
        now = time.monotonic()
        if now < self._placeholder_until:
            return True
        from opentelemetry import trace

        if isinstance(trace.get_tracer_provider(), self._placeholder_providers):
            self._placeholder_until = now + GLOBAL_PROVIDER_RECHECK
            return True
        self._placeholder_providers = ()
        return False

    def _span(
        self, name: str, seconds: float, attributes: dict[str, str], error_type: str | None
    ) -> None:
        if self._placeholder_providers and self._global_placeholder():
            return
        end = time.time_ns()
        span = self._tracer.start_span(
            name,
            kind=self._span_kind,
            attributes=attributes,
            start_time=end - int(seconds * 1e9),
        )
        if error_type is not None:
            from opentelemetry.trace import Status

            span.set_status(Status(self._status_error, error_type))
        span.end(end_time=end)


@dataclass(frozen=True)
class Telemetry:
    """Where a cache sends its OpenTelemetry data (``telemetry=Telemetry(...)``).

    Unset providers mean the global ones (``opentelemetry.metrics.set_meter_provider`` and
    ``opentelemetry.trace.set_tracer_provider``). ``telemetry=True`` is ``Telemetry()``.
    """

    meter_provider: MeterProvider | None = None
    tracer_provider: TracerProvider | None = None


TelemetryOption = bool | Telemetry | None
"""The ``telemetry`` argument of the caches."""


def create(keyspace: str, table: str, *, option: object) -> Instruments | None:
    """Instruments for a cache, or ``None``.

    ``None`` (the default): global providers if ``opentelemetry-api`` is installed, else nothing.
    ``False``: nothing. ``True`` or a :class:`Telemetry`: instruments, and a
    :class:`ConfigurationError` if the package is missing.
    """
    if option is False:
        return None
    if option is not None and option is not True and not isinstance(option, Telemetry):
        msg = f"telemetry must be None, True, False or a Telemetry, not {type(option).__name__}"
        raise ConfigurationError(msg)
    if not available():
        if option is None:
            return None
        msg = 'telemetry needs opentelemetry-api: pip install "cassandra-llm-cache[otel]"'
        raise ConfigurationError(msg)
    chosen = option if isinstance(option, Telemetry) else Telemetry()
    return Instruments(
        keyspace,
        table,
        meter_provider=chosen.meter_provider,
        tracer_provider=chosen.tracer_provider,
    )
