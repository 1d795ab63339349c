"""The pooled evidence of ``max_wrong_rate`` (``_semantic.pool``) and the rule that uses it."""

from __future__ import annotations

import pytest

from cassandra_llm_cache._semantic import pool
from cassandra_llm_cache._semantic.adaptive import MIN_OBSERVATIONS, Observation, decide, settled
from cassandra_llm_cache._semantic.similarity import resolve_measure

COS = resolve_measure("cos")
L2 = resolve_measure("l2")


def right(similarity: float, count: int) -> list[Observation]:
    return [Observation(similarity, right=True)] * count


def wrong(similarity: float, count: int) -> list[Observation]:
    return [Observation(similarity, right=False)] * count


@pytest.mark.parametrize(
    ("similarity", "number"), [(0.97, 97), (0.9699, 96), (0.999, 99), (1.0, 100), (-0.015, -2)]
)
def test_bands_are_hundredths_of_the_scale(similarity, number):
    assert pool.band(similarity) == number


def test_a_band_key_can_never_be_an_entrys():
    keys = {pool.pool_key(number) for number in range(-100, 201)}
    assert len(keys) == 301
    assert {len(key) for key in keys} == {9}  # digests are 16 (md5) or 32 (sha-256) bytes
    assert all(key.startswith(pool.POOL_PREFIX) for key in keys)


def test_the_bands_read_for_a_candidate_reach_the_window_farther():
    assert list(pool.bands_for(0.97, COS)) == [92, 93, 94, 95, 96, 97]
    assert list(pool.bands_for(0.30, L2)) == [30, 31, 32, 33, 34, 35]  # farther = larger


def test_the_pool_serves_where_the_entry_has_no_evidence_yet():
    conservative = 0.99
    assert decide([], 0.97, COS, 0.3, conservative) == (False, False)
    pooled = right(0.96, MIN_OBSERVATIONS)
    assert decide([], 0.97, COS, 0.3, conservative, pooled) == (True, False)  # served, explored
    assert decide([], 0.97, COS, 0.2, conservative, pooled) == (False, False)  # 10 bound ~28%
    assert decide([], 0.95, COS, 0.3, conservative, pooled) == (False, False)  # only closer ones
    assert decide([], 0.97, COS, 0.3, conservative, pooled[:-1]) == (False, False)  # too few


def test_the_entrys_own_evidence_outranks_the_pool():
    pooled = right(0.96, 200)
    assert decide(wrong(0.96, 3), 0.97, COS, 0.3, 0.99, pooled) == (False, False)
    assert decide(wrong(0.96, 3), 0.995, COS, 0.3, 0.99, pooled) == (False, False)
    assert decide(right(0.96, 10), 0.97, COS, 0.3, 0.99, wrong(0.96, 50)) == (True, True)
    # A wrong-heavy pool never takes away what the conservative threshold serves.
    assert decide([], 0.995, COS, 0.3, 0.99, wrong(0.99, 50)) == (True, False)


def test_wrong_pooled_answers_keep_the_band_closed():
    pooled = right(0.96, 100) + wrong(0.955, 10)
    assert decide([], 0.97, COS, 0.3, 0.99, pooled) == (True, False)  # 9% wrong, bound ~16%
    assert decide([], 0.97, COS, 0.1, 0.99, pooled) == (False, False)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bands_are_read_once_then_again_after_the_refresh():
    clock = Clock()
    kept = pool.PooledEvidence(refresh=10.0, clock=clock)
    assert kept.stale(b"m", [96, 97]) == [96, 97]
    kept.store(b"m", 96, right(0.965, 2))
    kept.store(b"m", 97, [])
    assert kept.stale(b"m", [96, 97]) == []
    assert kept.stale(b"other", [96]) == [96]  # models are kept apart
    kept.add(b"m", Observation(0.962, right=False))  # this process's own: counted at once
    kept.add(b"m", Observation(0.95, right=True))  # band 95 was never read: left to the read
    assert kept.evidence(b"m", [95, 96, 97]) == [Observation(0.962, right=False), *right(0.965, 2)]
    clock.now = 9.9
    assert kept.stale(b"m", [96]) == []
    clock.now = 10.0
    assert kept.stale(b"m", [96, 97]) == [96, 97]
    kept.clear()
    assert kept.evidence(b"m", [96]) == []


def test_the_copy_is_bounded():
    kept = pool.PooledEvidence()
    kept.store(b"m", 96, right(0.96, pool.POOL_READ + 5))
    kept.add(b"m", Observation(0.961, right=False))
    seen = kept.evidence(b"m", [96])
    assert len(seen) == pool.POOL_READ
    assert seen[0] == Observation(0.961, right=False)
    for number in range(pool.MAX_MODELS + 1):
        kept.store(number.to_bytes(4, "big"), 96, [])
    assert kept.stale(b"m", [96]) == [96]  # the least recently used model went
    assert kept.stale((pool.MAX_MODELS).to_bytes(4, "big"), [96]) == []


def test_only_an_open_decision_needs_the_pool():
    assert settled(right(0.96, 10), 0.97, COS, 0.3) == (True, True)  # certain on its own
    assert settled(wrong(0.96, 3), 0.97, COS, 0.3) == (False, False)  # stopped on its own
    assert settled(right(0.96, 9), 0.97, COS, 0.3) is None  # too few: the pool may decide
    assert settled([], 0.97, COS, 0.3) is None
