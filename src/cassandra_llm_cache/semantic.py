"""``CassandraSemanticCache``: answer a prompt with the cached response of a similar one.

Built on the exact cache's machinery - session resolution (``_storage.connection``), setup modes
and non-blocking setup (``_storage.setup``), the value codec (``_values.codec``), the store and its
async bridge (``_storage.store``/``_storage.bridge``) and the counters (``_policy.stats``) - plus
what is semantic: the table and its SAI indexes (``_semantic.cql``), the one similarity metric
(``_semantic.similarity``), the embedding memo (``_semantic.embedding_memo``) and the false-hit
guard (``_semantic.guard``).

A lookup is, in order: a primary-key read of the identical (prompt, llm_string) - no embedding,
no vector search - then the nearest entries of the same namespace and model only
(``_semantic.search``: the table's nearest keys, then those entries' values by key), each with
its similarity as Cassandra computes it; the best candidate at or above the threshold that the
guard and the verifier accept is the hit.

For a chat model the prompt is langchain-core's JSON of the messages: only the text of the last
human message is embedded and guarded; the rest of the conversation (system prompt, earlier
turns, non-text parts) must be identical, and is part of the entry's scope
(``_semantic.prompt_text``).
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from cassandra.cluster import EXEC_PROFILE_DEFAULT
from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from typing_extensions import override

from cassandra_llm_cache._errors import CassandraLLMCacheError, ConfigurationError, SetupError
from cassandra_llm_cache._policy import telemetry as _telemetry
from cassandra_llm_cache._policy.arguments import (
    UNSET,
    TtlValue,
    Unset,
    check_namespace,
    check_ttl,
    clear_target,
    options_suffix,
    valid_text,
)
from cassandra_llm_cache._policy.resilience import (
    DEFAULT_MAX_VALUE_BYTES,
    DEFAULT_READ_CONSISTENCY,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_WRITE_CONSISTENCY,
    CircuitBreaker,
    ErrorPolicy,
    ShouldCache,
    check_generations,
    resilience,
)
from cassandra_llm_cache._policy.stats import CacheStats, StatsRecorder, bound_size, tokens_of
from cassandra_llm_cache._semantic import adaptive as _adaptive
from cassandra_llm_cache._semantic import calibration as _calibration
from cassandra_llm_cache._semantic import guard as _guard
from cassandra_llm_cache._semantic import pool as _pool
from cassandra_llm_cache._semantic.cql import (
    check_dimension,
    check_indexes,
    document_id,
    explain_setup_failure,
    observation_statements,
    observations_table,
    observations_table_cql,
    observations_table_exists,
    parse_document_id,
    scope,
    scope_index_name,
    semantic_index_cql,
    semantic_statements,
    semantic_table_cql,
    table_dimension,
    usable_vector,
    vector_index_name,
)
from cassandra_llm_cache._semantic.embedding_memo import EmbeddingMemo
from cassandra_llm_cache._semantic.prompt_text import SemanticPrompt, split_prompt
from cassandra_llm_cache._semantic.search import SimilarSearch
from cassandra_llm_cache._semantic.similarity import Measure, resolve_measure
from cassandra_llm_cache._semantic.vector_writes import VectorWriteGate
from cassandra_llm_cache._storage.connection import cache_profile, resolve_session
from cassandra_llm_cache._storage.cql import create_keyspace_cql, identifier, uses_md5_keys
from cassandra_llm_cache._storage.rows import first_value, row_values
from cassandra_llm_cache._storage.setup import Ready, Setup, SetupMode, resolve_setup_mode
from cassandra_llm_cache._storage.store import ClearPlan, Store
from cassandra_llm_cache._values import codec as _codec
from cassandra_llm_cache._values.codec import DecodeError, EncodeError
from cassandra_llm_cache._values.keys import langchain_cache_key, md5_key, sha256_key
from cassandra_llm_cache.near import NearCache, NearEntries, WithEpochs, adopt_epochs, near_parts

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence

    from cassandra.cluster import Session
    from cassandra.query import PreparedStatement
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseLanguageModel, LanguageModelInput
    from langchain_core.outputs import Generation
    from langchain_core.runnables import RunnableBinding

    from cassandra_llm_cache._policy.telemetry import TelemetryOption

_log = logging.getLogger(__name__)

DEFAULT_TABLE_NAME: Final = "langchain_llm_semantic_cache"
DEFAULT_SCORE_THRESHOLD: Final = 0.85
"""The legacy class's threshold, used when the embedding recommends none."""
DEFAULT_CANDIDATES: Final = 4
MAX_CANDIDATES: Final = 100
PROBE_TEXT: Final = "This is a sample sentence."
SHA256_DIGEST_SIZE: Final = 32
MD5_DIGEST_SIZE: Final = 16
"""What is embedded to learn the vector length when nothing else tells it (as the legacy did)."""


@dataclass(frozen=True)
class SemanticCandidate:
    """An entry the vector search found for a prompt, as shown to a ``verifier``."""

    document_id: str
    score: float
    """Similarity on the measure's scale (cosine for "cos"; distance for "l2")."""
    generations: list[Generation]
    prompt: str | None
    """The cached prompt's text, only if the cache stores plaintext (``store_plaintext``)."""
    guard_rejection: str | None
    """Why the guard rejects this candidate (a reason code), or None."""


@dataclass(frozen=True)
class SemanticHit:
    """A hit: the cached generations, the entry's id and its similarity score."""

    document_id: str
    generations: list[Generation]
    score: float
    exact: bool
    """True when the identical prompt was found by its key (score 1.0 for similarities)."""
    certain: bool = True
    """With ``max_wrong_rate``: False when only the conservative threshold let it through (the
    entry's own evidence does not yet bound its wrong rate); always True without it."""


@dataclass(frozen=True)
class AdaptiveLookup:
    """A lookup's outcome under ``max_wrong_rate``, for a wrapper that learns (``CachedChatModel``,
    ``CachedLLM``).

    ``refused`` is the best candidate the entry's evidence kept from being served (the lookup
    was a miss for it): the model's fresh answer judged against it is an observation that costs
    no extra model call.
    """

    hit: SemanticHit | None
    refused: SemanticHit | None = None


@dataclass(frozen=True)
class SemanticCacheStats(CacheStats):
    """:class:`CacheStats` plus what the semantic layer decided."""

    exact_hits: int = 0
    guard_rejections: int = 0
    verifier_rejections: int = 0
    bound_refusals: int = 0
    """Candidates ``max_wrong_rate`` kept from being served (too little or bad evidence)."""
    observations: int = 0
    """Observations recorded through :meth:`CassandraSemanticCache.observe` (and ``aobserve``)."""


class CassandraSemanticCache(BaseCache):
    """A semantic LLM cache in an Apache Cassandra 5.0+ (or Astra DB) table with vector search.

    The first ten arguments are ``langchain_community.cache.CassandraSemanticCache``'s, with its
    names and positions; the options after them are keyword-only.

    Args:
        session, keyspace: as for :class:`~cassandra_llm_cache.CassandraCache`.
        embedding: the LangChain ``Embeddings`` (required), e.g. :class:`LocalEmbeddings`.
        table_name: the table (this package's layout; created unless ``setup_mode`` is OFF).
        distance_metric: deprecated alias of ``similarity_measure`` (wins when given).
        score_threshold: the similarity a candidate needs for a hit, on the measure's scale
            (cosine; for "l2" a maximum distance). Default: the threshold stored with the
            table by ``cassandra-llm-cache calibrate --store`` (read during setup), else the
            embedding's ``recommended_score_threshold`` if it has one (``LocalEmbeddings``:
            0.97), else the legacy 0.85.
        ttl_seconds: entries expire this many seconds after being written (None: no TTL of
            their own; the table's default_time_to_live applies, as in the legacy class).
        skip_provisioning: deprecated; ``True`` means ``setup_mode=SetupMode.OFF``.
        similarity_measure: "cos" (default), "dot" (for unit-length vectors only) or "l2".
            Cassandra ranks and scores with it (SAI ``similarity_function`` and the
            ``similarity_*`` CQL function), so ranking and threshold always agree.
        setup_mode: SYNC, ASYNC or OFF, as for the exact cache.
        embedding_dimension: the vector length; with it (or an embedding with an integer
            ``dimension`` attribute, or an existing table) the constructor embeds nothing.
            Otherwise SYNC setup embeds one probe sentence and ASYNC does so on first use.
        namespace: hard tenancy: a namespace only ever sees its own entries (it is in the key
            and in the vector search filter). ``clear()`` empties only this namespace unless
            it is ``""``.
        guard: reject candidates whose numbers, negations, units, conversion direction,
            opposite words, question or named things differ from the prompt's (on by default;
            see ``docs/semantic-quality.md``). Stored entries keep salted digests of these
            features, never the text.
        verifier: ``verifier(prompt, candidate) -> bool`` may veto a candidate (e.g. an LLM
            judge). Async lookups await it if it returns an awaitable.
        candidates: how many nearest entries one lookup considers (the guard and the verifier
            may reject the nearest).
        store_plaintext: also store the prompt and llm_string as text (off: digests only).
        keyspace_replication, execution_profile, telemetry: as for the exact cache.
        on_error, request_timeout, circuit_breaker, read_consistency, write_consistency,
            max_value_bytes, should_cache: as for the exact cache (``docs/resilience.md``).
        near_cache: as for the exact cache: identical prompts found by key are kept in this
            process's memory (similar-prompt hits never are).
            Under the default ``on_error="miss"`` a lookup whose key read fails is a miss
            without computing an embedding. ``request_timeout`` bounds each of a lookup's
            two requests (the key read and the vector search).
        max_wrong_rate: δ with 0 < δ < 0.5 turns on error-bounded per-entry thresholds: a
            similar entry is served only when its own observations (table
            ``<table_name>_observations``, learnt by ``CachedChatModel`` or ``CachedLLM``, removed
            with their entries by writes, deletes and clears) bound its wrong rate
            by δ, or, unless they show it above δ, where all the model's entries' observations at
            that similarity (its pool) bound it, or above a conservative threshold
            (``docs/semantic-tuning.md``).
            None (default): off, nothing changes.
    """

    def __init__(  # noqa: PLR0917 - the legacy class's positional signature, kept for drop-in
        self,
        session: Session | None = None,
        keyspace: str | None = None,
        embedding: Embeddings | None = None,
        table_name: str = DEFAULT_TABLE_NAME,
        distance_metric: str | None = None,
        score_threshold: float | None = None,
        ttl_seconds: int | None = None,
        skip_provisioning: bool = False,
        similarity_measure: str = "cos",
        setup_mode: SetupMode | Any = SetupMode.SYNC,
        *,
        embedding_dimension: int | None = None,
        namespace: str = "",
        guard: bool = True,
        verifier: Callable[[str, SemanticCandidate], bool | Awaitable[bool]] | None = None,
        candidates: int = DEFAULT_CANDIDATES,
        store_plaintext: bool = False,
        keyspace_replication: Mapping[str, object] | None = None,
        execution_profile: object = EXEC_PROFILE_DEFAULT,
        telemetry: TelemetryOption = None,
        on_error: ErrorPolicy | str = ErrorPolicy.MISS,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        circuit_breaker: CircuitBreaker | bool = True,
        read_consistency: str | int = DEFAULT_READ_CONSISTENCY,
        write_consistency: str | int = DEFAULT_WRITE_CONSISTENCY,
        max_value_bytes: int | None = DEFAULT_MAX_VALUE_BYTES,
        should_cache: ShouldCache | None = None,
        near_cache: NearCache | bool | None = None,
        max_wrong_rate: float | None = None,
    ) -> None:
        self._policy = resilience(
            on_error,
            request_timeout,
            circuit_breaker,
            read_consistency,
            write_consistency,
            max_value_bytes,
            should_cache,
        )
        self._should_cache = self._policy.should_cache
        if embedding is None:
            raise ConfigurationError("Missing required parameter 'embedding'.")
        if distance_metric is not None:
            warnings.warn(
                "distance_metric is deprecated: use similarity_measure",
                DeprecationWarning,
                stacklevel=2,
            )
        self._measure: Measure = resolve_measure(similarity_measure, distance_metric)
        self._embedding = embedding
        self._threshold = _check_threshold(score_threshold, embedding)
        # Without an explicit threshold, one calibrated and stored with the table wins.
        self._threshold_explicit = score_threshold is not None
        self._table_name = identifier(table_name, "table name")
        self._max_wrong = _check_max_wrong_rate(max_wrong_rate, self._table_name)
        self._ttl_seconds = ttl_seconds
        self._ttl = check_ttl(ttl_seconds)
        self._namespace = check_namespace(namespace)
        self._guard = bool(guard)
        self._verifier = _check_verifier(verifier)
        self._candidates = _check_candidates(candidates)
        self._store_plaintext = bool(store_plaintext)
        self._mode = resolve_setup_mode(setup_mode, skip_provisioning)
        session, self._keyspace = resolve_session(session, keyspace)
        self._where = f"{self._keyspace}.{self._table_name}"
        self._stats = StatsRecorder(
            _telemetry.create(self._keyspace, self._table_name, option=telemetry)
        )
        # exact hits, guard rejections, verifier rejections, bound refusals, observations
        self._semantic_counts = [0, 0, 0, 0, 0]
        self._reported: set[str] = set()
        self._memo, self._pool = EmbeddingMemo(embedding), _pool.PooledEvidence()
        self._writes = VectorWriteGate()
        self._profile = cache_profile(session, execution_profile)
        self._session = session
        self._replication = keyspace_replication
        self._store = Store(
            session,
            self._profile,
            where=self._where,
            policy=self._policy,
            on_error=self._stats.error,
            on_skipped=self._stats.skipped,
            on_oversized=self._stats.oversized,
            observe=self._stats.observe,
        )
        self._lock = threading.Lock()
        self._near_options, self._near, self._bumps = near_parts(
            near_cache,
            self._store,
            keyspace=self._keyspace,
            table=self._table_name,
            namespace=self._namespace,
        )
        self._active: _SemanticLayout | None = None
        self._setup: Setup | None = None
        dimension = _known_dimension(embedding_dimension, embedding)
        if dimension is None and self._mode is SetupMode.SYNC:
            dimension = len(self._memo.get(PROBE_TEXT))  # the legacy's probe: one paid call
        if dimension is not None or self._mode is SetupMode.OFF:
            self._setup = self._start_setup(dimension)
        elif keyspace_replication is not None:
            _check_replication(keyspace_replication)
        if self._mode is SetupMode.SYNC:
            assert self._setup is not None
            try:
                ready = self._setup.wait_first()
            except CassandraLLMCacheError as exc:
                _explain(exc)
                raise
            self._activate(ready, wait_near=True)

    # --- BaseCache --------------------------------------------------------------------------------

    @override
    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """The generations cached for ``prompt`` or a similar prompt of the same model."""
        hit = self.lookup_with_score(prompt, llm_string)
        return hit.generations if hit is not None else None

    @override
    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Async :meth:`lookup`; never blocks the event loop."""
        hit = await self.alookup_with_score(prompt, llm_string)
        return hit.generations if hit is not None else None

    @override
    def update(
        self,
        prompt: str,
        llm_string: str,
        return_val: RETURN_VAL_TYPE,
        *,
        ttl_seconds: int | Unset | None = UNSET,
    ) -> None:
        """Cache ``return_val`` for ``prompt``; reuses the embedding its lookup computed.

        With ``max_wrong_rate`` the entry's observations are deleted first: they were about the
        answer this write replaces.
        """
        check_generations(return_val)
        if not self._should_cache(return_val):
            self._stats.not_cached()
            return
        layout = self._open_layout()
        if layout is None:
            return
        write = self._prepare_write(layout, prompt, llm_string, return_val, ttl_seconds)
        if write is None:
            return
        text = write.prompt.text
        vector = self._usable(self._memo.get(text), layout) if text else None
        drop = self._stale_observations(layout, write)
        if drop is not None and self._store.execute(*drop, operation="update").failed:
            return  # the old answer's observations could vouch for this one: not written
        statement, values = layout.insert(write, vector)
        page = self._writes.run(lambda: self._store.execute(statement, values, operation="update"))
        if not page.failed:
            self._stats.write(nbytes=bound_size(values))
        if self._near is not None:
            self._near.discard(write.key)

    @override
    async def aupdate(
        self,
        prompt: str,
        llm_string: str,
        return_val: RETURN_VAL_TYPE,
        *,
        ttl_seconds: int | Unset | None = UNSET,
    ) -> None:
        """Async :meth:`update`."""
        check_generations(return_val)
        if not self._should_cache(return_val):
            self._stats.not_cached()
            return
        layout = await self._aopen_layout()
        if layout is None:
            return
        write = self._prepare_write(layout, prompt, llm_string, return_val, ttl_seconds)
        if write is None:
            return
        text = write.prompt.text
        vector = self._usable(await self._memo.aget(text), layout) if text else None
        drop = self._stale_observations(layout, write)
        if drop is not None and (await self._store.aexecute(*drop, operation="update")).failed:
            return
        statement, values = layout.insert(write, vector)
        page = await self._writes.arun(
            lambda: self._store.aexecute(statement, values, operation="update")
        )
        if not page.failed:
            self._stats.write(nbytes=bound_size(values))
        if self._near is not None:
            self._near.discard(write.key)

    @override
    def clear(self, **kwargs: Any) -> None:
        """Empty the cache; ``clear(llm_string=...)`` removes only that model's entries.

        With no arguments: ``TRUNCATE`` (as the legacy class) when the namespace is ``""``, else
        only this namespace's entries. The observations ``max_wrong_rate`` keeps go with them
        (the observations table is truncated, or scanned for the same namespace and model), so
        they never vouch for another answer later stored under the same key.
        """
        layout = self._layout()
        target = clear_target(kwargs)
        plan = layout.clear_plan(target)
        self._store.clear(plan)
        observations = layout.observations_clear_plan(target)
        if observations is not None:
            self._store.clear(observations)
            self._pool.clear()
        if self._near is not None:
            self._near.clear()
        self._bumps.bump(whole_table=plan.truncate is not None)

    @override
    async def aclear(self, **kwargs: Any) -> None:
        """Async :meth:`clear`."""
        layout = await self._alayout()
        target = clear_target(kwargs)
        plan = layout.clear_plan(target)
        await self._store.aclear(plan)
        observations = layout.observations_clear_plan(target)
        if observations is not None:
            await self._store.aclear(observations)
            self._pool.clear()
        if self._near is not None:
            self._near.clear()
        await self._bumps.abump(whole_table=plan.truncate is not None)

    # --- lookups with the hit's id and score ----------------------------------------------------

    def lookup_with_score(self, prompt: str, llm_string: str) -> SemanticHit | None:
        """The hit for ``prompt`` with its document id and similarity score, or None."""
        return self.lookup_adaptive(prompt, llm_string).hit

    async def alookup_with_score(self, prompt: str, llm_string: str) -> SemanticHit | None:
        """Async :meth:`lookup_with_score`."""
        return (await self.alookup_adaptive(prompt, llm_string)).hit

    def lookup_adaptive(  # noqa: PLR0911 - one return per way a lookup ends
        self, prompt: str, llm_string: str
    ) -> AdaptiveLookup:
        """:meth:`lookup_with_score`, plus the candidate ``max_wrong_rate`` refused, if any.

        What the wrappers (``streaming._learning``) call to learn; without ``max_wrong_rate``
        nothing is refused.
        """
        layout = self._open_layout()
        if layout is None:
            self._stats.miss()
            return AdaptiveLookup(None)
        exact, failed = self._exact_first(layout, prompt, llm_string)
        if exact is not None:
            return AdaptiveLookup(exact)
        if failed:  # the database is failing: no embedding, no vector search
            self._stats.miss()
            return AdaptiveLookup(None)
        parts = split_prompt(prompt)
        vector = self._usable(self._memo.get(parts.text), layout) if parts.text else None
        if vector is None:
            self._stats.miss()
            return AdaptiveLookup(None)
        search = self._search(layout, vector, llm_string, parts.context, self._candidates)
        rows = self._searched(search, operation="lookup")
        screen = _Screen(self, layout, parts.text, llm_string, everything=False)
        refused: SemanticHit | None = None
        for candidate in screen.candidates(rows):
            if self._verifier is not None and not self._verified(prompt, candidate):
                continue
            if self._max_wrong is None:
                return AdaptiveLookup(self._hit(candidate))
            statement, key = layout.observations(candidate.document_id)
            page = self._store.execute(statement, key, operation="lookup")
            seen = _observations(page.rows)
            pooled = [] if self._settled(candidate, seen) else self._pooled(layout, candidate)
            decided = self._bounded(candidate, seen, pooled)
            if decided.hit is not None:
                return decided
            refused = refused or decided.refused
        self._stats.miss()
        return AdaptiveLookup(None, refused)

    async def alookup_adaptive(  # noqa: PLR0911 - as lookup_adaptive
        self, prompt: str, llm_string: str
    ) -> AdaptiveLookup:
        """Async :meth:`lookup_adaptive`."""
        layout = await self._aopen_layout()
        if layout is None:
            self._stats.miss()
            return AdaptiveLookup(None)
        exact, failed = await self._aexact_first(layout, prompt, llm_string)
        if exact is not None:
            return AdaptiveLookup(exact)
        if failed:
            self._stats.miss()
            return AdaptiveLookup(None)
        parts = split_prompt(prompt)
        vector = self._usable(await self._memo.aget(parts.text), layout) if parts.text else None
        if vector is None:
            self._stats.miss()
            return AdaptiveLookup(None)
        search = self._search(layout, vector, llm_string, parts.context, self._candidates)
        rows = await self._asearched(search, operation="lookup")
        screen = _Screen(self, layout, parts.text, llm_string, everything=False)
        refused: SemanticHit | None = None
        for candidate in screen.candidates(rows):
            if self._verifier is not None and not await self._averified(prompt, candidate):
                continue
            if self._max_wrong is None:
                return AdaptiveLookup(self._hit(candidate))
            statement, key = layout.observations(candidate.document_id)
            page = await self._store.aexecute(statement, key, operation="lookup")
            seen = _observations(page.rows)
            settled = self._settled(candidate, seen)
            pooled = [] if settled else await self._apooled(layout, candidate)
            decided = self._bounded(candidate, seen, pooled)
            if decided.hit is not None:
                return decided
            refused = refused or decided.refused
        self._stats.miss()
        return AdaptiveLookup(None, refused)

    # --- error-bounded thresholds: observations -------------------------------------------------

    @property
    def max_wrong_rate(self) -> float | None:
        """δ of the error-bounded thresholds, or None when they are off."""
        return self._max_wrong

    def observe(self, document_id: str, similarity: float, right: bool) -> None:
        """Record that the entry ``document_id``'s answer was ``right`` (or not) for a request at
        ``similarity`` (the measure's scale), for every process's later decisions: in the entry's
        observations and in its model's pool (``_semantic.pool``).

        Needs ``max_wrong_rate`` (the observations table exists only then).
        """
        writes = self._observation(self._layout(), document_id, similarity, right)
        if self._store.execute(*writes.entry, operation="update").failed:
            return
        self._count(4)
        if not self._store.execute(*writes.pooled, operation="update").failed:
            self._pool.add(writes.llm_key, writes.seen)

    async def aobserve(self, document_id: str, similarity: float, right: bool) -> None:
        """Async :meth:`observe`."""
        writes = self._observation(await self._alayout(), document_id, similarity, right)
        if (await self._store.aexecute(*writes.entry, operation="update")).failed:
            return
        self._count(4)
        if not (await self._store.aexecute(*writes.pooled, operation="update")).failed:
            self._pool.add(writes.llm_key, writes.seen)

    def _pooled(
        self, layout: _SemanticLayout, candidate: SemanticCandidate
    ) -> list[_adaptive.Observation]:
        """The pooled observations that can speak for ``candidate``: this process's copy, with
        the bands it never read or read ``POOL_REFRESH`` seconds ago read first."""
        llm_key = layout.llm_key_of(candidate.document_id)
        bands = _pool.bands_for(candidate.score, self._measure)
        for number in self._pool.stale(llm_key, bands):
            statement, key = layout.pool_band(llm_key, number)
            page = self._store.execute(statement, key, operation="lookup")
            if not page.failed:  # a failed read leaves the band stale: read again next time
                self._pool.store(llm_key, number, _observations(page.rows))
        return self._pool.evidence(llm_key, bands)

    async def _apooled(
        self, layout: _SemanticLayout, candidate: SemanticCandidate
    ) -> list[_adaptive.Observation]:
        """Async :meth:`_pooled`."""
        llm_key = layout.llm_key_of(candidate.document_id)
        bands = _pool.bands_for(candidate.score, self._measure)
        for number in self._pool.stale(llm_key, bands):
            statement, key = layout.pool_band(llm_key, number)
            page = await self._store.aexecute(statement, key, operation="lookup")
            if not page.failed:
                self._pool.store(llm_key, number, _observations(page.rows))
        return self._pool.evidence(llm_key, bands)

    def _stale_observations(
        self, layout: _SemanticLayout, write: _Write
    ) -> tuple[PreparedStatement, tuple[object, ...]] | None:
        """The delete of the observations of the entry ``write`` (re)writes, when this cache
        knows the observations table: they judged the answer it replaces, or one that expired or
        was deleted.

        One partition delete per write, sent before the write: a reader in between finds the old
        answer without evidence (only the pool or the conservative threshold serves it), never
        the new answer with the old one's. A cache without ``max_wrong_rate`` sends it too when
        the table exists (the driver's metadata shows it), so that a process without the bound
        writing to a table that others learn on cannot leave an old answer's evidence behind.
        """
        return layout.drop_observations(write.key)

    def _observation(
        self, layout: _SemanticLayout, document_id: str, similarity: float, right: bool
    ) -> _ObservationWrites:
        """The checked observation and its two writes: the entry's, then its model's pool's."""
        if self._max_wrong is None:
            raise ConfigurationError("observe needs a cache made with max_wrong_rate")
        if isinstance(similarity, bool) or not isinstance(similarity, (int, float)):
            raise ConfigurationError("similarity must be a number")
        if not math.isfinite(similarity):
            raise ConfigurationError("similarity must be a finite number")
        seen = _adaptive.Observation(float(similarity), bool(right))
        entry = layout.observe(document_id, seen.similarity, right=seen.right)
        llm_key, pooled = layout.pool_observe(document_id, seen.similarity, right=seen.right)
        return _ObservationWrites(seen, llm_key, entry, pooled)

    def _settled(self, candidate: SemanticCandidate, seen: Sequence[_adaptive.Observation]) -> bool:
        """Whether the entry's own evidence decides ``candidate`` (no pool read needed)."""
        assert self._max_wrong is not None
        verdict = _adaptive.settled(seen, candidate.score, self._measure, self._max_wrong)
        return verdict is not None

    def _bounded(
        self,
        candidate: SemanticCandidate,
        seen: Sequence[_adaptive.Observation],
        pooled: Sequence[_adaptive.Observation],
    ) -> AdaptiveLookup:
        """The decision rule of ``_semantic.adaptive`` for one candidate, its observations and
        the model's pooled ones."""
        assert self._max_wrong is not None
        serve, certain = _adaptive.decide(
            seen,
            candidate.score,
            self._measure,
            self._max_wrong,
            _adaptive.conservative_threshold(self._measure, self._threshold),
            pooled,
        )
        if serve:
            hit = self._hit(candidate)
            return AdaptiveLookup(replace(hit, certain=certain))
        self._count(3)
        refused = SemanticHit(
            candidate.document_id,
            candidate.generations,
            candidate.score,
            exact=False,
            certain=False,
        )
        return AdaptiveLookup(None, refused)

    def _exact_first(
        self, layout: _SemanticLayout, prompt: str, llm_string: str
    ) -> tuple[SemanticHit | None, bool]:
        """The identical prompt's hit by key (from the near cache if it has it), and whether the
        key read failed."""
        statement, key = layout.select(prompt, llm_string)
        near = self._near
        if near is None:
            page = self._store.execute(statement, key, operation="lookup")
            return self._exact_hit(layout, prompt, llm_string, page.rows), page.failed
        kept = self._near_hit(near, layout, prompt, llm_string, key)
        if kept is not None:
            return kept, False
        ticket = near.ticket()
        page = self._store.execute(statement, key, operation="lookup")
        hit = self._exact_hit(layout, prompt, llm_string, page.rows)
        if hit is not None:
            near.keep(key, page.rows[0], hit.generations, ticket)
        return hit, page.failed

    async def _aexact_first(
        self, layout: _SemanticLayout, prompt: str, llm_string: str
    ) -> tuple[SemanticHit | None, bool]:
        statement, key = layout.select(prompt, llm_string)
        near = self._near
        if near is None:
            page = await self._store.aexecute(statement, key, operation="lookup")
            return self._exact_hit(layout, prompt, llm_string, page.rows), page.failed
        kept = self._near_hit(near, layout, prompt, llm_string, key)
        if kept is not None:
            return kept, False
        ticket = near.ticket()
        page = await self._store.aexecute(statement, key, operation="lookup")
        hit = self._exact_hit(layout, prompt, llm_string, page.rows)
        if hit is not None:
            near.keep(key, page.rows[0], hit.generations, ticket)
        return hit, page.failed

    def _near_hit(
        self,
        near: NearEntries,
        layout: _SemanticLayout,
        prompt: str,
        llm_string: str,
        key: tuple[object, ...],
    ) -> SemanticHit | None:
        kept = near.get(key)
        if kept is None:
            return None
        # Rebuilt on every hit: each caller gets its own objects (see near.Kept).
        generations = kept.rebuild(kept.data)
        self._stats.hit(nbytes=kept.nbytes, tokens=kept.tokens, near=True)
        self._count(0)
        return SemanticHit(
            layout.document_id(prompt, llm_string), generations, self._exact_score, exact=True
        )

    def lookup_with_id(self, prompt: str, llm_string: str) -> tuple[str, RETURN_VAL_TYPE] | None:
        """``(document_id, generations)`` of the hit, or None (the legacy method)."""
        hit = self.lookup_with_score(prompt, llm_string)
        return (hit.document_id, hit.generations) if hit is not None else None

    async def alookup_with_id(
        self, prompt: str, llm_string: str
    ) -> tuple[str, RETURN_VAL_TYPE] | None:
        """Async :meth:`lookup_with_id`."""
        hit = await self.alookup_with_score(prompt, llm_string)
        return (hit.document_id, hit.generations) if hit is not None else None

    def lookup_with_id_through_llm(
        self,
        prompt: LanguageModelInput,
        llm: BaseLanguageModel[Any] | RunnableBinding[Any, Any],
        stop: list[str] | None = None,
        **invoke_kwargs: Any,
    ) -> tuple[str, RETURN_VAL_TYPE] | None:
        """:meth:`lookup_with_id` for what ``llm.invoke(prompt, stop=stop, ...)`` would look up.

        Works for LLMs and chat models (see ``CassandraCache.delete_through_llm``).
        """
        prompt_string, llm_string = langchain_cache_key(prompt, llm, stop, **invoke_kwargs)
        return self.lookup_with_id(prompt_string, llm_string)

    async def alookup_with_id_through_llm(
        self,
        prompt: LanguageModelInput,
        llm: BaseLanguageModel[Any] | RunnableBinding[Any, Any],
        stop: list[str] | None = None,
        **invoke_kwargs: Any,
    ) -> tuple[str, RETURN_VAL_TYPE] | None:
        """Async :meth:`lookup_with_id_through_llm`."""
        prompt_string, llm_string = langchain_cache_key(prompt, llm, stop, **invoke_kwargs)
        return await self.alookup_with_id(prompt_string, llm_string)

    def similar_entries(
        self, prompt: str, llm_string: str, *, limit: int | None = None
    ) -> list[SemanticCandidate]:
        """The nearest entries of this namespace and model, best first, with scores and guard
        verdicts, ignoring the threshold and the verifier (for inspection and evaluation)."""
        layout = self._layout()
        parts = split_prompt(prompt)
        vector = self._usable(self._memo.get(parts.text), layout) if parts.text else None
        if vector is None:
            return []
        limit = _check_candidates(limit or self._candidates)
        search = self._search(layout, vector, llm_string, parts.context, limit, everything=True)
        rows = self._searched(search, operation="search")
        screen = _Screen(self, layout, parts.text, llm_string, everything=True)
        return list(screen.candidates(rows))

    def _search(
        self,
        layout: _SemanticLayout,
        vector: list[float],
        llm_string: str,
        context: str,
        wanted: int,
        *,
        everything: bool = False,
    ) -> SimilarSearch:
        measure, threshold = self._measure, self._threshold

        def keeps(similarity: float) -> bool:
            return everything or measure.passes(measure.score(similarity), threshold)

        return layout.search(vector, llm_string, context, wanted, keeps)

    def _searched(self, search: SimilarSearch, *, operation: str) -> list[tuple[Any, ...]]:
        rows = self._store.execute(*search.window(), operation=operation).rows
        step = search.after_window(rows)
        if step is None:
            return []
        return search.results(self._store.execute(*step, operation=operation).rows)

    async def _asearched(self, search: SimilarSearch, *, operation: str) -> list[tuple[Any, ...]]:
        rows = (await self._store.aexecute(*search.window(), operation=operation)).rows
        step = search.after_window(rows)
        if step is None:
            return []
        return search.results((await self._store.aexecute(*step, operation=operation)).rows)

    # --- deletes ----------------------------------------------------------------------------------

    def delete(self, prompt: str, llm_string: str) -> None:
        """Remove the entry of exactly ``prompt`` and ``llm_string``, if there is one (and its
        observations, if the cache keeps them for ``max_wrong_rate``)."""
        layout = self._layout()
        self._deleted(layout, *layout.delete(prompt, llm_string))

    async def adelete(self, prompt: str, llm_string: str) -> None:
        """Async :meth:`delete`."""
        layout = await self._alayout()
        await self._adeleted(layout, *layout.delete(prompt, llm_string))

    def delete_by_document_id(self, document_id: str) -> None:
        """Remove the entry a lookup returned ``document_id`` for (in this namespace), and its
        observations as :meth:`delete` does."""
        layout = self._layout()
        self._deleted(layout, *layout.delete_id(document_id))

    async def adelete_by_document_id(self, document_id: str) -> None:
        """Async :meth:`delete_by_document_id`."""
        layout = await self._alayout()
        await self._adeleted(layout, *layout.delete_id(document_id))

    def _deleted(
        self, layout: _SemanticLayout, statement: PreparedStatement, key: tuple[object, ...]
    ) -> None:
        self._store.execute(statement, key, operation="delete")
        drop = layout.drop_observations(key)  # the entry's observations go with it
        if drop is not None:
            self._store.execute(*drop, operation="delete")
        if self._near is not None:
            self._near.discard(key)
        self._bumps.bump(whole_table=False)

    async def _adeleted(
        self, layout: _SemanticLayout, statement: PreparedStatement, key: tuple[object, ...]
    ) -> None:
        await self._store.aexecute(statement, key, operation="delete")
        drop = layout.drop_observations(key)
        if drop is not None:
            await self._store.aexecute(*drop, operation="delete")
        if self._near is not None:
            self._near.discard(key)
        await self._bumps.abump(whole_table=False)

    # --- introspection --------------------------------------------------------------------------

    @property
    def score_threshold(self) -> float:
        return self._threshold

    def document_id(self, prompt: str, llm_string: str) -> str:
        """The id the entry of ``prompt`` and ``llm_string`` has (or would have) in this cache."""
        # The table decides how keys are hashed (md5 if migrated from langchain_community).
        return self._layout().document_id(prompt, llm_string)

    def stats(self) -> SemanticCacheStats:
        """Hits (exact and semantic), misses, writes, errors and rejections since creation."""
        breaker = self._policy.breaker
        base = self._stats.snapshot(breaker=breaker.state.value if breaker is not None else None)
        with self._lock:
            exact, guard, verifier, refusals, observations = self._semantic_counts
        return SemanticCacheStats(
            **base.counters(),
            exact_hits=exact,
            guard_rejections=guard,
            verifier_rejections=verifier,
            bound_refusals=refusals,
            observations=observations,
        )

    @staticmethod
    def schema_cql(
        keyspace: str,
        table_name: str = DEFAULT_TABLE_NAME,
        *,
        embedding_dimension: int,
        similarity_measure: str = "cos",
        keyspace_replication: Mapping[str, object] | None = None,
        max_wrong_rate: float | None = None,
    ) -> str:
        """The DDL a SYNC/ASYNC cache would run, for review or to run by hand (then use OFF).

        Pass the options the cache is made with: with ``max_wrong_rate`` (any valid δ) the
        observations table ``<table_name>_observations`` is included, which a cache with
        ``max_wrong_rate`` and ``setup_mode=OFF`` needs to exist.
        """
        keyspace = identifier(keyspace, "keyspace name")
        table = identifier(table_name, "table name")
        measure = resolve_measure(similarity_measure)
        statements = [
            semantic_table_cql(keyspace, table, check_dimension(embedding_dimension)),
            *semantic_index_cql(keyspace, table, measure),
        ]
        if _check_max_wrong_rate(max_wrong_rate, table) is not None:
            statements.append(observations_table_cql(keyspace, table))
        if keyspace_replication is not None:
            statements.insert(0, create_keyspace_cql(keyspace, keyspace_replication))
        return ";\n\n".join(statements) + ";\n"

    def __repr__(self) -> str:
        return (
            f"CassandraSemanticCache(keyspace={self._keyspace!r}, "
            f"table_name={self._table_name!r}, namespace={self._namespace!r}, "
            f"similarity_measure={self._measure.name!r}, score_threshold={self._threshold!r}, "
            f"guard={self._guard!r}, ttl_seconds={self._ttl_seconds!r}, "
            f"setup_mode=SetupMode.{self._mode.name}{options_suffix(self._policy.describe())}"
            f"{f', near_cache={self._near_options!r}' if self._near_options is not None else ''})"
        )

    # --- setup ------------------------------------------------------------------------------------

    def _start_setup(self, dimension: int | None) -> Setup:
        spec: _SemanticTableSpec | WithEpochs = _SemanticTableSpec(self, dimension)
        if self._near is not None:
            spec = WithEpochs(spec, self._session, self._keyspace)
        return Setup(
            self._session,
            self._keyspace,
            self._table_name,
            spec,
            self._mode,
            profile=self._profile,
            keyspace_replication=self._replication,
        )

    def _layout(self) -> _SemanticLayout:
        active = self._active
        if active is not None:
            return active
        setup = self._setup
        if setup is None:  # ASYNC without a known dimension: learn it now
            dimension = len(self._memo.get(PROBE_TEXT))
            setup = self._setup_once(dimension)
        try:
            ready = setup.wait()
        except CassandraLLMCacheError as exc:
            _explain(exc)
            raise
        return self._activate(ready)

    async def _alayout(self) -> _SemanticLayout:
        active = self._active
        if active is not None:
            return active
        setup = self._setup
        if setup is None:
            dimension = len(await self._memo.aget(PROBE_TEXT))
            setup = self._setup_once(dimension)
        try:
            ready = await setup.wait_async()
        except CassandraLLMCacheError as exc:
            _explain(exc)
            raise
        return self._activate(ready)

    def _open_layout(self) -> _SemanticLayout | None:
        """The layout for lookups and updates: ``None`` while setup has failed under the miss
        policy (``Store.ready``: counted, logged, retried after a back-off)."""
        active = self._active
        if active is not None:
            return active
        setup = self._setup
        if setup is None:
            setup = self._setup_once(len(self._memo.get(PROBE_TEXT)))
        try:
            ready = self._store.ready(setup)
        except CassandraLLMCacheError as exc:
            _explain(exc)
            raise
        return self._activate(ready) if ready is not None else None

    async def _aopen_layout(self) -> _SemanticLayout | None:
        active = self._active
        if active is not None:
            return active
        setup = self._setup
        if setup is None:
            setup = self._setup_once(len(await self._memo.aget(PROBE_TEXT)))
        try:
            ready = await self._store.aready(setup)
        except CassandraLLMCacheError as exc:
            _explain(exc)
            raise
        return self._activate(ready) if ready is not None else None

    def _setup_once(self, dimension: int) -> Setup:
        with self._lock:
            if self._setup is None:
                self._setup = self._start_setup(dimension)
            return self._setup

    def _activate(self, ready: Ready, *, wait_near: bool = False) -> _SemanticLayout:
        """Adopt a finished setup (once); ``wait_near``: also wait for the near cache's first
        epoch read (the SYNC constructor, so that its first hits are kept)."""
        active = self._active
        if active is None:
            self._store.adopt(ready.statements)
            adopt_epochs(
                self._bumps,
                self._near,
                ready.statements,
                consistency=self._policy.write_consistency,
            )
            if wait_near and self._near is not None:
                self._near.wait_ready(self._policy.request_timeout)
            dimension = table_dimension(ready.table, where=self._where)
            self._adopt_stored_threshold(ready.table.comment)
            # A table migrated from langchain_community keeps its md5 keys (see _semantic.cql).
            md5_keys = uses_md5_keys(ready.table)
            active = _SemanticLayout(ready.statements, self, dimension, md5_keys=md5_keys)
            self._active = active
        return active

    def _adopt_stored_threshold(self, comment: str) -> None:
        # `cassandra-llm-cache calibrate --store` marks the table's comment; the comment comes
        # with the schema setup reads anyway, so every process picks it up at no extra cost.
        stored = _calibration.parse(comment)
        if self._threshold_explicit or stored is None:
            return
        if stored.measure != self._measure.name:
            self._report(
                f"{self._where} stores a threshold for the {stored.measure!r} measure; this "
                f"cache uses {self._measure.name!r} and keeps its default threshold"
            )
            return
        self._threshold = stored.threshold

    # --- shared by the sync and async paths -----------------------------------------------------

    def _exact_hit(
        self, layout: _SemanticLayout, prompt: str, llm_string: str, rows: Sequence[Any]
    ) -> SemanticHit | None:
        if not rows:
            return None
        body = first_value(rows[0])
        generations = self._decoded(body)
        if generations is None:
            return None
        self._stats.hit(nbytes=bound_size((body,)), tokens=tokens_of(generations))
        self._count(0)
        return SemanticHit(
            layout.document_id(prompt, llm_string), generations, self._exact_score, exact=True
        )

    @property
    def _exact_score(self) -> float:
        """The score of an identical prompt's hit: the closest the measure can be."""
        return 1.0 if self._measure.higher_is_closer else 0.0

    def _hit(self, candidate: SemanticCandidate) -> SemanticHit:
        self._stats.hit(tokens=tokens_of(candidate.generations))
        return SemanticHit(
            candidate.document_id, candidate.generations, candidate.score, exact=False
        )

    def _usable(self, vector: list[float], layout: _SemanticLayout) -> list[float] | None:
        usable = usable_vector(vector, layout.dimension)
        if usable is None:
            self._stats.error()
            self._report(
                f"an embedding was all zeros or not finite in {self._where}: that prompt is "
                "matched by key only"
            )
        return usable

    def _verified(self, prompt: str, candidate: SemanticCandidate) -> bool:
        assert self._verifier is not None
        verdict = self._verifier(prompt, candidate)
        if inspect.isawaitable(verdict):
            close = getattr(verdict, "close", None)
            if close is not None:
                close()  # never awaited: avoid the "coroutine was never awaited" warning
            msg = "the verifier returned an awaitable: use alookup (async) with an async verifier"
            raise ConfigurationError(msg)
        return self._verdict(verdict)

    async def _averified(self, prompt: str, candidate: SemanticCandidate) -> bool:
        assert self._verifier is not None
        verdict = self._verifier(prompt, candidate)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return self._verdict(verdict)

    def _verdict(self, verdict: object) -> bool:
        accepted = bool(verdict)
        if not accepted:
            self._count(2)
        return accepted

    def _decoded(self, body: object) -> list[Generation] | None:
        try:
            return _codec.decode(body if isinstance(body, bytes) else b"")
        except DecodeError as exc:
            self._stats.error()
            self._report(f"unreadable cache value in {self._where}, skipped: {exc}")
            return None

    def _prepare_write(
        self,
        layout: _SemanticLayout,
        prompt: str,
        llm_string: str,
        return_val: RETURN_VAL_TYPE,
        ttl_seconds: int | Unset | None,
    ) -> _Write | None:
        ttl = self._ttl if isinstance(ttl_seconds, Unset) else check_ttl(ttl_seconds)
        try:
            body = _codec.encode(return_val)
        except EncodeError as exc:
            self._stats.error()
            self._report(f"a value was not cached in {self._where}: {exc}")
            return None
        return layout.write(prompt, llm_string, body, ttl)

    def _guard_rejected(self) -> None:
        self._count(1)

    def _count(self, which: int) -> None:
        with self._lock:
            self._semantic_counts[which] += 1

    def _report(self, message: str) -> None:
        # Each distinct problem is logged once at WARNING, then at DEBUG; never with content.
        if message in self._reported:
            _log.debug(message)
            return
        self._reported.add(message)
        _log.warning("%s (further occurrences are logged at DEBUG)", message)


@dataclass(frozen=True)
class _Write:
    key: tuple[str, bytes, bytes]
    prompt: SemanticPrompt
    body: bytes
    guard: str
    plaintext: tuple[str, str] | None
    ttl: TtlValue


class _Screen:
    """Turns search rows into candidates: threshold, guard, then a readable value."""

    def __init__(
        self,
        cache: CassandraSemanticCache,
        layout: _SemanticLayout,
        prompt: str,
        llm_string: str,
        *,
        everything: bool,
    ) -> None:
        self._measure = cache._measure  # noqa: SLF001 - the screen is part of the cache
        self._threshold = cache._threshold  # noqa: SLF001
        self._guard_on = cache._guard and not everything  # noqa: SLF001
        self._everything = everything
        self._rejected = cache._guard_rejected  # noqa: SLF001
        self._decoded = cache._decoded  # noqa: SLF001
        self._llm_key = layout.digest(llm_string)
        self._query = _guard.signature(prompt)

    def candidates(self, rows: Sequence[Any]) -> Iterator[SemanticCandidate]:
        for row in rows:
            prompt_key, body, stored_guard, stored_prompt, similarity = row_values(row)
            score = self._measure.score(float(similarity))
            if not self._everything and not self._measure.passes(score, self._threshold):
                continue
            rejection = self._guard_rejection(prompt_key, stored_guard, stored_prompt)
            if rejection is not None and self._guard_on:
                self._rejected()
                continue
            generations = self._decoded(body)
            if generations is None:
                continue
            yield SemanticCandidate(
                document_id(prompt_key, self._llm_key), score, generations, stored_prompt, rejection
            )

    def _guard_rejection(
        self, prompt_key: bytes, stored_guard: str | None, stored_prompt: str | None
    ) -> str | None:
        stored = _guard.decode(stored_guard)
        if stored is not None:
            return _guard.compare(_guard.digest(self._query, prompt_key.hex()), stored)
        if stored_prompt is not None:
            return _guard.compare(self._query, _guard.signature(split_prompt(stored_prompt).text))
        return "unverifiable"


class _SemanticTableSpec:
    """What the setup routine needs to know about a semantic cache's table."""

    def __init__(self, cache: CassandraSemanticCache, dimension: int | None) -> None:
        self._keyspace = cache._keyspace  # noqa: SLF001 - the spec is part of the cache
        self._table = cache._table_name  # noqa: SLF001
        self._where = cache._where  # noqa: SLF001
        self._measure = cache._measure  # noqa: SLF001
        self._plaintext = cache._store_plaintext  # noqa: SLF001
        self._observed = cache._max_wrong is not None  # noqa: SLF001
        self._off = cache._mode is SetupMode.OFF  # noqa: SLF001
        self._session = cache._session  # noqa: SLF001
        self._dimension = dimension

    def ddl(self, table: Any) -> Sequence[str]:
        return [*self._table_ddl(table), *self._observations_ddl()]

    def _table_ddl(self, table: Any) -> Sequence[str]:
        if table is None:
            if self._dimension is None:  # pragma: no cover - the cache learns it first
                raise ConfigurationError("the vector length is unknown: pass embedding_dimension")
            return [
                semantic_table_cql(self._keyspace, self._table, self._dimension),
                *semantic_index_cql(self._keyspace, self._table, self._measure),
            ]
        self._check(table)
        indexes = semantic_index_cql(self._keyspace, self._table, self._measure)
        names = (vector_index_name(self._table, self._measure), scope_index_name(self._table))
        return [cql for cql, name in zip(indexes, names, strict=True) if name not in table.indexes]

    def _observations_ddl(self) -> list[str]:
        """The observations table, if ``max_wrong_rate`` needs it and the driver's metadata does
        not show it (``IF NOT EXISTS`` makes a race with another process harmless)."""
        if not self._observed or observations_table_exists(
            self._session, self._keyspace, self._table
        ):
            return []
        return [observations_table_cql(self._keyspace, self._table)]

    def statements(self, table: Any) -> Mapping[str, str]:
        self._check(table)
        statements = semantic_statements(self._keyspace, self._table, self._measure)
        if not self._plaintext:
            del statements["insert_plaintext"]
        # Without max_wrong_rate too when another process made the table: this cache's clears
        # and deletes then remove the observations of what they remove (the CLI's clear does).
        exists = observations_table_exists(self._session, self._keyspace, self._table)
        if self._observed and self._off and not exists:
            self._require_observations_table()
        if self._observed or exists:
            statements.update(observation_statements(self._keyspace, self._table))
        return statements

    def _require_observations_table(self) -> None:
        """Under OFF, say which DDL is missing rather than let a prepare fail on it (metadata
        off: the prepare's own error still names the table)."""
        if self._session.cluster.schema_metadata_enabled:
            msg = (
                f"table {self._keyspace}.{observations_table(self._table)} does not exist, and "
                "setup_mode=OFF never creates it: max_wrong_rate keeps its observations there; "
                "create it (CassandraSemanticCache.schema_cql(..., max_wrong_rate=...) prints "
                "its DDL) or use SetupMode.SYNC/ASYNC"
            )
            raise SetupError(msg)

    def _check(self, table: Any) -> None:
        dimension = table_dimension(table, where=self._where)
        if self._dimension is not None and dimension != self._dimension:
            msg = (
                f"table {self._where} holds vectors of {dimension} numbers, the embedding gives "
                f"{self._dimension}: use the table's model or another table"
            )
            raise ConfigurationError(msg)
        check_indexes(table, self._table, self._measure, where=self._where)


@dataclass(frozen=True)
class _ObservationWrites:
    """One observation, its model digest, and the writes of the entry's and the pool's copy."""

    seen: _adaptive.Observation
    llm_key: bytes
    entry: tuple[PreparedStatement, tuple[object, ...]]
    pooled: tuple[PreparedStatement, tuple[object, ...]]


class _SemanticLayout:
    """Keys and bind values for the semantic table (no I/O)."""

    __slots__ = ("_digest_size", "_namespace", "_plaintext", "_statements", "digest", "dimension")

    def __init__(
        self,
        statements: Mapping[str, PreparedStatement],
        cache: CassandraSemanticCache,
        dimension: int,
        *,
        md5_keys: bool = False,
    ) -> None:
        self._statements = statements
        self._namespace = cache._namespace  # noqa: SLF001 - the layout is part of the cache
        self._plaintext = cache._store_plaintext  # noqa: SLF001
        self.dimension = dimension
        self.digest: Callable[[str], bytes] = md5_key if md5_keys else sha256_key
        self._digest_size = MD5_DIGEST_SIZE if md5_keys else SHA256_DIGEST_SIZE

    def _key(self, prompt: str, llm_string: str) -> tuple[str, bytes, bytes]:
        return self._namespace, self.digest(llm_string), self.digest(prompt)

    def document_id(self, prompt: str, llm_string: str) -> str:
        _, llm_key, prompt_key = self._key(prompt, llm_string)
        return document_id(prompt_key, llm_key)

    def select(self, prompt: str, llm_string: str) -> tuple[PreparedStatement, tuple[object, ...]]:
        return self._statements["select"], self._key(prompt, llm_string)

    def search(
        self,
        vector: list[float],
        llm_string: str,
        context: str,
        wanted: int,
        keeps: Callable[[float], bool],
    ) -> SimilarSearch:
        llm_key = self.digest(llm_string)
        return SimilarSearch(
            self._statements,
            vector,
            key=(self._namespace, llm_key),
            scope=scope(self._namespace, llm_key, context),
            wanted=wanted,
            keeps=keeps,
        )

    def write(self, prompt: str, llm_string: str, body: bytes, ttl: TtlValue) -> _Write:
        key = self._key(prompt, llm_string)
        parts = split_prompt(prompt)
        signature = _guard.encode(_guard.digest(_guard.signature(parts.text), key[2].hex()))
        plaintext = (valid_text(llm_string), valid_text(prompt)) if self._plaintext else None
        return _Write(key, parts, body, signature, plaintext, ttl)

    def insert(
        self, write: _Write, vector: list[float] | None
    ) -> tuple[PreparedStatement, tuple[object, ...]]:
        namespace, llm_key, prompt_key = write.key
        values: tuple[object, ...] = (
            namespace,
            llm_key,
            prompt_key,
            scope(namespace, llm_key, write.prompt.context),
            vector,
            write.body,
            write.guard,
        )
        if write.plaintext is not None:
            return self._statements["insert_plaintext"], (*values, *write.plaintext, write.ttl)
        return self._statements["insert"], (*values, write.ttl)

    def delete(self, prompt: str, llm_string: str) -> tuple[PreparedStatement, tuple[object, ...]]:
        return self._statements["delete"], self._key(prompt, llm_string)

    def delete_id(self, value: str) -> tuple[PreparedStatement, tuple[object, ...]]:
        prompt_key, llm_key = parse_document_id(value, self._digest_size)
        return self._statements["delete"], (self._namespace, llm_key, prompt_key)

    def observations(self, value: str) -> tuple[PreparedStatement, tuple[object, ...]]:
        prompt_key, llm_key = parse_document_id(value, self._digest_size)
        return self._statements["observations"], (self._namespace, llm_key, prompt_key)

    def observe(
        self, value: str, similarity: float, *, right: bool
    ) -> tuple[PreparedStatement, tuple[object, ...]]:
        prompt_key, llm_key = parse_document_id(value, self._digest_size)
        values = (self._namespace, llm_key, prompt_key, similarity, right)
        return self._statements["observe"], values

    def llm_key_of(self, value: str) -> bytes:
        """The model digest in the document id ``value`` (validated)."""
        return parse_document_id(value, self._digest_size)[1]

    def pool_band(
        self, llm_key: bytes, number: int
    ) -> tuple[PreparedStatement, tuple[object, ...]]:
        """The read of pool band ``number`` of the model ``llm_key`` (``_semantic.pool``)."""
        return self._statements["observations"], (self._namespace, llm_key, _pool.pool_key(number))

    def pool_observe(
        self, value: str, similarity: float, *, right: bool
    ) -> tuple[bytes, tuple[PreparedStatement, tuple[object, ...]]]:
        """The model digest of entry ``value`` and the write of an observation to its pool."""
        llm_key = self.llm_key_of(value)
        band = _pool.pool_key(_pool.band(similarity))
        values = (self._namespace, llm_key, band, similarity, right)
        return llm_key, (self._statements["observe"], values)

    def drop_observations(
        self, key: tuple[object, ...]
    ) -> tuple[PreparedStatement, tuple[object, ...]] | None:
        """The delete of the observations of the entry keyed ``key``; None when this cache does
        not know the observations table (see ``_SemanticTableSpec.statements``)."""
        statement = self._statements.get("observations_drop")
        return None if statement is None else (statement, key)

    def observations_clear_plan(self, llm_string: str | None) -> ClearPlan | None:
        """What :meth:`clear_plan` clears, in the observations table (None if not known).

        The observations table is scanned itself rather than fed the entries' keys, so that the
        observations of entries that had already expired or been deleted go too.
        """
        statements = self._statements
        if "observations_drop" not in statements:
            return None
        namespace = self._namespace
        values: tuple[object, ...]
        if llm_string is None:
            if not namespace:
                return ClearPlan(truncate=statements["observations_truncate"])
            scan, values = statements["observations_scan_namespace"], (namespace,)
        else:
            scan = statements["observations_scan_model"]
            values = (namespace, self.digest(llm_string))
        return ClearPlan(
            scan=scan,
            scan_values=values,
            delete=statements["observations_drop"],
            to_delete=lambda rows: [row_values(row) for row in rows],
        )

    def clear_plan(self, llm_string: str | None) -> ClearPlan:
        namespace = self._namespace
        delete = self._statements["delete"]
        if llm_string is None:
            if not namespace:
                return ClearPlan(truncate=self._statements["truncate"])
            return ClearPlan(
                scan=self._statements["scan_namespace"],
                scan_values=(namespace,),
                delete=delete,
                to_delete=lambda rows: [(namespace, *row_values(row)) for row in rows],
            )
        llm_key = self.digest(llm_string)
        return ClearPlan(
            scan=self._statements["scan_model"],
            scan_values=(namespace, llm_key),
            delete=delete,
            to_delete=lambda rows: [(namespace, llm_key, first_value(row)) for row in rows],
        )


def _explain(error: CassandraLLMCacheError) -> None:
    """Raise the error naming Cassandra 5.0+ if ``error`` says the server has no vector search."""
    explained = explain_setup_failure(error)
    if explained is not None:
        raise explained from error


def _known_dimension(embedding_dimension: int | None, embedding: Embeddings) -> int | None:
    if embedding_dimension is not None:
        return check_dimension(embedding_dimension)
    advertised = getattr(embedding, "dimension", None)
    if isinstance(advertised, int) and not isinstance(advertised, bool):
        return check_dimension(advertised)
    return None


def _check_threshold(score_threshold: object, embedding: Embeddings) -> float:
    if score_threshold is None:
        recommended = getattr(embedding, "recommended_score_threshold", None)
        score_threshold = recommended if recommended is not None else DEFAULT_SCORE_THRESHOLD
    if (
        isinstance(score_threshold, bool)
        or not isinstance(score_threshold, (int, float))
        or not math.isfinite(score_threshold)
    ):
        raise ConfigurationError("score_threshold must be a finite number")
    return float(score_threshold)


def _check_verifier(verifier: Callable[..., Any] | None) -> Any:
    if verifier is not None and not callable(verifier):
        raise ConfigurationError("verifier must be a callable (prompt, candidate) -> bool")
    return verifier


def _check_max_wrong_rate(max_wrong_rate: object, table: str) -> float | None:
    checked = _adaptive.check_max_wrong_rate(max_wrong_rate)
    if checked is not None:
        observations_table(table)  # a name too long is an error now, not in setup
    return checked


def _check_candidates(candidates: object) -> int:
    if (
        isinstance(candidates, bool)
        or not isinstance(candidates, int)
        or not 0 < candidates <= MAX_CANDIDATES
    ):
        raise ConfigurationError(f"candidates must be an integer from 1 to {MAX_CANDIDATES}")
    return candidates


def _check_replication(replication: Mapping[str, object]) -> None:
    from cassandra_llm_cache._storage.cql import replication_cql

    replication_cql(replication)


def _observations(rows: Sequence[Any]) -> list[_adaptive.Observation]:
    """The observations in rows of the ``observations`` statement (similarity, correct)."""
    return [
        _adaptive.Observation(float(similarity), bool(right))
        for similarity, right in (row_values(row) for row in rows)
    ]
