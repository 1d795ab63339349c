"""In-process counters of what a cache did since it was created (cheap, thread-safe).

The cache counts lookups, writes and errors; the store reports every database call's duration
(:meth:`StatsRecorder.observe`), which feeds one latency histogram per operation and the timeout
count. When the cache has OpenTelemetry instruments (``_policy.telemetry``), the same events are
recorded there too. Nothing here does I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Final

from cassandra_llm_cache._policy.latency import LatencyHistogram, LatencySummary

if TYPE_CHECKING:
    from langchain_core.outputs import Generation

    from cassandra_llm_cache._policy.telemetry import Instruments

# Driver and asyncio exceptions that mean "too slow", by class name (no driver import here):
# the driver's client-side OperationTimedOut, the server's Read/WriteTimeout (both Timeout),
# and TimeoutError (asyncio.timeout, concurrent.futures).
TIMEOUT_ERRORS: Final = frozenset({"OperationTimedOut", "Timeout", "TimeoutError"})


def is_timeout(error: BaseException) -> bool:
    return any(cls.__name__ in TIMEOUT_ERRORS for cls in type(error).__mro__)


def tokens_of(generations: Iterable[Generation]) -> int:
    """Tokens the model spent on these generations, from their ``usage_metadata`` (0 if none)."""
    total = 0
    for generation in generations:
        # Read from the model's fields: a missing attribute on a pydantic model goes through its
        # __getattr__ and an exception, ~12 us per plain Generation (most of a near-cache hit).
        fields_ = getattr(generation, "__dict__", None)
        message = fields_.get("message") if isinstance(fields_, dict) else None
        usage = getattr(message, "usage_metadata", None)
        # A plain dict (every decoded hit's) first: it skips the ABC's slower instance check.
        if type(usage) is dict or isinstance(usage, Mapping):
            tokens = usage.get("total_tokens")
            if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens > 0:
                total += tokens
    return total


def bound_size(values: Iterable[object]) -> int:
    """Bytes of the text and blob values of a statement (what a write sends, about)."""
    size = 0
    for value in values:
        if isinstance(value, (bytes, bytearray, memoryview, str)):
            size += len(value)
    return size


@dataclass(frozen=True)
class CacheStats:
    """A snapshot of a cache's counters.

    ``hits + misses`` is the number of lookups. A stored value that cannot be read counts as both
    a miss and an error; ``errors`` also counts failed database calls and values that could not
    be stored. ``timeouts`` are the failed calls that timed out (also in ``errors``).
    ``bytes_read`` counts the stored values hits returned; ``bytes_written`` the keys and values
    updates sent. ``tokens_saved`` adds up the ``usage_metadata`` total tokens of the chat
    responses served from the cache. ``skipped`` counts lookups and updates not sent to the
    database because the circuit breaker was open or setup had not succeeded (lookups among them
    are misses too); ``oversized`` the values not stored for being over ``max_value_bytes``;
    ``not_cached`` the outputs ``should_cache`` declined. ``breaker`` is the circuit breaker's
    state, if there is one. ``latency`` has one summary per database operation (``"lookup"``,
    ``"update"``, ...). ``near_hits`` are the hits the near cache served from this process's
    memory without a database call (they are in ``hits`` too).
    """

    hits: int = 0
    misses: int = 0
    writes: int = 0
    errors: int = 0
    timeouts: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    tokens_saved: int = 0
    skipped: int = 0
    oversized: int = 0
    not_cached: int = 0
    breaker: str | None = None
    latency: Mapping[str, LatencySummary] = field(default_factory=dict)
    near_hits: int = 0

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        """Hits per lookup (0.0 before the first lookup)."""
        return self.hits / self.lookups if self.lookups else 0.0

    @property
    def llm_calls_saved(self) -> int:
        """Model calls that did not happen: one per hit."""
        return self.hits

    def counters(self) -> dict[str, Any]:
        """The fields as keyword arguments (for subclasses that add their own)."""
        return {item.name: getattr(self, item.name) for item in fields(CacheStats)}

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: every field, the derived views, latencies in milliseconds."""
        data: dict[str, Any] = {
            item.name: getattr(self, item.name) for item in fields(self) if item.name != "latency"
        }
        data["lookups"] = self.lookups
        data["hit_rate"] = round(self.hit_rate, 6)
        data["llm_calls_saved"] = self.llm_calls_saved
        data["latency"] = {name: s.as_milliseconds() for name, s in self.latency.items()}
        return data


class StatsRecorder:
    """Mutable counters behind :class:`CacheStats`; each update holds a lock for a few ns."""

    __slots__ = (
        "_bytes_read",
        "_bytes_written",
        "_errors",
        "_hits",
        "_instruments",
        "_latency",
        "_lock",
        "_misses",
        "_near_hits",
        "_not_cached",
        "_oversized",
        "_skipped",
        "_timeouts",
        "_tokens",
        "_writes",
    )

    def __init__(self, instruments: Instruments | None = None) -> None:
        self._lock = threading.Lock()
        self._instruments = instruments
        self._hits = 0
        self._near_hits = 0
        self._misses = 0
        self._writes = 0
        self._errors = 0
        self._timeouts = 0
        self._bytes_read = 0
        self._bytes_written = 0
        self._tokens = 0
        self._skipped = 0
        self._oversized = 0
        self._not_cached = 0
        self._latency: dict[str, LatencyHistogram] = {}

    def hit(self, *, nbytes: int = 0, tokens: int = 0, near: bool = False) -> None:
        """A lookup answered from the cache (``near``: from the in-process near cache)."""
        with self._lock:
            self._hits += 1
            self._near_hits += near
            self._bytes_read += nbytes
            self._tokens += tokens
        if self._instruments is not None:
            if near:
                self._instruments.lookup(hit=True, nbytes=nbytes, tokens=tokens, near=True)
            else:
                self._instruments.lookup(hit=True, nbytes=nbytes, tokens=tokens)

    def miss(self, *, error: bool = False) -> None:
        with self._lock:
            self._misses += 1
            if error:
                self._errors += 1
        if self._instruments is not None:
            self._instruments.lookup(hit=False)

    def write(self, *, nbytes: int = 0) -> None:
        with self._lock:
            self._writes += 1
            self._bytes_written += nbytes
        if self._instruments is not None:
            self._instruments.stored(nbytes=nbytes)

    def error(self) -> None:
        with self._lock:
            self._errors += 1

    def skipped(self) -> None:
        """A lookup or update not sent (breaker open, setup not done)."""
        with self._lock:
            self._skipped += 1

    def oversized(self) -> None:
        """A value not stored: over ``max_value_bytes``."""
        with self._lock:
            self._oversized += 1

    def not_cached(self) -> None:
        """An output ``should_cache`` declined."""
        with self._lock:
            self._not_cached += 1

    def observe(self, operation: str, seconds: float, error: BaseException | None = None) -> None:
        """One database call of ``operation`` took ``seconds`` (and failed with ``error``)."""
        timed_out = error is not None and is_timeout(error)
        with self._lock:
            histogram = self._latency.get(operation)
            if histogram is None:
                histogram = self._latency[operation] = LatencyHistogram()
            histogram.record(seconds)
            if timed_out:
                self._timeouts += 1
        if self._instruments is not None:
            error_type = type(error).__name__ if error is not None else None
            self._instruments.operation(operation, seconds, error_type=error_type)

    def snapshot(self, *, breaker: str | None = None) -> CacheStats:
        with self._lock:
            latency = {name: histogram.summary() for name, histogram in self._latency.items()}
            return CacheStats(
                hits=self._hits,
                misses=self._misses,
                writes=self._writes,
                errors=self._errors,
                timeouts=self._timeouts,
                bytes_read=self._bytes_read,
                bytes_written=self._bytes_written,
                tokens_saved=self._tokens,
                skipped=self._skipped,
                oversized=self._oversized,
                not_cached=self._not_cached,
                breaker=breaker,
                latency=latency,
                near_hits=self._near_hits,
            )
