"""Error-bounded thresholds (``max_wrong_rate``) on held-out traffic, beside static thresholds.

Per public data set, the test half's traffic (``_traffic.draw``: repeated, Zipf-skewed questions)
goes through the real code on the real node:

* **adaptive**: for each δ in ``DELTAS``, a ``CassandraSemanticCache(max_wrong_rate=δ)`` (the
  simulation's embedding, guard and candidates; its threshold is the floor below which nothing is
  considered) used through ``CachedChatModel`` with the library's default ``explore`` and judge.
  The wrapped model is :class:`ClassAnswers`: its answer to a question is a canonical text of the
  question's class, so the default judge (word-set Jaccard >= 0.8) calls a cached answer right
  exactly when the entry is of the same class - an oracle judge, better than any real one;
* **static**: one recording of the same traffic through ``similar_entries`` (each request's
  nearest earlier questions, with scores and guard verdicts), replayed at every threshold of
  ``STATIC_GRID`` (``_traffic.replay_static``).

A request is right when it is served from an entry of its own class. Each run has its own model
parameters (so its own entries and observations); both tables are dropped afterwards.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult, Generation
from pydantic import PrivateAttr
from typing_extensions import override

from cassandra_llm_cache._semantic import adaptive
from cassandra_llm_cache._semantic.cql import observations_table
from cassandra_llm_cache._semantic.pool import POOL_PREFIX, band
from cassandra_llm_cache._semantic.similarity import resolve_measure
from cassandra_llm_cache._storage.cql import qualified
from cassandra_llm_cache.eval._metrics import Candidate, HitCounts
from cassandra_llm_cache.eval._traffic import (
    STATIC_GRID,
    WARMUP_SHARE,
    StaticOutcome,
    Traffic,
    TrafficRecording,
    draw,
    replay_static,
)
from cassandra_llm_cache.semantic import CassandraSemanticCache
from cassandra_llm_cache.streaming import CachedChatModel

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from cassandra.cluster import Session
    from langchain_core.messages import BaseMessage

    from cassandra_llm_cache.eval._public import PairSet

DELTAS: Final = (0.01, 0.02, 0.05)
LOW_FLOOR: Final = 0.85
"""The second floor tried: the cache's threshold at the default only lets candidates from 0.970
be considered (and observed); from 0.85 nearly every miss with a neighbour teaches its entry."""
EXPLORE_SEED: Final = 17
RECORD_WINDOW: Final = 16
"""Nearest earlier questions recorded per request for the static replay (as ``_simulation``)."""


class VectorMemo(Embeddings):
    """Every text's embedding, computed once for the whole section (the runs share the texts)."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.vectors: dict[str, list[float]] = {}
        self.dimension = getattr(inner, "dimension", None)
        self.recommended_score_threshold = getattr(inner, "recommended_score_threshold", None)

    @override
    def embed_query(self, text: str) -> list[float]:
        vector = self.vectors.get(text)
        if vector is None:
            vector = self.vectors[text] = list(self.inner.embed_query(text))
        return list(vector)

    @override
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]


def class_answer(dataset: str, question: int) -> str:
    """A class's canonical answer: eight hash words, so two classes share (almost) no word."""
    digest = hashlib.sha256(f"{dataset}:{question}".encode()).hexdigest()
    return " ".join(digest[i : i + 8] for i in range(0, 64, 8))


class ClassAnswers(BaseChatModel):
    """A chat model that answers a question with its class's canonical answer, and counts calls.

    ``run`` is one of its parameters, so each run's entries have their own model string.
    """

    answers: dict[str, str]
    run: str
    _calls: list[int] = PrivateAttr(default_factory=lambda: [0])

    @property
    def calls(self) -> int:
        return self._calls[0]

    @property
    @override
    def _llm_type(self) -> str:
        return "eval-class-answers"

    @property
    @override
    def _identifying_params(self) -> dict[str, Any]:
        return {"run": self.run}

    @override
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._calls[0] += 1
        answer = self.answers[str(messages[-1].content)]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=answer))])


@dataclass(frozen=True)
class AdaptiveOutcome(HitCounts):
    """One ``max_wrong_rate`` run on a data set's traffic."""

    max_wrong_rate: float
    floor: float
    """The cache's ``score_threshold``: candidates below it are never considered."""
    requests: int
    right: int
    wrong: int
    exact: int
    """Right hits of a request whose own text was cached (read by key, no bound needed)."""
    checks: int
    """Extra model calls spent on checking (``learning_stats().checks``)."""
    warmup: int
    """Requests counted as warm-up (the first ``WARMUP_SHARE``)."""
    checks_after_warmup: int
    model_calls: int
    observations: int
    judged_wrong: int
    entries: int
    """Entries written (distinct questions that missed)."""
    observed_entries: int
    """Entries with at least one observation."""
    entries_with_min_observations: int
    """Entries with at least ``MIN_OBSERVATIONS`` (10) observations in all."""
    most_observations: int
    certain_entries: int
    """Entries whose observations make them certain at some similarity (the decision rule)."""
    pooled_observations: int
    """Observations in the model's pool (``_semantic.pool``: every entry's, by band)."""
    pooled_from: float | None
    """The lowest observed similarity at which the pool alone let a candidate be served at the
    run's end (the threshold the pool learnt), or None if it never did."""
    pooled_bands: tuple[tuple[int, int, int], ...]
    """The pool by band at the run's end: (band number, observations, wrong ones)."""
    seconds: float

    @property
    def checks_per_request(self) -> float:
        return self.checks / self.requests if self.requests else 0.0

    @property
    def checks_per_request_after_warmup(self) -> float:
        after = self.requests - self.warmup
        return self.checks_after_warmup / after if after else 0.0


@dataclass(frozen=True)
class AdaptiveRun:
    """A data set's traffic, the static grid and the adaptive runs on it."""

    dataset: str
    requests: int
    distinct_questions: int
    requested_classes: int
    classes: int
    half_questions: int
    most_requests_per_class: int
    static: tuple[StaticOutcome, ...]
    adaptive: tuple[AdaptiveOutcome, ...]


def record_traffic(cache: CassandraSemanticCache, traffic: Traffic, model: str) -> TrafficRecording:
    """Each request's nearest earlier distinct questions; each question written when first asked."""
    number_of: dict[str, int] = {}
    found: list[tuple[Candidate, ...]] = []
    for asked in traffic.requests:
        text = traffic.texts[asked]
        nearest = cache.similar_entries(text, model, limit=RECORD_WINDOW)
        found.append(
            tuple(
                Candidate(str(number_of[c.document_id]), c.score, c.guard_rejection is None)
                for c in nearest
                if c.document_id in number_of and number_of[c.document_id] != asked
            )
        )
        document = cache.document_id(text, model)
        if document not in number_of:
            cache.update(text, model, [Generation(text=str(asked))])
            number_of[document] = asked
    return TrafficRecording(traffic.questions, traffic.requests, tuple(found))


def run_adaptive(
    cache: CassandraSemanticCache,
    session: Session,
    keyspace: str,
    table: str,
    traffic: Traffic,
    *,
    max_wrong_rate: float,
    floor: float,
    seen_llm_keys: set[bytes],
) -> AdaptiveOutcome:
    """The traffic through ``CachedChatModel`` and a cache with ``max_wrong_rate``."""
    answers = {
        text: class_answer(traffic.dataset, traffic.questions[number])
        for number, text in enumerate(traffic.texts)
    }
    model = ClassAnswers(answers=answers, run=f"{traffic.dataset}:{max_wrong_rate}:{floor}")
    chat = CachedChatModel(model, cache, explore=0.1, seed=EXPLORE_SEED)
    warmup = round(WARMUP_SHARE * len(traffic.requests))
    written: set[int] = set()
    right = wrong = exact = checks_at_warmup = 0
    start = time.perf_counter()
    for index, asked in enumerate(traffic.requests):
        if index == warmup:
            checks_at_warmup = chat.learning_stats().checks
        reply = chat.invoke(traffic.texts[asked])
        if reply.response_metadata.get("llm_cache") != "hit":
            written.add(asked)
            continue
        if reply.content == answers[traffic.texts[asked]]:
            right += 1
            exact += asked in written
        else:
            wrong += 1
    seconds = time.perf_counter() - start
    stats = chat.learning_stats()
    entries, pooled = _observed(session, keyspace, table, seen_llm_keys)
    measure = resolve_measure("cos")
    conservative = adaptive.conservative_threshold(measure, floor)

    def certain(seen: Sequence[adaptive.Observation]) -> bool:
        return any(
            adaptive.decide(seen, o.similarity, measure, max_wrong_rate, conservative)[1]
            for o in seen
        )

    def pool_serves(similarity: float) -> bool:  # no own evidence, no conservative threshold
        return adaptive.decide((), similarity, measure, max_wrong_rate, math.inf, pooled)[0]

    counts = [len(seen) for seen in entries]
    served_by_pool = [seen.similarity for seen in pooled if pool_serves(seen.similarity)]
    return AdaptiveOutcome(
        max_wrong_rate=max_wrong_rate,
        floor=floor,
        requests=len(traffic.requests),
        right=right,
        wrong=wrong,
        exact=exact,
        checks=stats.checks,
        warmup=warmup,
        checks_after_warmup=stats.checks - checks_at_warmup,
        model_calls=model.calls,
        observations=stats.observations,
        judged_wrong=stats.judged_wrong,
        entries=len(written),
        observed_entries=len(entries),
        entries_with_min_observations=sum(1 for n in counts if n >= adaptive.MIN_OBSERVATIONS),
        most_observations=max(counts, default=0),
        certain_entries=sum(1 for seen in entries if certain(seen)),
        pooled_observations=len(pooled),
        pooled_from=min(served_by_pool, default=None),
        pooled_bands=tally_bands(pooled),
        seconds=seconds,
    )


def tally_bands(pooled: Sequence[adaptive.Observation]) -> tuple[tuple[int, int, int], ...]:
    """``(band, observations, wrong)`` of each band of ``pooled`` that has any, in band order."""
    counts: dict[int, list[int]] = {}
    for seen in pooled:
        tally = counts.setdefault(band(seen.similarity), [0, 0])
        tally[0] += 1
        tally[1] += not seen.right
    return tuple((number, total, wrong) for number, (total, wrong) in sorted(counts.items()))


def _observed(
    session: Session, keyspace: str, table: str, seen_llm_keys: set[bytes]
) -> tuple[list[list[adaptive.Observation]], list[adaptive.Observation]]:
    """The observations of the entries of the run that just ended (model keys not seen before),
    and its pool's (partitions keyed ``POOL_PREFIX``)."""
    where = qualified(keyspace, observations_table(table))
    rows = session.execute(
        f"SELECT llm_key, prompt_key, similarity, correct FROM {where}"  # noqa: S608 - validated identifiers
    )
    entries: dict[tuple[bytes, bytes], list[adaptive.Observation]] = {}
    pooled: list[adaptive.Observation] = []
    for llm_key, prompt_key, similarity, correct in rows:
        if bytes(llm_key) in seen_llm_keys:
            continue
        seen = adaptive.Observation(float(similarity), bool(correct))
        if bytes(prompt_key).startswith(POOL_PREFIX):
            pooled.append(seen)
        else:
            entries.setdefault((bytes(llm_key), bytes(prompt_key)), []).append(seen)
    seen_llm_keys.update(llm_key for llm_key, _ in entries)
    return list(entries.values()), pooled


def run_section(
    session: Session,
    keyspace: str,
    embedding: Embeddings,
    sets: Sequence[PairSet],
    *,
    default: float,
    candidates: int = 4,
    requests: int | None = None,
    keep_table: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> list[AdaptiveRun]:
    """Static grid and ``max_wrong_rate`` runs on each set's test-half traffic."""
    from cassandra_llm_cache.eval._public import TEST, split

    memo = VectorMemo(embedding)
    suffix = uuid.uuid4().hex[:8]
    static_table, adaptive_table = (
        f"semantic_eval_traffic_{suffix}",
        f"semantic_eval_bound_{suffix}",
    )
    static_cache = CassandraSemanticCache(
        session, keyspace, memo, static_table, candidates=candidates, score_threshold=default
    )
    seen_llm_keys: set[bytes] = set()
    runs: list[AdaptiveRun] = []
    try:
        for pair_set in sets:
            traffic = draw(pair_set.name, split(pair_set.pairs)[TEST], requests=requests)
            progress(
                f"{pair_set.name}: {len(traffic.requests)} requests of "
                f"{len(traffic.texts)} questions, recorded for the static thresholds"
            )
            recording = record_traffic(static_cache, traffic, f"eval:traffic:{pair_set.name}")
            static = tuple(replay_static(recording, t, candidates=candidates) for t in STATIC_GRID)
            outcomes: list[AdaptiveOutcome] = []
            for floor, delta in itertools.product((default, LOW_FLOOR), DELTAS):
                progress(
                    f"{pair_set.name}: max_wrong_rate={delta}, threshold {floor:.3f}, "
                    "through CachedChatModel"
                )
                cache = CassandraSemanticCache(
                    session,
                    keyspace,
                    memo,
                    adaptive_table,
                    candidates=candidates,
                    score_threshold=floor,
                    max_wrong_rate=delta,
                )
                outcomes.append(
                    run_adaptive(
                        cache,
                        session,
                        keyspace,
                        adaptive_table,
                        traffic,
                        max_wrong_rate=delta,
                        floor=floor,
                        seen_llm_keys=seen_llm_keys,
                    )
                )
            per_class: dict[int, int] = {}
            for asked in traffic.requests:
                question = traffic.questions[asked]
                per_class[question] = per_class.get(question, 0) + 1
            runs.append(
                AdaptiveRun(
                    dataset=pair_set.name,
                    requests=len(traffic.requests),
                    distinct_questions=len(traffic.texts),
                    requested_classes=len(per_class),
                    classes=traffic.classes,
                    half_questions=traffic.half_questions,
                    most_requests_per_class=max(per_class.values(), default=0),
                    static=static,
                    adaptive=tuple(outcomes),
                )
            )
    finally:
        if not keep_table:
            for name in (static_table, adaptive_table, observations_table(adaptive_table)):
                session.execute(f"DROP TABLE IF EXISTS {qualified(keyspace, name)}")
    return runs
