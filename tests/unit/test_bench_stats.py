"""Percentiles, medians and ratios of the benchmark (pure)."""

from __future__ import annotations

import pytest

from cassandra_llm_cache.bench._stats import (
    Sample,
    Summary,
    median_summary,
    percentile,
    spread,
    summarize,
)


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([7], 0.99) == 7


@pytest.mark.parametrize("fraction", [-0.1, 1.1])
def test_percentile_rejects_fractions_outside_zero_one(fraction):
    with pytest.raises(ValueError, match="fraction"):
        percentile([1, 2], fraction)


def test_percentile_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_summarize_converts_units():
    sample = Sample(
        ops=4, wall_seconds=0.002, cpu_seconds=0.001, latencies_ns=[4000, 1000, 3000, 2000]
    )
    summary = summarize(sample)
    assert summary.p50_us == 2.0
    assert summary.p99_us == 4.0
    assert summary.throughput == pytest.approx(2000.0)
    assert summary.cpu_us_per_op == pytest.approx(250.0)


def test_summarize_rejects_an_empty_sample():
    with pytest.raises(ValueError, match="at least one"):
        summarize(Sample(ops=0, wall_seconds=1.0, cpu_seconds=0.0, latencies_ns=[]))


def test_median_summary_takes_each_figure_independently():
    summaries = [
        Summary(ops=10, p50_us=1.0, p99_us=30.0, throughput=100.0, cpu_us_per_op=5.0),
        Summary(ops=10, p50_us=3.0, p99_us=10.0, throughput=300.0, cpu_us_per_op=1.0),
        Summary(ops=10, p50_us=2.0, p99_us=20.0, throughput=200.0, cpu_us_per_op=9.0),
    ]
    median = median_summary(summaries)
    assert (median.p50_us, median.p99_us, median.throughput, median.cpu_us_per_op) == (
        2.0,
        20.0,
        200.0,
        5.0,
    )


def test_spread_is_range_over_median():
    assert spread([90.0, 100.0, 110.0]) == pytest.approx(0.2)
    assert spread([0.0, 0.0]) == 0.0
