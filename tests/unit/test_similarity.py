"""The one metric: legacy measure names, Cassandra's scales, thresholds and candidate choice."""

from __future__ import annotations

import math

import pytest

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache._semantic.similarity import MEASURES, first_acceptable, resolve_measure


@pytest.mark.parametrize("cosine", [-1.0, -0.3, 0.0, 0.5, 0.85, 0.955, 1.0])
def test_cosine_and_dot_scores_undo_cassandras_scaling(cosine):
    server = (1 + cosine) / 2  # what similarity_cosine / similarity_dot_product return
    assert MEASURES["cos"].score(server) == pytest.approx(cosine)
    assert MEASURES["dot"].score(server) == pytest.approx(cosine)


@pytest.mark.parametrize("distance", [0.0, 0.1, 0.5, 1.0, 2.0])
def test_l2_score_is_the_distance(distance):
    server = 1 / (1 + distance**2)  # what similarity_euclidean returns
    assert MEASURES["l2"].score(server) == pytest.approx(distance)


def test_l2_of_zero_similarity_is_infinitely_far():
    assert MEASURES["l2"].score(0.0) == math.inf


def test_thresholds_follow_the_legacy_direction():
    assert MEASURES["cos"].passes(0.85, 0.85)
    assert not MEASURES["cos"].passes(0.8499, 0.85)
    assert MEASURES["l2"].passes(0.2, 0.2)
    assert not MEASURES["l2"].passes(0.21, 0.2)


def test_index_and_cql_functions():
    assert (MEASURES["cos"].index_function, MEASURES["cos"].cql_function) == (
        "COSINE",
        "similarity_cosine",
    )
    assert MEASURES["dot"].index_function == "DOT_PRODUCT"
    assert MEASURES["l2"].cql_function == "similarity_euclidean"


def test_distance_metric_overrides_similarity_measure():
    assert resolve_measure("cos", "l2").name == "l2"
    assert resolve_measure("dot").name == "dot"


@pytest.mark.parametrize("name", ["l1", "max", "COS", "", None, 3])
def test_measures_cassandra_cannot_compute_are_refused(name):
    with pytest.raises(ConfigurationError, match="similarity_measure must be one of"):
        resolve_measure(name)


def test_first_acceptable_skips_far_and_rejected_candidates():
    candidates = [("a", 0.99, False), ("b", 0.97, True), ("c", 0.90, True)]
    chosen = first_acceptable(
        candidates,
        score=lambda c: c[1],
        passes=lambda s: s >= 0.95,
        accept=lambda c: c[2],
    )
    assert chosen == ("b", 0.97, True)
    assert (
        first_acceptable(
            candidates, score=lambda c: c[1], passes=lambda s: s >= 0.98, accept=lambda c: c[2]
        )
        is None
    )
