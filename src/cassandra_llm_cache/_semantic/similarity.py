"""One similarity metric, computed by Cassandra, for ranking and for the threshold (pure).

The SAI vector index ranks with its ``similarity_function`` and the query asks the server for the
same function (``similarity_cosine`` ...) on each returned row, so ranking and thresholding can
never disagree. Cassandra scales every similarity into [0, 1]; the cache reports scores on the
scale LangChain users know from the legacy class (and sets thresholds on it):

=========  =====================  ==========================  ===========================
measure    SAI similarity         Cassandra returns           score reported / threshold
=========  =====================  ==========================  ===========================
``cos``    ``COSINE``             ``(1 + cos) / 2``           cosine in [-1, 1], >= wins
``dot``    ``DOT_PRODUCT``        ``(1 + dot) / 2``           dot product, >= wins
``l2``     ``EUCLIDEAN``          ``1 / (1 + d**2)``          distance d, <= wins
=========  =====================  ==========================  ===========================

``dot`` is only meaningful for unit-length vectors (Cassandra's DOT_PRODUCT assumes them); for
those it equals ``cos``. The legacy ``l1`` and ``max`` measures have no Cassandra counterpart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

from cassandra_llm_cache._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["MEASURES", "Measure", "first_acceptable", "resolve_measure"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class Measure:
    """A similarity measure: its SAI function, its CQL function and its score scale."""

    name: str
    index_function: str
    cql_function: str
    higher_is_closer: bool

    def score(self, server_similarity: float) -> float:
        """The reported score for Cassandra's [0, 1] similarity of this measure."""
        if self.higher_is_closer:
            return 2.0 * server_similarity - 1.0
        if server_similarity <= 0.0:
            return math.inf
        return math.sqrt(max(0.0, 1.0 / server_similarity - 1.0))

    def passes(self, score: float, threshold: float) -> bool:
        """Whether ``score`` is close enough for a hit at ``threshold``."""
        return score >= threshold if self.higher_is_closer else score <= threshold


MEASURES: Final = {
    "cos": Measure("cos", "COSINE", "similarity_cosine", higher_is_closer=True),
    "dot": Measure("dot", "DOT_PRODUCT", "similarity_dot_product", higher_is_closer=True),
    "l2": Measure("l2", "EUCLIDEAN", "similarity_euclidean", higher_is_closer=False),
}


def resolve_measure(similarity_measure: str, distance_metric: str | None = None) -> Measure:
    """The measure named by the legacy arguments (``distance_metric`` wins, as it did)."""
    name = distance_metric if distance_metric is not None else similarity_measure
    if not isinstance(name, str) or name not in MEASURES:
        supported = ", ".join(repr(key) for key in MEASURES)
        raise ConfigurationError(
            f"similarity_measure must be one of {supported} (the measures Cassandra's vector "
            f"index computes); got {name!r}"
        )
    return MEASURES[name]


def first_acceptable(
    candidates: Iterable[_T],
    *,
    score: Callable[[_T], float],
    passes: Callable[[float], bool],
    accept: Callable[[_T], bool],
) -> _T | None:
    """The first candidate (best first) close enough and accepted by the guard/verifier."""
    for candidate in candidates:
        if passes(score(candidate)) and accept(candidate):
            return candidate
    return None
