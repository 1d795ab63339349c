"""``cassandra-llm-cache calibrate``: the threshold with the most hits under a bound on wrong ones.

From labelled pairs (``cached``, ``query``, ``same``): each pair is scored as the cache scores a
candidate (the cosine of the two embeddings) and checked by the guard; at threshold ``t`` a pair is
a hit if its score is at least ``t`` and the guard accepts it, and a wrong hit if it is not the
same question. The chosen threshold is the lowest (the most hits) whose wrong rate is within
``--max-wrong`` - not the best F1: a wrong answer costs far more than a miss. By default the
bound must hold for the one-sided Wilson upper confidence bound of the wrong rate, not only for
the measured rate, so a small calibration set chooses a cautious threshold.

The wrong rate is per served hit by default (``--per hit``: the share of cached answers that are
wrong) or per request (``--per request``: wrong answers / pairs, which depends on how many pairs
are near duplicates: use pairs that look like your traffic).
"""

from __future__ import annotations

import bisect
import math
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache._semantic import adaptive as _adaptive

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from langchain_core.embeddings import Embeddings

    from cassandra_llm_cache.eval._public import LabelledPair

GRID_STEP: Final = 0.0005
GRID_LOW: Final = 0.5
_BATCH: Final = 32
DEFAULT_CONFIDENCE: Final = 0.95


@dataclass(frozen=True)
class ScoredPair:
    """A labelled pair as the cache sees it."""

    score: float
    guard_ok: bool
    same: bool


@dataclass(frozen=True)
class Figures:
    """What a threshold does on the scored pairs."""

    threshold: float
    guard: bool
    pairs: int
    same_pairs: int
    hits: int
    wrong: int
    per: str
    confidence: float

    @property
    def right(self) -> int:
        return self.hits - self.wrong

    @property
    def denominator(self) -> int:
        return self.hits if self.per == "hit" else self.pairs

    @property
    def wrong_rate(self) -> float:
        return self.wrong / self.denominator if self.denominator else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """The two-sided Wilson interval of the wrong rate at ``confidence``."""
        return wilson(self.wrong, self.denominator, self.confidence, two_sided=True)

    @property
    def upper(self) -> float:
        """The one-sided Wilson upper bound of the wrong rate at ``confidence``."""
        return wilson(self.wrong, self.denominator, self.confidence, two_sided=False)[1]

    @property
    def hit_rate(self) -> float:
        return self.hits / self.pairs if self.pairs else 0.0

    @property
    def recall(self) -> float | None:
        return self.right / self.same_pairs if self.same_pairs else None

    @property
    def precision(self) -> float | None:
        return self.right / self.hits if self.hits else None


def wilson(
    failures: int, trials: int, confidence: float, *, two_sided: bool
) -> tuple[float, float]:
    """Wilson score interval of ``failures / trials`` (0..1 for no trials), at ``confidence``.

    The same interval the adaptive thresholds use (``_semantic.adaptive``), at any confidence.
    """
    tail = (1 - confidence) / (2 if two_sided else 1)
    z = statistics.NormalDist().inv_cdf(1 - tail)
    return _adaptive.wilson_lower(failures, trials, z), _adaptive.wilson_upper(failures, trials, z)


def score_pairs(pairs: Sequence[LabelledPair], embedding: Embeddings) -> list[ScoredPair]:
    """Cosine of each pair's embeddings and the guard's verdict on the query against the cached."""
    from cassandra_llm_cache._semantic import guard as _guard

    texts = list(dict.fromkeys(text for pair in pairs for text in (pair.a, pair.b)))
    vectors: dict[str, list[float]] = {}
    for start in range(0, len(texts), _BATCH):
        batch = texts[start : start + _BATCH]
        vectors.update(zip(batch, embedding.embed_documents(batch), strict=True))
    return [
        ScoredPair(
            _cosine(vectors[pair.a], vectors[pair.b]),
            _guard.check(pair.b, pair.a) is None,
            pair.same,
        )
        for pair in pairs
    ]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    return dot / norms if norms else 0.0


class Table:
    """Figures at any threshold in O(log n) (pairs sorted by score)."""

    def __init__(
        self, scored: Sequence[ScoredPair], *, guard: bool, per: str, confidence: float
    ) -> None:
        eligible = sorted(
            (pair.score, not pair.same) for pair in scored if pair.guard_ok or not guard
        )
        self._scores = [score for score, _ in eligible]
        self._wrong_above = [0] * (len(eligible) + 1)  # wrong pairs at index >= i
        for index in range(len(eligible) - 1, -1, -1):
            self._wrong_above[index] = self._wrong_above[index + 1] + eligible[index][1]
        self._guard, self._per, self._confidence = guard, per, confidence
        self._pairs = len(scored)
        self._same = sum(pair.same for pair in scored)

    def at(self, threshold: float) -> Figures:
        first = bisect.bisect_left(self._scores, threshold)
        return Figures(
            threshold,
            self._guard,
            self._pairs,
            self._same,
            len(self._scores) - first,
            self._wrong_above[first],
            self._per,
            self._confidence,
        )


def grid() -> list[float]:
    count = round((1.0 - GRID_LOW) / GRID_STEP)
    return [round(GRID_LOW + i * GRID_STEP, 4) for i in range(count + 1)]


def choose(
    scored: Sequence[ScoredPair],
    *,
    max_wrong: float,
    per: str = "hit",
    confidence: float = 0.95,
    guard: bool = True,
) -> Figures | None:
    """The lowest threshold on the grid whose wrong rate (its upper bound) is within the bound.

    ``confidence`` 0 bounds the measured rate itself. None if no threshold with a hit meets it.
    """
    table = Table(scored, guard=guard, per=per, confidence=confidence or DEFAULT_CONFIDENCE)
    for threshold in grid():
        figures = table.at(threshold)
        if figures.hits == 0:
            return None
        bound = figures.upper if confidence else figures.wrong_rate
        if bound <= max_wrong:
            return figures
    return None  # pragma: no cover - the grid ends at 1.0, where only identical texts hit


# --- the command ------------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    """Score the pairs, choose, print; with ``--store`` mark the table."""
    from cassandra_llm_cache.embeddings import LOCAL_EMBEDDINGS_SCORE_THRESHOLD, LocalEmbeddings
    from cassandra_llm_cache.eval._public import jsonl_pairs

    if not 0 < args.max_wrong < 1:
        raise ConfigurationError("--max-wrong must be a rate between 0 and 1, e.g. 0.02")
    if not 0 <= args.confidence < 1:
        raise ConfigurationError("--confidence must be from 0 (none) to below 1, e.g. 0.95")
    pairs = jsonl_pairs(Path(args.pairs)).pairs
    if not pairs:
        raise ConfigurationError(f"{args.pairs} holds no pairs")
    embedding = LocalEmbeddings()
    try:
        scored = score_pairs(pairs, embedding)
    finally:
        embedding.close()
    guard = not args.no_guard
    chosen = choose(
        scored, max_wrong=args.max_wrong, per=args.per, confidence=args.confidence, guard=guard
    )
    table = Table(
        scored, guard=guard, per=args.per, confidence=args.confidence or DEFAULT_CONFIDENCE
    )
    print(describe(table.at(LOCAL_EMBEDDINGS_SCORE_THRESHOLD), "default"))
    if chosen is None:
        print(
            f"no threshold meets a wrong rate of {args.max_wrong:g} per {args.per} on these "
            f"{len(pairs)} pairs{_with_confidence(args.confidence)}: add pairs or loosen the bound",
            file=sys.stderr,
        )
        return 1
    print(describe(chosen, "chosen"))
    if args.store:
        _store(args, chosen)
    return 0


def _with_confidence(confidence: float) -> str:
    return f" with {100 * confidence:g}% confidence" if confidence else ""


def describe(figures: Figures, label: str) -> str:
    """Two lines of figures (never a prompt)."""
    low, high = figures.interval
    precision = "-" if figures.precision is None else f"{100 * figures.precision:.1f}%"
    recall = "-" if figures.recall is None else f"{100 * figures.recall:.1f}%"
    return (
        f"{label} threshold {figures.threshold:.4f}: {figures.hits}/{figures.pairs} pairs hit "
        f"({100 * figures.hit_rate:.1f}%), {figures.wrong} wrong; precision {precision}, "
        f"recall {recall}\n  wrong per {figures.per}: {100 * figures.wrong_rate:.2f}% "
        f"({100 * figures.confidence:g}% interval {100 * low:.2f}-{100 * high:.2f}%, one-sided "
        f"upper bound {100 * figures.upper:.2f}%)"
    )


def _store(args: argparse.Namespace, chosen: Figures) -> None:
    from cassandra_llm_cache._errors import CacheOperationError
    from cassandra_llm_cache._semantic.calibration import StoredThreshold, with_mark
    from cassandra_llm_cache._storage.store import DRIVER_ERRORS
    from cassandra_llm_cache.admin import _tables
    from cassandra_llm_cache.admin._connect import connected, keyspace_and_table

    keyspace, table = keyspace_and_table(args)
    with connected(args) as session:
        description = _tables.describe(session, keyspace, table)
        if description.kind is not _tables.TableKind.SEMANTIC:
            raise ConfigurationError(f"{description.where} is not a semantic cache table")
        comment = with_mark(
            description.info.comment,
            StoredThreshold(chosen.threshold, "cos", args.max_wrong),
        )
        literal = "'" + comment.replace("'", "''") + "'"
        try:
            session.execute(
                f"ALTER TABLE {description.qualified} WITH comment = {literal}", timeout=60
            )
        except DRIVER_ERRORS as exc:
            msg = f"storing the threshold in {description.where} failed: {str(exc)[:300]}"
            raise CacheOperationError(msg) from exc
    print(
        f"stored in {keyspace}.{table}: every CassandraSemanticCache opened on it from now on "
        f"uses {chosen.threshold:.4f} unless given score_threshold"
    )
