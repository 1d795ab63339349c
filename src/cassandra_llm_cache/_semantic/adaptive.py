"""Error-bounded per-entry thresholds: the decision rule and its evidence (pure).

With ``max_wrong_rate=δ`` a semantic cache serves a similar entry only when that entry's own
record says answers at that closeness were right often enough. The record is a list of
observations (the similarity of a request to the entry, and whether the entry's answer was right
for it), learnt by ``CachedChatModel``/``CachedLLM`` and kept in Cassandra (``_semantic.cql``),
so every process decides on all traffic's evidence. The rule (``docs/semantic-tuning.md`` states
what it does and does not guarantee):

* the evidence for a candidate at similarity ``s`` is the entry's observations at ``s`` or
  farther, by at most ``WINDOW`` (cosine ``s - 0.05 <= similarity <= s``);
* the candidate is *certain* (and served) when that evidence counts at least
  ``MIN_OBSERVATIONS`` and the Wilson upper bound (95%) of its wrong rate is at most δ;
* it is refused when its own evidence shows the wrong rate above δ (the Wilson lower bound
  exceeding δ);
* otherwise it is served, not certain, when the model's *pooled* observations (every entry's,
  by similarity band: ``_semantic.pool``) at ``s`` or up to ``WINDOW`` farther meet the same
  test, or at or beyond the conservative threshold (cosine 0.99, or the cache's own threshold
  if that is stricter). Not certain means the wrapper still explores it now and then, so the
  pool keeps learning from the hits it serves.

Why "at ``s`` or farther": if an entry's answers go wrong no more often as requests come closer
to it (the monotonicity assumption), requests a little farther than ``s`` are wrong at least as
often as one at ``s``, so a bound on their wrong rate bounds this request's. Closer observations
would flatter it; the window keeps evidence from far-away requests (mostly wrong, and irrelevant
here) out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from cassandra_llm_cache._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from cassandra_llm_cache._semantic.similarity import Measure

__all__ = [
    "CONSERVATIVE_COSINE",
    "MIN_OBSERVATIONS",
    "WINDOW",
    "Observation",
    "check_explore",
    "check_max_wrong_rate",
    "conservative_threshold",
    "decide",
    "same_answer",
    "settled",
    "wilson_lower",
    "wilson_upper",
]

Z_95: Final = 1.959963984540054
"""The two-sided 95% normal quantile the Wilson bound uses."""
MIN_OBSERVATIONS: Final = 10
"""Fewer observations than this never make an entry (or a pool band) certain, whatever the
bound says."""
WINDOW: Final = 0.05
"""How much farther than the candidate an observation may be and still count (measure scale)."""
CONSERVATIVE_COSINE: Final = 0.99
"""Where an entry without evidence still serves (cosine; the same angle for "dot" and "l2")."""
JACCARD_SAME: Final = 0.8
_WORD: Final = re.compile(r"\w+")


@dataclass(frozen=True)
class Observation:
    """One request judged against an entry: its similarity (the measure's scale) and verdict."""

    similarity: float
    right: bool


def _wilson(wrong: int, total: int, z: float, sign: float) -> float:
    rate = wrong / total
    z2 = z * z
    centre = rate + z2 / (2 * total)
    spread = z * math.sqrt(rate * (1 - rate) / total + z2 / (4 * total * total))
    return min(1.0, max(0.0, (centre + sign * spread) / (1 + z2 / total)))


def wilson_upper(wrong: int, total: int, z: float = Z_95) -> float:
    """The Wilson score interval's upper end for ``wrong`` failures out of ``total`` (1.0 if none).

    Wilson rather than the normal approximation because it stays honest at the small counts and
    near-zero rates a cache lives with (no wrong answer yet is not a rate of zero).
    """
    return 1.0 if total <= 0 else _wilson(wrong, total, z, 1.0)


def wilson_lower(wrong: int, total: int, z: float = Z_95) -> float:
    """The Wilson score interval's lower end (0.0 without observations)."""
    return 0.0 if total <= 0 else _wilson(wrong, total, z, -1.0)


def _tally(observations: Iterable[Observation], score: float, measure: Measure) -> tuple[int, int]:
    """``(wrong, total)`` of the observations at ``score`` or up to ``WINDOW`` farther."""
    evidence = [
        seen
        for seen in observations
        if measure.passes(score, seen.similarity) and abs(score - seen.similarity) <= WINDOW
    ]
    return sum(1 for seen in evidence if not seen.right), len(evidence)


def _bounds(wrong: int, total: int, max_wrong_rate: float) -> bool:
    return total >= MIN_OBSERVATIONS and wilson_upper(wrong, total) <= max_wrong_rate


def settled(
    observations: Iterable[Observation], score: float, measure: Measure, max_wrong_rate: float
) -> tuple[bool, bool] | None:
    """What the entry's own evidence alone decides: ``(True, True)`` certain, ``(False, False)``
    stopped, or None when it leaves the candidate to the pool and the conservative threshold
    (so the cache reads the pool only then)."""
    wrong, total = _tally(observations, score, measure)
    if _bounds(wrong, total, max_wrong_rate):
        return True, True
    if wilson_lower(wrong, total) > max_wrong_rate:
        return False, False
    return None


def decide(  # noqa: PLR0917 - the rule's inputs, all needed
    observations: Iterable[Observation],
    score: float,
    measure: Measure,
    max_wrong_rate: float,
    conservative: float,
    pooled: Iterable[Observation] = (),
) -> tuple[bool, bool]:
    """``(serve, certain)`` for a candidate at ``score`` with the entry's ``observations``.

    Certain (and served): at least ``MIN_OBSERVATIONS`` observations at ``score`` or up to
    ``WINDOW`` farther, whose wrong rate's Wilson upper bound is at most ``max_wrong_rate``.
    Refused: the entry's own evidence shows the wrong rate above the bound (its Wilson lower
    bound exceeding it), whatever else says. Otherwise served, not certain, when the ``pooled``
    observations (all the model's entries, ``_semantic.pool``) at ``score`` or up to ``WINDOW``
    farther meet the same test as the entry's own would, or at or beyond ``conservative``; so
    a few right observations never take away what was served without them.
    """
    own = settled(observations, score, measure, max_wrong_rate)
    if own is not None:
        return own
    pooled_wrong, pooled_total = _tally(pooled, score, measure)
    if _bounds(pooled_wrong, pooled_total, max_wrong_rate):
        return True, False
    return measure.passes(score, conservative), False


def conservative_threshold(measure: Measure, threshold: float) -> float:
    """Where an entry without evidence serves: cosine 0.99 or ``threshold``, the stricter."""
    if measure.higher_is_closer:
        return max(CONSERVATIVE_COSINE, threshold)
    # For unit vectors the distance at cosine c is sqrt(2 - 2c).
    return min(math.sqrt(2 - 2 * CONSERVATIVE_COSINE), threshold)


def check_max_wrong_rate(value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 0.5  # noqa: PLR2004 - the documented range
    ):
        raise ConfigurationError("max_wrong_rate must be None or a number with 0 < δ < 0.5")
    return float(value)


def check_explore(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 <= value <= 1
        or not math.isfinite(value)
    ):
        raise ConfigurationError("explore must be a probability from 0 to 1")
    return float(value)


def same_answer(cached: str, fresh: str) -> bool:
    """The default judge: the two answers' word sets overlap by a Jaccard index of at least 0.8.

    No model call, so it is free; but it judges wording, not meaning: two answers that say the
    same in other words count as different (the entry learns more slowly, never wrongly serves),
    and answers differing in one decisive word (a number, "not") may count as the same.
    """
    left = set(_WORD.findall(cached.casefold()))
    right = set(_WORD.findall(fresh.casefold()))
    if not left and not right:
        return True
    return len(left & right) / len(left | right) >= JACCARD_SAME
