import itertools

import pytest
from cassandra.murmur3 import murmur3
from hypothesis import given
from hypothesis import strategies as st

from cassandra_llm_cache.admin._ranges import (
    MAX_TOKEN,
    MIN_TOKEN,
    ExportCheckpoint,
    ImportCheckpoint,
    range_of,
    split_ring,
)


@pytest.mark.parametrize("count", [1, 2, 3, 7, 64, 1000])
def test_ranges_cover_the_ring_contiguously(count):
    ranges = split_ring(count)
    assert len(ranges) == count
    assert ranges[0].start == MIN_TOKEN
    assert ranges[-1].end == MAX_TOKEN
    for before, after in itertools.pairwise(ranges):
        assert before.end == after.start
        assert before.start < before.end
    widths = [r.end - r.start for r in ranges]
    assert max(widths) - min(widths) <= 1


@given(st.binary(min_size=1, max_size=64), st.integers(1, 300))
def test_every_key_token_is_in_exactly_one_range(key, count):
    token = murmur3(key)
    holding = [r for r in split_ring(count) if r.start < token <= r.end]
    assert len(holding) == 1
    assert holding[0].index == range_of(token, count)


@pytest.mark.parametrize("count", [0, -1, 1 << 17, True, 2.0])
def test_bad_split_counts_are_refused(count):
    with pytest.raises(ValueError, match="token ranges"):
        split_ring(count)


def test_export_checkpoint_round_trips_and_counts_each_range_once():
    checkpoint = ExportCheckpoint(source="ks.t", splits=8)
    checkpoint.finish(3, 10)
    checkpoint.finish(3, 10)
    checkpoint.finish(5, 1)
    again = ExportCheckpoint.from_json(checkpoint.to_json())
    assert again == checkpoint
    assert again.done == {3, 5}
    assert again.entries == 11
    assert again.matches("ks.t", 8)
    assert not again.matches("ks.t", 16)


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"kind": "other"},
        {"kind": ExportCheckpoint.KIND, "source": "ks.t", "splits": 4, "done": [4]},
        {"kind": ExportCheckpoint.KIND, "source": 1, "splits": 4, "done": []},
    ],
)
def test_malformed_export_checkpoints_are_refused(data):
    with pytest.raises(ValueError, match="checkpoint"):
        ExportCheckpoint.from_json(data)


def test_import_checkpoint_round_trips():
    checkpoint = ImportCheckpoint(source="/tmp/x.jsonl", lines_done=42)
    assert ImportCheckpoint.from_json(checkpoint.to_json()) == checkpoint
    with pytest.raises(ValueError, match="checkpoint"):
        ImportCheckpoint.from_json({"kind": ImportCheckpoint.KIND, "source": "x", "lines_done": -1})
