"""The ``max_wrong_rate`` section of ``eval-semantic`` on the real node, on hand-made traffic.

Scripted vectors put each question at a known cosine to the first one, so the test knows which
request a static threshold or the adaptive cache answers, and from which entry.
"""

from __future__ import annotations

import math
import uuid

import pytest

from cassandra_llm_cache import CassandraSemanticCache
from cassandra_llm_cache._semantic.cql import observations_table
from cassandra_llm_cache.eval._adaptive_sim import record_traffic, run_adaptive
from cassandra_llm_cache.eval._traffic import STATIC_GRID, Traffic, best_static, replay_static
from cassandra_llm_cache.testing import DeterministicEmbeddings

FIRST, SECOND, OTHER, CLOSE = "alpha first", "alpha second", "beta first", "gamma first"


def at(cosine: float, axis: int) -> list[float]:
    """A vector at ``cosine`` to e0, the rest of its length on ``axis``."""
    vector = [0.0] * 4
    vector[0], vector[axis] = cosine, math.sqrt(1 - cosine * cosine)
    return vector


@pytest.fixture
def embedding():
    return DeterministicEmbeddings(
        4,
        {
            FIRST: [1.0, 0.0, 0.0, 0.0],
            SECOND: at(0.962, 1),  # same question as FIRST
            OTHER: at(0.902, 2),  # another question, 0.864 from SECOND
            CLOSE: at(0.995, 3),  # another question, closer than the conservative 0.99
        },
    )


@pytest.fixture
def table(cassandra_session, cassandra_keyspace):
    name = f"eval_adaptive_{uuid.uuid4().hex[:8]}"
    yield name
    for dropped in (name, observations_table(name)):
        cassandra_session.execute(f'DROP TABLE IF EXISTS "{cassandra_keyspace}"."{dropped}"')


def test_static_thresholds_replayed_from_one_recording_on_the_node(
    cassandra_session, cassandra_keyspace, embedding, table
):
    traffic = Traffic("tiny", (FIRST, SECOND, OTHER), (0, 0, 1), (0, 1, 2, 0), 2, 3)
    cache = CassandraSemanticCache(cassandra_session, cassandra_keyspace, embedding, table)
    recording = record_traffic(cache, traffic, "eval:traffic:tiny")
    # Each request saw the earlier distinct questions, scored by Cassandra, never itself.
    assert [[c.entry for c in found] for found in recording.candidates] == [
        [],
        ["0"],
        ["0", "1"],
        ["1", "2"],
    ]
    assert recording.candidates[2][0].score == pytest.approx(0.902, abs=1e-4)
    assert all(c.guard_ok for found in recording.candidates for c in found)
    outcomes = [replay_static(recording, t, candidates=4) for t in STATIC_GRID]
    low = next(o for o in outcomes if o.threshold == 0.9)
    assert (low.right, low.wrong, low.exact, low.requests) == (2, 1, 1, 4)
    assert best_static(outcomes, 0.25).threshold == 0.9
    assert best_static(outcomes, 0.2).threshold == 0.96
    assert best_static(outcomes, 0.2).hits == 2


def test_adaptive_run_counts_wrong_hits_checks_and_observations(
    cassandra_session, cassandra_keyspace, embedding, table
):
    # FIRST cached; CLOSE (another class) at 0.995 is served without evidence (wrong); SECOND at
    # 0.962 is refused, misses and teaches FIRST one right observation; then two repeats by key.
    traffic = Traffic("tiny", (FIRST, CLOSE, SECOND), (0, 1, 0), (0, 1, 2, 0, 2), 2, 3)
    cache = CassandraSemanticCache(
        cassandra_session,
        cassandra_keyspace,
        embedding,
        table,
        score_threshold=0.5,
        max_wrong_rate=0.05,
    )
    seen: set[bytes] = set()
    outcome = run_adaptive(
        cache,
        cassandra_session,
        cassandra_keyspace,
        table,
        traffic,
        max_wrong_rate=0.05,
        floor=0.5,
        seen_llm_keys=seen,
    )
    assert (outcome.requests, outcome.right, outcome.wrong, outcome.exact) == (5, 2, 1, 2)
    assert outcome.wrong_per_request == pytest.approx(0.2)
    assert outcome.checks == 0  # the seeded draw did not explore the one uncertain hit
    assert outcome.model_calls == 2  # the two misses
    assert (outcome.observations, outcome.judged_wrong) == (1, 0)
    assert (outcome.entries, outcome.observed_entries, outcome.most_observations) == (2, 1, 1)
    assert outcome.certain_entries == 0
    # The one observation (0.962, right) is in the pool too, in band 96; one is not enough.
    assert (outcome.pooled_observations, outcome.pooled_bands) == (1, ((96, 1, 0),))
    assert outcome.pooled_from is None
    assert outcome.warmup == 1
    assert len(seen) == 1
    # A second run on the same table keeps its own entries (its own model string): the same
    # counts, and only its own observations are read.
    again = run_adaptive(
        cache,
        cassandra_session,
        cassandra_keyspace,
        table,
        traffic,
        max_wrong_rate=0.05,
        floor=0.6,
        seen_llm_keys=seen,
    )
    assert (again.right, again.wrong, again.observations, again.observed_entries) == (2, 1, 1, 1)
    assert len(seen) == 2
