"""Where the slowest sync operations spend their time: a garbage collection, the database call,
or neither.

A p99 is 1% of the operations; the question for a slow tail is what those operations had in
common. Each operation's start and end are kept, and so is every pause of Python's cyclic garbage
collector (``gc.callbacks``) during the run; an operation at or above the p99 that overlaps a
pause spent that pause inside it. For this project's cache, its own statistics give the database
call's share (send to result, without key hashing and decoding) over the same operations.

The attribution (:func:`attribute`) is pure; :func:`measure` and :func:`recorded_gc` do the
timing.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import math
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from cassandra_llm_cache._policy.latency import LatencySummary
    from cassandra_llm_cache.bench._timing import SyncOp

SLOW_FRACTION = 0.01
"""The slowest 1% of the operations: the ones at or above the p99."""


@dataclass(frozen=True)
class Span:
    """One interval on the ``perf_counter_ns`` clock."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class GcPause(Span):
    """One collection of Python's cyclic garbage collector."""

    generation: int = 0


@dataclass(frozen=True)
class TailSubject:
    """A sync operation to attribute; ``database`` reads the database-call latencies, if known."""

    system: str
    operation: str
    payload: str
    op: SyncOp
    database: Callable[[], LatencySummary | None] | None = None


@contextlib.contextmanager
def recorded_gc() -> Iterator[list[GcPause]]:
    """Every garbage collection that runs inside the ``with`` block, in order."""
    pauses: list[GcPause] = []
    began: list[int] = []

    def callback(phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter_ns()
        if phase == "start":
            began.append(now)
        elif began:
            pauses.append(GcPause(began.pop(), now, info.get("generation", 0)))

    gc.callbacks.append(callback)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(callback)


def timed_spans(op: SyncOp, indices: range) -> list[Span]:
    """Run ``op(i)`` for each index, one after the other; when each one started and ended."""
    spans: list[Span] = []
    append = spans.append
    clock = time.perf_counter_ns
    for index in indices:
        started = clock()
        op(index)
        append(Span(started, clock()))
    return spans


def _percentile(sorted_values: Sequence[int], fraction: float) -> int:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def _overlap(span: Span, pauses: Sequence[GcPause], starts: Sequence[int]) -> int:
    """Nanoseconds of ``span`` spent in the (start-sorted, non-overlapping) ``pauses``."""
    total = 0
    index = max(0, bisect.bisect_right(starts, span.start) - 1)
    while index < len(pauses) and pauses[index].start < span.end:
        pause = pauses[index]
        total += max(0, min(span.end, pause.end) - max(span.start, pause.start))
        index += 1
    return total


def attribute(spans: Sequence[Span], pauses: Sequence[GcPause]) -> dict[str, Any]:
    """How much of the slowest operations' time overlapped a garbage collection."""
    if not spans:
        raise ValueError("no operations to attribute")
    ranked = sorted(spans, key=lambda span: span.length)
    lengths = [span.length for span in ranked]
    p50, p99 = _percentile(lengths, 0.5), _percentile(lengths, 1 - SLOW_FRACTION)
    slow_count = max(1, math.ceil(len(spans) * SLOW_FRACTION))
    slow = ranked[-slow_count:]
    ordered = sorted(pauses, key=lambda pause: pause.start)
    starts = [pause.start for pause in ordered]
    in_gc = [_overlap(span, ordered, starts) for span in slow]
    slow_time = sum(span.length for span in slow)
    by_generation: dict[str, dict[str, float]] = {}
    for generation in sorted({pause.generation for pause in ordered}):
        lengths_us = [p.length / 1000 for p in ordered if p.generation == generation]
        by_generation[str(generation)] = {
            "count": len(lengths_us),
            "median_us": round(statistics.median(lengths_us), 1),
        }
    return {
        "ops": len(spans),
        "p50_us": round(p50 / 1000, 1),
        "p99_us": round(p99 / 1000, 1),
        "slow_ops": slow_count,
        "slow_median_us": round(statistics.median(span.length for span in slow) / 1000, 1),
        "slow_with_gc": sum(1 for ns in in_gc if ns > 0),
        "slow_gc_share": round(sum(in_gc) / slow_time, 3) if slow_time else 0.0,
        "collections": by_generation,
    }


def measure(subjects: Sequence[TailSubject], *, rounds: int, ops: int) -> list[dict[str, Any]]:
    """Run the subjects' operations in alternating rounds, then attribute each one's slowest 1%.

    Alternating spreads the machine's background noise over every subject alike. A subject whose
    operation raises is reported with its error and left out of the later rounds.
    """
    spans: dict[int, list[Span]] = {index: [] for index in range(len(subjects))}
    pauses: dict[int, list[GcPause]] = {index: [] for index in range(len(subjects))}
    errors: dict[int, str] = {}
    for round_number in range(rounds):
        for index, subject in enumerate(subjects):
            if index in errors:
                continue
            indices = range(round_number * ops, (round_number + 1) * ops)
            try:
                with recorded_gc() as seen:
                    spans[index] += timed_spans(subject.op, indices)
            except Exception as error:  # noqa: BLE001 - one broken subject must not end the run
                errors[index] = f"{type(error).__name__}: {str(error)[:200]}"
                continue
            pauses[index] += seen
    found = []
    for index, subject in enumerate(subjects):
        row: dict[str, Any] = {
            "system": subject.system,
            "operation": subject.operation,
            "payload": subject.payload,
        }
        if index in errors:
            row["error"] = errors[index]
        elif spans[index]:
            row.update(attribute(spans[index], pauses[index]))
            database = subject.database() if subject.database is not None else None
            if database is not None and database.count:
                row["database_p50_us"] = round(database.p50 * 1e6, 1)
                row["database_p99_us"] = round(database.p99 * 1e6, 1)
        found.append(row)
    return found
