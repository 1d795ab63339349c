"""Writing export records into a cache table of any layout, many requests in flight.

Each record is checked against the target first; one that cannot be written faithfully is
skipped and counted by reason (never written altered):

- ``expired``: its TTL ran out before the import;
- ``needs texts``: the target keys entries with another hash and the record has no plaintext
  prompt and model string to re-derive its keys from (hashes are one-way);
- ``namespace``: the target is a legacy table, which has no namespaces;
- ``no vector``: the target is a semantic cache and the record has no embedding (or one of
  another length), although its prompt has text to embed;
- ``unreadable``: its value is not a list of generations.

Writes are idempotent (same key, same value): replaying part of a file after a crash is safe.
They carry the record's remaining TTL and, if asked, its original write time.
"""

from __future__ import annotations

import collections
import concurrent.futures
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from cassandra_llm_cache._errors import CacheOperationError
from cassandra_llm_cache._storage import bridge as _bridge
from cassandra_llm_cache._storage import legacy as _legacy
from cassandra_llm_cache._storage.store import DRIVER_ERRORS
from cassandra_llm_cache._values import codec as _codec
from cassandra_llm_cache._values.codec import EncodeError
from cassandra_llm_cache._values.keys import legacy_key_vals_of
from cassandra_llm_cache.admin._records import EntryRecord, RecordError, TtlPolicy
from cassandra_llm_cache.admin._rows import insert_cql
from cassandra_llm_cache.admin._tables import TableDescription, TableKind

if TYPE_CHECKING:
    from collections.abc import Callable

    from cassandra.cluster import ExecutionProfile, Session
    from cassandra.query import PreparedStatement

WRITE_TIMEOUT: Final = 30.0
ATTEMPTS: Final = 4


@dataclass
class WriteCounts:
    written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        parts = [f"{self.written:,} written"]
        parts += [f"{count:,} skipped ({reason})" for reason, count in sorted(self.skipped.items())]
        return ", ".join(parts)


class EntryWriter:
    """Writes records into ``target``, keeping up to ``concurrency`` writes in flight.

    Writes are awaited in submission order, so ``acknowledged`` (the count of submitted records
    whose writes, and every earlier one's, are done) is a safe resume point.
    """

    def __init__(
        self,
        session: Session,
        target: TableDescription,
        *,
        profile: ExecutionProfile,
        ttl: TtlPolicy | None = None,
        namespace: str | None = None,
        preserve_writetime: bool = False,
        concurrency: int = 32,
        on_acknowledged: Callable[[int], None] | None = None,
    ) -> None:
        self._session = session
        self._target = target
        self._profile = profile
        self._ttl = ttl or TtlPolicy()
        self._namespace = namespace
        self._preserve = preserve_writetime
        self._concurrency = max(1, concurrency)
        self._on_acknowledged = on_acknowledged
        self._in_flight: collections.deque[_Pending] = collections.deque()
        self.counts = WriteCounts()
        self.acknowledged = 0
        self._statements = self._prepare()
        self._dimension = _dimension(target)

    @property
    def target(self) -> TableDescription:
        return self._target

    def _prepare(self) -> dict[bool, PreparedStatement]:
        """The insert without and (except for legacy tables) with the plaintext columns."""
        variants = [False] if self._target.kind is TableKind.LEGACY else [False, True]
        statements = {}
        for with_texts in variants:
            statement = self._session.prepare(insert_cql(self._target, with_texts=with_texts))
            statement.is_idempotent = True
            statements[with_texts] = statement
        return statements

    # --- records -> bound statements ------------------------------------------------------------

    def _bind(self, record: EntryRecord, now: float) -> tuple[PreparedStatement, tuple[Any, ...]]:
        """The statement and values for ``record``; :class:`_SkipError` names why not."""
        ttl = self._ttl.ttl_for(record, now)
        if ttl is None:
            raise _SkipError("expired")
        keys = record.keys_for(self._target.key_hash)
        if keys is None:
            raise _SkipError("needs texts")
        namespace = self._namespace if self._namespace is not None else record.namespace
        written = record.written_at if self._preserve else None
        using = (ttl, written if written is not None else int(now * 1_000_000))
        try:
            generations = record.generations()
            if self._target.kind is TableKind.LEGACY:
                if namespace:
                    raise _SkipError("namespace")
                body = _legacy.encode_body(generations)
                values = (_legacy.KEY_DESC, legacy_key_vals_of(*keys), body)
                return self._statements[False], (*values, *using)
            encoded = _codec.encode(generations)
        except (RecordError, EncodeError):
            raise _SkipError("unreadable") from None
        entry = self._entry_values(record, namespace, keys, encoded)
        if record.has_texts:
            return self._statements[True], (*entry, record.llm_string, record.prompt, *using)
        return self._statements[False], (*entry, *using)

    def _entry_values(
        self, record: EntryRecord, namespace: str, keys: tuple[bytes, bytes], body: bytes
    ) -> tuple[Any, ...]:
        llm_key, prompt_key = keys
        if self._target.kind is TableKind.EXACT:
            return (namespace, llm_key, prompt_key, body)
        from cassandra_llm_cache._semantic.cql import scope
        from cassandra_llm_cache._semantic.prompt_text import split_prompt

        # With the prompt at hand, the scope gets a chat prompt's context, as the cache's own
        # writes do; a prompt without text to compare has no vector (found by key only).
        parts = split_prompt(record.prompt) if record.prompt is not None else None
        keyed_only = parts is not None and not parts.text and record.embedding is None
        if not keyed_only and (
            record.embedding is None or len(record.embedding) != self._dimension
        ):
            raise _SkipError("no vector")
        scoped = scope(namespace, llm_key, parts.context if parts is not None else "")
        return (namespace, llm_key, prompt_key, scoped, record.embedding, body, record.guard)

    # --- sending --------------------------------------------------------------------------------

    def submit(self, record: EntryRecord) -> None:
        """Write ``record`` (waiting for the oldest write first if the window is full)."""
        try:
            statement, values = self._bind(record, time.time())
        except _SkipError as skip:
            self.skip(str(skip))
            return
        self._in_flight.append(_Pending(self._send(statement, values), statement, values))
        while len(self._in_flight) >= self._concurrency:
            self._settle_oldest()

    def skip(self, reason: str) -> None:
        """Count a record that could not even be parsed, keeping the resume point in order."""
        self.counts.skipped[reason] += 1
        self._in_flight.append(_Pending())

    def flush(self) -> None:
        """Wait for every write submitted so far."""
        while self._in_flight:
            self._settle_oldest()

    def _send(
        self, statement: PreparedStatement, values: tuple[Any, ...]
    ) -> concurrent.futures.Future[_bridge.Page]:
        response = self._session.execute_async(
            statement, values, timeout=WRITE_TIMEOUT, execution_profile=self._profile
        )
        return _bridge.to_concurrent(response)

    def _settle_oldest(self) -> None:
        pending = self._in_flight.popleft()
        future, statement = pending.future, pending.statement
        for attempt in range(1, ATTEMPTS + 1):
            if future is None or statement is None:
                break
            try:
                future.result()
                break
            except DRIVER_ERRORS as exc:
                if attempt == ATTEMPTS:
                    self._abandon()
                    msg = (
                        f"writing to {self._target.where} failed {ATTEMPTS} times: "
                        f"{type(exc).__name__}: {str(exc)[:300]}"
                    )
                    raise CacheOperationError(msg) from exc
                time.sleep(0.5 * attempt)
                future = self._send(statement, pending.values)
        if statement is not None:
            self.counts.written += 1
        self.acknowledged += 1
        if self._on_acknowledged is not None:
            self._on_acknowledged(self.acknowledged)

    def _abandon(self) -> None:
        futures = [pending.future for pending in self._in_flight if pending.future is not None]
        concurrent.futures.wait(futures, timeout=WRITE_TIMEOUT)
        self._in_flight.clear()


class _SkipError(Exception):
    """A record that is not written; the message is the reason counted."""


@dataclass(frozen=True)
class _Pending:
    """A submitted record: its write in flight, or nothing for a skipped record."""

    future: concurrent.futures.Future[_bridge.Page] | None = None
    statement: PreparedStatement | None = None
    values: tuple[Any, ...] = ()


def _dimension(target: TableDescription) -> int | None:
    if target.kind is not TableKind.SEMANTIC:
        return None
    from cassandra_llm_cache._semantic.cql import table_dimension

    return table_dimension(target.info, where=target.where)
