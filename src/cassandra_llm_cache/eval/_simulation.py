"""A cache simulation on labelled public pairs: queries arrive in order, the cache fills on misses.

Recording runs once on the real node through ``CassandraSemanticCache``: each query of the stream
is searched (``similar_entries``: Cassandra's scores and the guard's verdicts for the nearest
``SEARCH_WINDOW`` entries among all earlier queries) and then written. Replaying is pure: at a
threshold, a query is answered by the best of the ``candidates`` nearest entries *still in the
cache* that passes the threshold (and the guard); a hit is not written (a real cache serves it and
calls no model), a miss is. So one pass over the node gives the whole curve. (When more than
``SEARCH_WINDOW - candidates`` of a query's nearest earlier queries were hits, the replay sees
fewer than ``candidates`` entries: the window is wide enough that this is rare.)

A hit is right only if the cached entry asks the same question (``_public.same_question_classes``).
Per data set and threshold: hit rate (hits / requests), served-hit precision (right / hits), wrong
answers per request (wrong / requests) and recall (right hits / requests whose question was
already cached).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_core.outputs import Generation

from cassandra_llm_cache.eval._metrics import Candidate, HitCounts, choose
from cassandra_llm_cache.eval._public import same_question_classes, stream

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from langchain_core.embeddings import Embeddings

    from cassandra_llm_cache.eval._calibrate import ScoredPair
    from cassandra_llm_cache.eval._public import LabelledPair, PairSet
    from cassandra_llm_cache.semantic import CassandraSemanticCache

SEARCH_WINDOW = 16


@dataclass(frozen=True)
class Step:
    """One query of the stream: its question class and its nearest earlier queries."""

    question: int
    candidates: tuple[Candidate, ...]  # entry = the stream index of the earlier query


@dataclass(frozen=True)
class Recording:
    """A data set's split, as the cache saw it."""

    dataset: str
    split: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class SimOutcome(HitCounts):
    """One replay: counts at one threshold, with or without the guard."""

    dataset: str
    split: str
    threshold: float
    guard: bool
    requests: int
    right: int
    wrong: int
    answerable: int

    @property
    def recall(self) -> float | None:
        """Right hits among requests whose question was in the cache when they came."""
        return self.right / self.answerable if self.answerable else None


def record(
    cache: CassandraSemanticCache,
    dataset: str,
    split: str,
    pairs: Sequence[LabelledPair],
    *,
    progress: Callable[[str], None] = lambda _: None,
) -> Recording:
    """Search then write every query of the split's stream (its own model string: own scope)."""
    model = f"eval:sim:{dataset}:{split}"
    classes = same_question_classes(pairs)
    numbering: dict[str, int] = {}
    texts = stream(pairs)
    progress(f"{dataset} {split}: {len(texts)} queries in order, each searched then written")
    index_of: dict[str, int] = {}
    steps: list[Step] = []
    for index, text in enumerate(texts):
        found = cache.similar_entries(text, model, limit=SEARCH_WINDOW)
        candidates = tuple(
            Candidate(str(index_of[c.document_id]), c.score, c.guard_rejection is None)
            for c in found
            if c.document_id in index_of
        )
        question = numbering.setdefault(classes[text], len(numbering))
        steps.append(Step(question, candidates))
        cache.update(text, model, [Generation(text=str(index))])
        index_of[cache.document_id(text, model)] = index
    return Recording(dataset, split, tuple(steps))


def replay(recording: Recording, threshold: float, *, guard: bool, candidates: int) -> SimOutcome:
    """The cache's answers at ``threshold``, query after query."""
    present: set[int] = set()
    cached_questions: set[int] = set()
    right = wrong = answerable = 0
    for index, step in enumerate(recording.steps):
        visible = [c for c in step.candidates if int(c.entry) in present][:candidates]
        answerable += step.question in cached_questions
        chosen = choose(visible, threshold, guard=guard)
        if chosen is None:
            present.add(index)
            cached_questions.add(step.question)
        elif recording.steps[int(chosen.entry)].question == step.question:
            right += 1
        else:
            wrong += 1
    return SimOutcome(
        recording.dataset,
        recording.split,
        threshold,
        guard,
        len(recording.steps),
        right,
        wrong,
        answerable,
    )


def sweep(
    recordings: Iterable[Recording], thresholds: Iterable[float], *, candidates: int
) -> list[SimOutcome]:
    """Every recording at every threshold, without and with the guard."""
    grid = list(thresholds)
    return [
        replay(recording, threshold, guard=guard, candidates=candidates)
        for recording in recordings
        for threshold in grid
        for guard in (False, True)
    ]


@dataclass(frozen=True)
class PublicRun:
    """One public data set in a run: its calibration pairs scored, its test split simulated."""

    dataset: str
    source: str
    calibration: tuple[ScoredPair, ...]
    test: Recording
    test_pairs: int
    test_same_pairs: int


def run_public(
    cache: CassandraSemanticCache,
    embedding: Embeddings,
    sets: Sequence[PairSet],
    *,
    progress: Callable[[str], None] = lambda _: None,
) -> list[PublicRun]:
    """Calibrate on each set's calibration half (pairs); simulate its test half (on the node)."""
    from cassandra_llm_cache.eval._calibrate import score_pairs
    from cassandra_llm_cache.eval._public import CALIBRATION, TEST, split

    runs: list[PublicRun] = []
    for pair_set in sets:
        halves = split(pair_set.pairs)
        progress(f"{pair_set.name}: scoring {len(halves[CALIBRATION])} calibration pairs")
        scored = tuple(score_pairs(halves[CALIBRATION], embedding))
        test = halves[TEST]
        recording = record(cache, pair_set.name, TEST, test, progress=progress)
        runs.append(
            PublicRun(
                pair_set.name,
                pair_set.source,
                scored,
                recording,
                len(test),
                sum(pair.same for pair in test),
            )
        )
    return runs
