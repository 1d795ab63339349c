"""Traffic with repetition drawn from a test half, and static thresholds replayed on it (pure).

The first cache simulation (``_simulation``) sends each distinct question once: right for a
threshold curve, but no entry is ever asked twice, so nothing can learn per entry. Real traffic
repeats: a few questions are asked very often, most rarely. This module draws such traffic from a
test half's question classes (texts labelled the same question, transitively):

* the classes are ranked in a fixed pseudo-random order (a hash of each class's smallest text),
  and class number ``r`` (1-based) is drawn with weight ``1 / r ** ZIPF_EXPONENT`` (Zipf, s = 1);
* each request is a member question of its class drawn uniformly: the same question reworded, as
  users ask it;
* by default ``REQUESTS_PER_QUESTION`` requests per distinct question of the half; the random
  source is seeded with ``TRAFFIC_SEED`` and the data set's name, so a commit always draws the
  same traffic.

Static thresholds are replayed on a recording of that traffic, as in ``_simulation``: each request
with the nearest earlier distinct questions the node returned for it. A request whose text is
already cached is an exact hit (right: the cache reads the identical prompt by its key first);
otherwise the best of the ``candidates`` nearest cached entries passing the threshold and the
guard answers it; a miss caches the request's text.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from cassandra_llm_cache.eval._metrics import HitCounts, choose
from cassandra_llm_cache.eval._public import same_question_classes

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from cassandra_llm_cache.eval._metrics import Candidate
    from cassandra_llm_cache.eval._public import LabelledPair

ZIPF_EXPONENT: Final = 1.0
REQUESTS_PER_QUESTION: Final = 3
TRAFFIC_SEED: Final = 17
WARMUP_SHARE: Final = 0.2
"""The first fifth of a run's requests is its warm-up (the extra model calls are also counted
after it)."""
STATIC_GRID: Final = tuple(round(0.80 + 0.005 * i, 3) for i in range(41))
"""The static thresholds tried: 0.800 to 1.000 by 0.005 (1.000 serves little but exact hits)."""


@dataclass(frozen=True)
class Traffic:
    """A data set's requests in order: each a distinct question's number and its class."""

    dataset: str
    texts: tuple[str, ...]
    """The distinct questions, numbered by their first request."""
    questions: tuple[int, ...]
    """Each distinct question's class (classes numbered by their first request)."""
    requests: tuple[int, ...]
    """The request stream: the number of the question asked."""
    classes: int
    """How many classes the half has (requested or not)."""
    half_questions: int
    """How many distinct questions the half has (requested or not)."""


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def zipf_weights(count: int, exponent: float = ZIPF_EXPONENT) -> list[float]:
    """Cumulative Zipf weights of ranks 1..count (for ``random.choices(cum_weights=...)``)."""
    return list(itertools.accumulate(1 / rank**exponent for rank in range(1, count + 1)))


def draw(
    dataset: str,
    pairs: Sequence[LabelledPair],
    *,
    requests: int | None = None,
    seed: int = TRAFFIC_SEED,
    exponent: float = ZIPF_EXPONENT,
) -> Traffic:
    """The traffic of ``pairs`` (a test half): Zipf-skewed classes, a random member each time."""
    roots = same_question_classes(pairs)
    members: dict[str, list[str]] = {}
    for text, root in roots.items():
        members.setdefault(root, []).append(text)
    ranked = sorted((sorted(texts) for texts in members.values()), key=lambda t: _digest(t[0]))
    count = REQUESTS_PER_QUESTION * len(roots) if requests is None else requests
    source = random.Random(f"{seed}:{dataset}")  # noqa: S311 - reproducible sampling
    cumulative = zipf_weights(len(ranked), exponent)
    picked = source.choices(range(len(ranked)), cum_weights=cumulative, k=count)
    numbers: dict[str, int] = {}
    class_numbers: dict[int, int] = {}
    questions: list[int] = []
    stream: list[int] = []
    for rank in picked:
        text = source.choice(ranked[rank])
        if text not in numbers:
            numbers[text] = len(numbers)
            questions.append(class_numbers.setdefault(rank, len(class_numbers)))
        stream.append(numbers[text])
    return Traffic(
        dataset, tuple(numbers), tuple(questions), tuple(stream), len(ranked), len(roots)
    )


@dataclass(frozen=True)
class TrafficRecording:
    """Each request's nearest earlier distinct questions (entry = question number), best first."""

    questions: tuple[int, ...]
    """Each distinct question's class, as in :class:`Traffic`."""
    requests: tuple[int, ...]
    candidates: tuple[tuple[Candidate, ...], ...]


@dataclass(frozen=True)
class StaticOutcome(HitCounts):
    """One static threshold on a data set's traffic."""

    threshold: float
    requests: int
    right: int
    wrong: int
    exact: int
    """Of the right hits, those of a request whose own text was cached (read by key)."""


def replay_static(
    recording: TrafficRecording, threshold: float, *, candidates: int, guard: bool = True
) -> StaticOutcome:
    """What a cache with this one threshold answers, request after request."""
    present: set[int] = set()
    right = wrong = exact = 0
    for asked, found in zip(recording.requests, recording.candidates, strict=True):
        if asked in present:
            right += 1
            exact += 1
            continue
        visible = [c for c in found if int(c.entry) in present][:candidates]
        chosen = choose(visible, threshold, guard=guard)
        if chosen is None:
            present.add(asked)
        elif recording.questions[int(chosen.entry)] == recording.questions[asked]:
            right += 1
        else:
            wrong += 1
    return StaticOutcome(threshold, len(recording.requests), right, wrong, exact)


def best_static(outcomes: Iterable[StaticOutcome], max_wrong_rate: float) -> StaticOutcome | None:
    """In hindsight: the most hits with wrong answers per request at most ``max_wrong_rate``
    (on a tie the higher threshold, which is wrong less often)."""
    meeting = [o for o in outcomes if o.wrong_per_request <= max_wrong_rate]
    if not meeting:
        return None
    return max(meeting, key=lambda o: (o.hits, -o.wrong, o.threshold))
