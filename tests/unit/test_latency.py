import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cassandra_llm_cache._policy.latency import (
    BUCKETS,
    MIN_SECONDS,
    LatencyHistogram,
    LatencySummary,
    bucket_middle,
    bucket_of,
)

# A percentile read back from a bucket is its geometric middle: within half a bucket width.
TOLERANCE = 2.0 ** (1 / 32) - 1 + 1e-9


def exact_percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def test_empty_histogram_summarises_to_zeros():
    histogram = LatencyHistogram()
    assert histogram.summary() == LatencySummary()
    assert histogram.percentile(0.99) == 0.0


def test_percentiles_of_a_lognormal_sample_are_within_the_bucket_error():
    rng = random.Random(7)
    samples = [rng.lognormvariate(math.log(0.002), 0.8) for _ in range(5000)]
    histogram = LatencyHistogram()
    for sample in samples:
        histogram.record(sample)
    summary = histogram.summary()
    assert summary.count == 5000
    assert summary.mean == pytest.approx(sum(samples) / len(samples))
    assert summary.max == max(samples)
    for fraction, value in ((0.5, summary.p50), (0.9, summary.p90), (0.99, summary.p99)):
        expected = exact_percentile(samples, fraction)
        assert abs(value - expected) / expected <= TOLERANCE, fraction


@given(st.lists(st.floats(min_value=2e-6, max_value=500.0), min_size=1, max_size=200))
def test_any_percentile_is_close_to_a_recorded_sample(samples):
    histogram = LatencyHistogram()
    for sample in samples:
        histogram.record(sample)
    for fraction in (0.0, 0.5, 0.9, 0.99, 1.0):
        expected = exact_percentile(samples, fraction)
        got = histogram.percentile(fraction)
        assert min(samples) <= got <= max(samples)
        assert abs(got - expected) / expected <= TOLERANCE


def test_out_of_range_durations_land_in_the_edge_buckets_and_keep_exact_extremes():
    histogram = LatencyHistogram()
    for value in (0.0, -1.0, math.nan, 1e-9, 5000.0):
        histogram.record(value)
    assert bucket_of(1e-9) == 0
    assert bucket_of(math.nan) == 0
    assert bucket_of(5000.0) == BUCKETS - 1
    summary = histogram.summary()
    assert summary.count == 5
    assert summary.max == 5000.0
    assert histogram.percentile(0.0) < 2 * MIN_SECONDS  # sub-microsecond: the first bucket
    assert histogram.percentile(1.0) == 5000.0


def test_buckets_are_monotonic_and_contain_their_middle():
    previous = -1
    for exponent in range(-60, 300):
        seconds = MIN_SECONDS * 2 ** (exponent / 10)
        index = bucket_of(seconds)
        assert index >= previous
        previous = index
    for index in (0, 1, 17, 200, BUCKETS - 2):
        assert bucket_of(bucket_middle(index)) == index


def test_fraction_must_be_between_zero_and_one():
    with pytest.raises(ValueError, match="between 0 and 1"):
        LatencyHistogram().percentile(1.5)


def test_summary_in_milliseconds():
    histogram = LatencyHistogram()
    histogram.record(0.0015)
    view = histogram.summary().as_milliseconds()
    assert view["count"] == 1
    assert view["p50_ms"] == 1.5
    assert view["max_ms"] == 1.5
