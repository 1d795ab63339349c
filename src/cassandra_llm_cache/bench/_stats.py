"""Turning timings into the reported figures: percentiles, throughput, CPU per operation, medians.

Pure: numbers in, numbers out.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True)
class Sample:
    """The raw result of one timed repetition."""

    ops: int
    wall_seconds: float
    cpu_seconds: float
    latencies_ns: Sequence[int]


@dataclass(frozen=True)
class Summary:
    """The reported figures of one repetition (or the medians over repetitions)."""

    ops: int
    p50_us: float
    p99_us: float
    throughput: float
    cpu_us_per_op: float

    def as_dict(self) -> dict[str, float]:
        return {
            "ops": self.ops,
            "p50_us": round(self.p50_us, 2),
            "p99_us": round(self.p99_us, 2),
            "throughput": round(self.throughput, 1),
            "cpu_us_per_op": round(self.cpu_us_per_op, 2),
        }


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of already sorted values (nearest-rank, no interpolation)."""
    if not sorted_values:
        raise ValueError("no values")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be between 0 and 1")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return float(sorted_values[rank - 1])


def summarize(sample: Sample) -> Summary:
    if sample.ops <= 0 or sample.wall_seconds <= 0:
        raise ValueError("a sample needs at least one operation and a positive duration")
    ordered = sorted(sample.latencies_ns)
    return Summary(
        ops=sample.ops,
        p50_us=percentile(ordered, 0.50) / 1000.0,
        p99_us=percentile(ordered, 0.99) / 1000.0,
        throughput=sample.ops / sample.wall_seconds,
        cpu_us_per_op=sample.cpu_seconds * 1e6 / sample.ops,
    )


def median_summary(summaries: Sequence[Summary]) -> Summary:
    """Each figure's median over the repetitions (figures are taken independently)."""
    if not summaries:
        raise ValueError("no repetitions")
    return Summary(
        ops=int(statistics.median(s.ops for s in summaries)),
        p50_us=statistics.median(s.p50_us for s in summaries),
        p99_us=statistics.median(s.p99_us for s in summaries),
        throughput=statistics.median(s.throughput for s in summaries),
        cpu_us_per_op=statistics.median(s.cpu_us_per_op for s in summaries),
    )


def spread(values: Sequence[float]) -> float:
    """(max - min) / median: how much the repetitions disagree (0.1 = 10 %)."""
    if not values:
        raise ValueError("no values")
    middle = statistics.median(values)
    if middle == 0:
        return 0.0
    return (max(values) - min(values)) / middle


def ratio(value: float, reference: float) -> float | None:
    """``value / reference``, or None when the reference is missing or zero."""
    if reference == 0 or math.isnan(reference):
        return None
    return value / reference
