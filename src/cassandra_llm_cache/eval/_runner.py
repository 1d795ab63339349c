"""Runs the evaluation on a real node through ``CassandraSemanticCache`` itself.

One fresh table. The paraphrase set: the cached half of the origins is written with ``update``,
then every paraphrase is searched with ``similar_entries`` (the rows the cache's own lookup would
screen: Cassandra's score and the guard's verdict for each). The written pairs: each pair gets
its own model string, so a query only ever sees its own pair's cached prompt (the filter is in
the ANN query). Then the lookup latency is measured with ``lookup`` on a fresh cache object:
once with the embedding computed (the first lookup of a prompt) and once from the memo.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from langchain_core.outputs import Generation
from typing_extensions import override

from cassandra_llm_cache._storage.setup import SetupMode
from cassandra_llm_cache.eval._adaptive_sim import AdaptiveRun, run_section
from cassandra_llm_cache.eval._calibrate import ScoredPair, score_pairs
from cassandra_llm_cache.eval._data import (
    HardPair,
    LanguagePair,
    ParaphraseSet,
    hard_pairs,
    multilingual_pairs,
    paraphrase_set,
)
from cassandra_llm_cache.eval._metrics import Candidate, Probe
from cassandra_llm_cache.eval._public import LabelledPair
from cassandra_llm_cache.eval._simulation import PublicRun, run_public
from cassandra_llm_cache.semantic import CassandraSemanticCache

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from cassandra.cluster import Session

    from cassandra_llm_cache.eval._public import PairSet

PARAPHRASE_MODEL = "eval:paraphrase"


class TimedEmbeddings(Embeddings):
    """Wraps an embedding to count its calls and the seconds they take."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.calls = 0
        self.seconds = 0.0
        self.dimension = getattr(inner, "dimension", None)
        self.recommended_score_threshold = getattr(inner, "recommended_score_threshold", None)

    @override
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        start = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += len(texts)

    @override
    def embed_query(self, text: str) -> list[float]:
        start = time.perf_counter()
        try:
            return self.inner.embed_query(text)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


@dataclass(frozen=True)
class Latency:
    """Seconds per lookup."""

    samples: int
    p50: float
    p99: float

    @staticmethod
    def of(seconds: Sequence[float]) -> Latency:
        ordered = sorted(seconds)
        if not ordered:
            return Latency(0, 0.0, 0.0)

        def at(fraction: float) -> float:
            return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]

        return Latency(len(ordered), at(0.50), at(0.99))


@dataclass
class RunResult:
    """Everything the report needs."""

    probes: list[Probe]
    paraphrases: ParaphraseSet
    pairs: tuple[HardPair, ...]
    candidates: int
    server_version: str
    embedding_name: str
    embedding_calls: int = 0
    embedding_seconds: float = 0.0
    lookup_with_embedding: Latency = field(default_factory=lambda: Latency(0, 0.0, 0.0))
    lookup_from_memo: Latency = field(default_factory=lambda: Latency(0, 0.0, 0.0))
    load_average: tuple[float, float, float] | None = None
    public: list[PublicRun] = field(default_factory=list)
    multilingual: list[tuple[LanguagePair, ScoredPair]] = field(default_factory=list)
    adaptive: list[AdaptiveRun] = field(default_factory=list)

    @property
    def embeddings_per_second(self) -> float:
        return self.embedding_calls / self.embedding_seconds if self.embedding_seconds else 0.0


def pair_model(pair: HardPair) -> str:
    return f"eval:pair:{pair.id}"


def suite_of(pair: HardPair) -> str:
    suite = "same-meaning" if pair.same else "hard-negative"
    return suite if pair.split == "dev" else f"holdout-{suite}"


def run(
    session: Session,
    keyspace: str,
    embedding: Embeddings,
    *,
    limit: int | None = None,
    limit_per_kind: int | None = None,
    candidates: int = 4,
    latency_samples: int = 200,
    keep_table: bool = False,
    public: Sequence[PairSet] = (),
    adaptive_requests: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> RunResult:
    """Evaluate on ``keyspace`` (a new table, dropped afterwards unless ``keep_table``).

    ``adaptive_requests``: requests of each public set's traffic for the ``max_wrong_rate``
    section (None: ``_traffic``'s default count; 0: no such section).
    """
    timed = TimedEmbeddings(embedding)
    table = f"semantic_eval_{uuid.uuid4().hex[:12]}"
    cache = CassandraSemanticCache(session, keyspace, timed, table, candidates=candidates)
    paraphrases = paraphrase_set(limit)
    pairs = hard_pairs(limit_per_kind)
    version = _server_version(session)
    result = RunResult([], paraphrases, pairs, candidates, version, type(embedding).__name__)
    try:
        _write_entries(cache, paraphrases, pairs, progress)
        result.probes = _probe(cache, paraphrases, pairs, candidates, progress)
        result.public = run_public(cache, timed, public, progress=progress)
        languages = multilingual_pairs()
        progress(f"scoring {len(languages)} German, French and Spanish pairs")
        scored = score_pairs([LabelledPair(p.cached, p.query, p.same) for p in languages], timed)
        result.multilingual = list(zip(languages, scored, strict=True))
        result.embedding_calls, result.embedding_seconds = timed.calls, timed.seconds
        queries = [query for query, _ in paraphrases.queries][:latency_samples]
        fresh = CassandraSemanticCache(
            session, keyspace, timed, table, candidates=candidates, setup_mode=SetupMode.OFF
        )
        progress(f"latency: {len(queries)} lookups, embedding computed then from the memo")
        result.lookup_with_embedding, result.lookup_from_memo = _latency(fresh, queries)
        result.load_average = _load_average()
        if adaptive_requests != 0:
            # Last, with the embedding untimed: the figures above stay those of their own runs.
            result.adaptive = run_section(
                session,
                keyspace,
                embedding,
                public,
                default=cache.score_threshold,
                candidates=candidates,
                requests=adaptive_requests,
                keep_table=keep_table,
                progress=progress,
            )
    finally:
        if not keep_table:
            session.execute(f'DROP TABLE IF EXISTS "{keyspace}"."{table}"')
    return result


def _write_entries(
    cache: CassandraSemanticCache,
    paraphrases: ParaphraseSet,
    pairs: Sequence[HardPair],
    progress: Callable[[str], None],
) -> None:
    progress(f"writing {len(paraphrases.cached)} cached origins and {len(pairs)} pair prompts")
    for index, origin in enumerate(paraphrases.cached):
        cache.update(origin, PARAPHRASE_MODEL, [Generation(text=f"origin {index}")])
    for pair in pairs:
        cache.update(pair.cached, pair_model(pair), [Generation(text=pair.id)])


def _probe(
    cache: CassandraSemanticCache,
    paraphrases: ParaphraseSet,
    pairs: Sequence[HardPair],
    candidates: int,
    progress: Callable[[str], None],
) -> list[Probe]:
    probes: list[Probe] = []
    progress(f"searching {len(paraphrases.queries)} paraphrases and {len(pairs)} pair queries")
    for query, origins in paraphrases.queries:
        found = cache.similar_entries(query, PARAPHRASE_MODEL, limit=candidates)
        correct = frozenset(cache.document_id(origin, PARAPHRASE_MODEL) for origin in origins)
        probes.append(Probe("paraphrase", "paraphrase", correct, _candidates(found)))
    for pair in pairs:
        model = pair_model(pair)
        found = cache.similar_entries(pair.query, model, limit=candidates)
        correct = frozenset({cache.document_id(pair.cached, model)} if pair.same else ())
        probes.append(Probe(suite_of(pair), pair.kind, correct, _candidates(found)))
    return probes


def _candidates(found: Sequence[Any]) -> tuple[Candidate, ...]:
    return tuple(Candidate(c.document_id, c.score, c.guard_rejection is None) for c in found)


def _latency(cache: CassandraSemanticCache, queries: Sequence[str]) -> tuple[Latency, Latency]:
    cold: list[float] = []
    warm: list[float] = []
    for query in queries:
        start = time.perf_counter()
        cache.lookup(query, PARAPHRASE_MODEL)
        cold.append(time.perf_counter() - start)
        start = time.perf_counter()
        cache.lookup(query, PARAPHRASE_MODEL)
        warm.append(time.perf_counter() - start)
    return Latency.of(cold), Latency.of(warm)


def _server_version(session: Session) -> str:
    row = session.execute("SELECT release_version FROM system.local").one()
    return str(row[0] if isinstance(row, tuple) else getattr(row, "release_version", row))


def _load_average() -> tuple[float, float, float] | None:
    import os

    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover - not every platform has it
        return None
