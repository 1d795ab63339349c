"""A latency histogram with log-spaced buckets: O(1) to record, fixed memory, percentiles (pure).

Durations from 1 microsecond to about 17 minutes fall into buckets 2^(1/16) apart (4.4% wide),
so a percentile read back is within about 2.2% of the true sample (the bucket's geometric middle,
clamped to the smallest and largest duration recorded). Smaller and larger durations are counted
in the first and last bucket. Count, sum, minimum and maximum are exact.

Not thread-safe on its own: the stats recorder updates it under its lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

SUB_BUCKETS: Final = 16
"""Buckets per doubling."""
MIN_SECONDS: Final = 1e-6
OCTAVES: Final = 30
"""1 us * 2**30 is about 1074 s."""
BUCKETS: Final = SUB_BUCKETS * OCTAVES
_WIDTH: Final = 2.0 ** (1.0 / SUB_BUCKETS)

PERCENTILES: Final = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles and extremes of one operation's durations, in seconds."""

    count: int = 0
    mean: float = 0.0
    p50: float = 0.0
    p90: float = 0.0
    p99: float = 0.0
    max: float = 0.0

    def as_milliseconds(self) -> dict[str, float | int]:
        """A JSON-friendly view: the count, then every duration in milliseconds (3 decimals)."""
        return {
            "count": self.count,
            "mean_ms": round(self.mean * 1000, 3),
            "p50_ms": round(self.p50 * 1000, 3),
            "p90_ms": round(self.p90 * 1000, 3),
            "p99_ms": round(self.p99 * 1000, 3),
            "max_ms": round(self.max * 1000, 3),
        }


def bucket_of(seconds: float) -> int:
    """The bucket a duration falls into (first or last for durations out of range)."""
    if not seconds > MIN_SECONDS:  # also catches NaN
        return 0
    index = int(math.log2(seconds / MIN_SECONDS) * SUB_BUCKETS)
    return min(index, BUCKETS - 1)


def bucket_middle(index: int) -> float:
    """The geometric middle of a bucket, in seconds."""
    return float(MIN_SECONDS * _WIDTH ** (index + 0.5))


class LatencyHistogram:
    """Durations of one kind of operation."""

    __slots__ = ("_buckets", "_count", "_max", "_min", "_sum")

    def __init__(self) -> None:
        self._buckets = [0] * BUCKETS
        self._count = 0
        self._sum = 0.0
        self._min = math.inf
        self._max = 0.0

    @property
    def count(self) -> int:
        return self._count

    def record(self, seconds: float) -> None:
        """Add one duration (negative or NaN durations count as zero)."""
        if not seconds > 0.0:
            seconds = 0.0
        self._buckets[bucket_of(seconds)] += 1
        self._count += 1
        self._sum += seconds
        self._min = min(self._min, seconds)
        self._max = max(self._max, seconds)

    def percentile(self, fraction: float) -> float:
        """The duration below which ``fraction`` (0..1) of the recorded ones fall; 0.0 if none."""
        if not 0.0 <= fraction <= 1.0:
            msg = f"fraction must be between 0 and 1, got {fraction!r}"
            raise ValueError(msg)
        if self._count == 0:
            return 0.0
        rank = max(1, math.ceil(fraction * self._count))
        seen = 0
        for index, in_bucket in enumerate(self._buckets):
            seen += in_bucket
            if seen >= rank:
                if index == BUCKETS - 1:  # the overflow bucket has no meaningful middle
                    return self._max
                return min(max(bucket_middle(index), self._min), self._max)
        return self._max  # pragma: no cover - the counts always add up to _count

    def summary(self) -> LatencySummary:
        if self._count == 0:
            return LatencySummary()
        p50, p90, p99 = (self.percentile(fraction) for fraction in PERCENTILES)
        return LatencySummary(
            count=self._count,
            mean=self._sum / self._count,
            p50=p50,
            p90=p90,
            p99=p99,
            max=self._max,
        )
