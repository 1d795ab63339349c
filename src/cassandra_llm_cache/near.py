"""``NearCache``: an in-process LRU of hits in front of Cassandra and the epochs that expire it."""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import sys
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from cassandra_llm_cache._errors import CacheOperationError, ConfigurationError
from cassandra_llm_cache._policy.stats import bound_size, tokens_of
from cassandra_llm_cache._storage import bridge as _bridge
from cassandra_llm_cache._storage.cql import (
    EPOCHS_TABLE,
    TABLE_SCOPE,
    epoch_statements,
    epochs_table_cql,
    identifier,
    namespace_scope,
    select_with_ttl,
)
from cassandra_llm_cache._storage.rows import row_values
from cassandra_llm_cache._storage.store import DRIVER_ERRORS
from cassandra_llm_cache._values import codec as _codec

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Mapping, Sequence

    from cassandra.cluster import Session
    from cassandra.query import PreparedStatement
    from langchain_core.outputs import Generation

    from cassandra_llm_cache._storage.bridge import Page
    from cassandra_llm_cache._storage.cql import TableInfo
    from cassandra_llm_cache._storage.setup import TableSpec
    from cassandra_llm_cache._storage.store import Store

DEFAULT_MAX_BYTES: Final = 64 * 2**20
DEFAULT_REFRESH_SECONDS: Final = 1.0
MAX_REFRESH_SECONDS: Final = 3600.0
LARGEST_SHARE: Final = 8
"""An entry larger than ``max_bytes / LARGEST_SHARE`` is not kept: a few huge values must not
push out the many small ones a skewed workload repeats."""
ENTRY_OVERHEAD: Final = 512
"""Bytes charged per entry on top of its key and value objects: the LRU's link node, the entry
tuple, its expiry float and size int, the :class:`Kept` tuple and its counts, with room to spare
(~440 bytes measured with tracemalloc on CPython 3.11, the LRU's node included). Charging
them to the budget bounds the entry count too (at most ``max_bytes / ENTRY_OVERHEAD``), hence the
one thing outside the budget: the LRU's hash table, sized by the most entries it ever held
(about 6 % of ``max_bytes``, checked under 1/8 with tracemalloc in the unit tests)."""
STALE_FACTOR: Final = 3
"""While epoch reads fail, local entries are served until the last successful read is this many
``refresh_seconds`` old; then the near cache is bypassed until a read succeeds."""
MAX_GRACE: Final = 0.25
"""Seconds an epoch older than ``refresh_seconds`` may still be trusted while its refresh (sent
by the lookup that found it old) is in flight: the round trip, with room to spare."""

Ticket = tuple[int, float]
"""Taken before a lookup's database read: the invalidation count and the clock (see ``keep``)."""


class Kept(NamedTuple):
    """What the near cache holds for one hit: ``rebuild(data)`` gives its generations anew.

    For this package's value format, ``data`` is what ``_values.codec.kept_form`` chose: the
    JSON payload, already read once, of a value stored uncompressed (a near hit then skips the
    header and the checks), or the stored bytes of a compressed one (smaller in memory). For
    another format it is the stored value and ``rebuild`` its full decoder. What a hit counts in
    the stats is worked out once, when the entry is kept.
    """

    rebuild: Callable[[Any], list[Generation]]
    data: Any
    nbytes: int
    tokens: int


class NearCache:
    """The near cache's options: ``near_cache=NearCache(...)`` on either cache class.

    A hit is kept in this process's memory, so the next lookup of the same entry needs no
    database call. Deletes and clears made in this process invalidate it at once; those made by
    any other process bump an epoch row in Cassandra that each near cache reads at most once per
    ``refresh_seconds`` (in the background), so they take effect here within about that time.

    Args:
        max_bytes: memory budget of each cache's near cache: values, keys and bookkeeping (an
            estimate from the stored bytes; the least recently used entries go first). An entry
            larger than ``max_bytes / 8`` is not kept.
        refresh_seconds: how often the epochs are read, i.e. how long another process's delete
            or clear may go unseen here (plus one round trip).

    Bad values raise :class:`ConfigurationError`. One ``NearCache`` may configure several caches;
    each gets its own entries and budget.
    """

    __slots__ = ("_max_bytes", "_refresh_seconds")

    def __init__(
        self,
        max_bytes: int = DEFAULT_MAX_BYTES,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    ) -> None:
        self._max_bytes = _check_max_bytes(max_bytes)
        self._refresh_seconds = _check_refresh(refresh_seconds)

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    @property
    def refresh_seconds(self) -> float:
        return self._refresh_seconds

    @staticmethod
    def schema_cql(keyspace: str) -> str:
        """The epochs table's DDL: run it by hand where caches use ``setup_mode=OFF``."""
        return epochs_table_cql(identifier(keyspace, "keyspace name")) + ";\n"

    def __repr__(self) -> str:
        return f"NearCache(max_bytes={self._max_bytes}, refresh_seconds={self._refresh_seconds:g})"


def _check_max_bytes(value: object) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 1
    ):
        raise ConfigurationError("max_bytes must be a positive number of bytes")
    return int(value)


def _check_refresh(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 < value <= MAX_REFRESH_SECONDS
    ):
        msg = (
            f"refresh_seconds must be a number of seconds above 0, at most {MAX_REFRESH_SECONDS:g}"
        )
        raise ConfigurationError(msg)
    return float(value)


def near_option(option: object) -> NearCache | None:
    """The ``near_cache`` argument as options (``True``: the defaults), or ``None`` when off."""
    if option is None or option is False:
        return None
    if option is True:
        return NearCache()
    if isinstance(option, NearCache):
        return option
    msg = f"near_cache must be None, True, False or a NearCache, not {type(option).__name__}"
    raise ConfigurationError(msg)


def near_parts(
    option: object, store: Store, *, keyspace: str, table: str, namespace: str
) -> tuple[NearCache | None, NearEntries | None, EpochBumps]:
    """What a cache needs for ``near_cache=option``: the options, the entries (``None`` when
    off) and the epoch bumps its deletes and clears make in any case."""
    options = near_option(option)
    entries = NearEntries(options) if options is not None else None
    bumps = EpochBumps(store, keyspace=keyspace, table=table, namespace=namespace)
    return options, entries, bumps


def adopt_epochs(
    bumps: EpochBumps,
    entries: NearEntries | None,
    statements: Mapping[str, PreparedStatement],
    *,
    consistency: int,
) -> None:
    """Give a finished setup's statements to the bumps and, when on, the near cache's reads."""
    bumps.adopt(statements)
    if entries is not None:
        entries.attach(
            bumps._store,  # noqa: SLF001 - the same table's epochs, one module
            statements,
            table=bumps._table,  # noqa: SLF001
            namespace=bumps._namespace,  # noqa: SLF001
            consistency=consistency,
        )


def epochs_table_exists(session: Session, keyspace: str) -> bool:
    """Whether the driver's schema metadata shows the epochs table (no query)."""
    cluster = session.cluster
    if not cluster.schema_metadata_enabled:
        return False
    found = cluster.metadata.keyspaces.get(keyspace)
    return found is not None and EPOCHS_TABLE in found.tables


def _size_of(key: tuple[object, ...], body: object) -> int:
    return (
        sys.getsizeof(body)
        + sys.getsizeof(key)
        + sum(sys.getsizeof(part) for part in key)
        + ENTRY_OVERHEAD
    )


class NearEntries:
    """One cache's near cache: its entries within their byte budget, and its view of the epochs.

    Thread-safe: every change holds one lock for a few dict operations, never across I/O, so
    it is safe from threads and never stalls an event loop. Correct under races: a lookup takes
    a :meth:`ticket` before its database read, and :meth:`keep` refuses the value if anything
    was invalidated meanwhile (the read may predate the delete that caused it).
    """

    __slots__ = (
        "_entries",
        "_epoch",
        "_failing",
        "_first",
        "_fresh_at",
        "_generation",
        "_largest",
        "_lock",
        "_max_bytes",
        "_nbytes",
        "_read",
        "_refresh",
        "_refresh_due",
        "_refreshing",
        "_serve_for",
        "_stale_limit",
    )

    def __init__(self, options: NearCache) -> None:
        self._max_bytes = options.max_bytes
        self._largest = options.max_bytes // LARGEST_SHARE
        self._refresh = options.refresh_seconds
        self._serve_for = options.refresh_seconds + min(MAX_GRACE, options.refresh_seconds / 4)
        self._stale_limit = STALE_FACTOR * options.refresh_seconds
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[Kept, float, int]] = OrderedDict()
        self._nbytes = 0
        self._generation = 0
        self._epoch: frozenset[tuple[Any, ...]] | None = None
        self._fresh_at = -math.inf  # when the last successful epoch read was sent
        self._refresh_due = math.inf  # no reads before attach()
        self._failing = False
        self._refreshing = False
        self._read: Callable[[], concurrent.futures.Future[Page]] | None = None
        self._first: concurrent.futures.Future[None] = concurrent.futures.Future()

    # --- wiring ---------------------------------------------------------------------------------

    def attach(
        self,
        store: Store,
        statements: Mapping[str, PreparedStatement],
        *,
        table: str,
        namespace: str,
        consistency: int,
    ) -> None:
        """Start reading the epochs of ``table``/``namespace`` (once; the first read now).

        The epoch read uses the write consistency of the bumps, so that with the defaults
        (``LOCAL_QUORUM`` both) a read always sees a bump that completed before it.
        """
        with self._lock:
            if self._read is not None:
                return
            read = statements["epoch_read"]
            read.consistency_level = consistency
            values = (table, TABLE_SCOPE, namespace_scope(namespace))
            self._read = lambda: store.submit(read, values, operation="epoch")
            self._refresh_due = 0.0
        self._start_refresh(time.monotonic())

    def wait_ready(self, timeout: float) -> None:
        """Wait (blocking) up to ``timeout`` for the first epoch read; for SYNC constructors."""
        concurrent.futures.wait([self._first], timeout=timeout)

    # --- the hot path ---------------------------------------------------------------------------

    def get(self, key: Hashable) -> Kept | None:
        """The hit kept for ``key``, or ``None``. May start a background epoch read."""
        now = time.monotonic()
        if now >= self._refresh_due:
            self._start_refresh(now)
        if not self._serving(now):
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if now >= entry[1]:  # past its TTL
                del self._entries[key]
                self._nbytes -= entry[2]
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def ticket(self) -> Ticket:
        """Take before the database read whose result may be kept."""
        return self._generation, time.monotonic()

    def keep(
        self,
        key: tuple[object, ...],
        row: Any,
        generations: list[Generation],
        ticket: Ticket,
        *,
        rebuild: Callable[[Any], list[Generation]] | None = None,
    ) -> None:
        """Keep a hit: ``row`` is ``(value, remaining TTL or None)``, ``generations`` its decoding.

        ``rebuild`` decodes a value of another format than this package's (the legacy layout's).
        """
        body, ttl = row_values(row)[:2]
        generation, sent_at = ticket
        if ttl is not None and ttl <= 0:
            return
        if rebuild is None:
            if not isinstance(body, bytes):
                return
            rebuild, data = _codec.kept_form(body)
            kept = Kept(rebuild, data, len(body), tokens_of(generations))
        else:
            kept = Kept(rebuild, body, bound_size((body,)), tokens_of(generations))
        size = _size_of(key, kept.data)
        if size > self._largest:
            return
        # The server floors the remaining TTL and read it after the request was sent: counting
        # from the send time, the entry leaves here no later than it expires there.
        expires = math.inf if ttl is None else sent_at + ttl
        now = time.monotonic()
        with self._lock:
            if generation != self._generation or not self._serving(now):
                return
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._nbytes -= previous[2]
            self._entries[key] = (kept, expires, size)
            self._nbytes += size
            while self._nbytes > self._max_bytes:
                _, (_, _, evicted) = self._entries.popitem(last=False)
                self._nbytes -= evicted

    # --- invalidation ---------------------------------------------------------------------------

    def discard(self, key: Hashable) -> None:
        """Forget ``key`` (written or deleted here); in-flight reads of it will not be kept."""
        with self._lock:
            self._generation += 1
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._nbytes -= entry[2]

    def clear(self) -> None:
        """Forget every entry (a clear here, or a changed epoch)."""
        with self._lock:
            self._drop_all()

    def _drop_all(self) -> None:
        # With the lock held.
        self._generation += 1
        self._entries.clear()
        self._nbytes = 0

    # --- epochs ---------------------------------------------------------------------------------

    def _serving(self, now: float) -> bool:
        age = now - self._fresh_at
        return age <= self._serve_for or (self._failing and age <= self._stale_limit)

    def _start_refresh(self, now: float) -> None:
        with self._lock:
            read = self._read
            if read is None or self._refreshing or now < self._refresh_due:
                return
            self._refreshing = True
            self._refresh_due = now + self._refresh
        try:
            sent = read()
        except Exception as exc:  # noqa: BLE001 - not a driver error: still only a failed read
            failed = CacheOperationError(f"epoch read failed: {type(exc).__name__}")
            self._epoch_read(_bridge.Page([], None, failed), now)
            return
        sent.add_done_callback(lambda done: self._epoch_read(done.result(), now))

    def _epoch_read(self, page: Page, sent_at: float) -> None:
        # In a driver thread (or inline): Store.submit settles with a page, never an error.
        with self._lock:
            self._refreshing = False
            if page.failed:
                self._failing = True
                if time.monotonic() - self._fresh_at > self._stale_limit and self._entries:
                    self._drop_all()  # bypassed until a read succeeds: keep nothing stale
            else:
                epoch = frozenset(row_values(row) for row in page.rows)
                if self._epoch is not None and epoch != self._epoch:
                    self._drop_all()
                self._epoch = epoch
                self._failing = False
                self._fresh_at = max(self._fresh_at, sent_at)
        if not self._first.done():
            # A concurrent read may have settled it in between.
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                self._first.set_result(None)

    # --- introspection --------------------------------------------------------------------------

    @property
    def nbytes(self) -> int:
        """Bytes charged to the budget now (values, keys and per-entry bookkeeping)."""
        return self._nbytes

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    def serving(self) -> bool:
        """Whether lookups are answered from memory now (epochs fresh, or failing but young)."""
        return self._serving(time.monotonic())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"NearEntries(entries={len(self._entries)}, nbytes={self._nbytes})"


class EpochBumps:
    """Deletes and clears tell every process's near cache: they bump the epoch rows.

    A cache with a near cache has the bump statement from its setup. A cache without one still
    bumps when the epochs table exists (another process uses a near cache on this keyspace),
    preparing the statement on first use without blocking an event loop.
    """

    __slots__ = ("_keyspace", "_lock", "_namespace", "_preparing", "_statement", "_store", "_table")

    def __init__(self, store: Store, *, keyspace: str, table: str, namespace: str) -> None:
        self._store = store
        self._keyspace = keyspace
        self._table = table
        self._namespace = namespace
        self._statement: PreparedStatement | None = None
        self._preparing: concurrent.futures.Future[PreparedStatement] | None = None
        self._lock = threading.Lock()

    def adopt(self, statements: Mapping[str, PreparedStatement]) -> None:
        """Use the bump statement setup prepared, if it did."""
        statement = statements.get("epoch_bump")
        if statement is not None:
            self._statement = statement

    def bump(self, *, whole_table: bool) -> None:
        """Bump the namespace's epoch row (the table's for a TRUNCATE); raises on failure."""
        statement = self._statement
        if statement is None:
            preparing = self._prepare()
            if preparing is None:
                return
            statement = self._prepared(preparing.result)
        self._store.execute(statement, self._values(whole_table), operation="invalidate")

    async def abump(self, *, whole_table: bool) -> None:
        """Async :meth:`bump`; never blocks the event loop."""
        statement = self._statement
        if statement is None:
            preparing = self._prepare()
            if preparing is None:
                return
            await _bridge.settled(preparing)
            statement = self._prepared(preparing.result)
        await self._store.aexecute(statement, self._values(whole_table), operation="invalidate")

    def _values(self, whole_table: bool) -> tuple[str, str]:
        scope = TABLE_SCOPE if whole_table else namespace_scope(self._namespace)
        return self._table, scope

    def _prepare(self) -> concurrent.futures.Future[PreparedStatement] | None:
        if not epochs_table_exists(self._store.session, self._keyspace):
            return None
        with self._lock:
            preparing = self._preparing
            if preparing is None or (preparing.done() and preparing.exception() is not None):
                cql = epoch_statements(self._keyspace)["epoch_bump"]
                preparing = _bridge.prepare(self._store.session, cql)
                self._preparing = preparing
            return preparing

    def _prepared(self, result: Callable[[], PreparedStatement]) -> PreparedStatement:
        try:
            statement = result()
        except DRIVER_ERRORS as exc:
            msg = (
                f"invalidate on {self._keyspace}.{EPOCHS_TABLE} failed: could not prepare the "
                f"epoch bump: {type(exc).__name__}"
            )
            raise CacheOperationError(msg) from exc
        if statement is not self._statement:
            statement.is_idempotent = True  # a second bump is one more change: harmless
            self._store.adopt({"epoch_bump": statement})
            self._statement = statement
        return statement


class WithEpochs:
    """A cache's table spec (``_storage.setup.TableSpec``) plus what its near cache needs.

    The epochs table is created if the driver's metadata does not show it (``IF NOT EXISTS``
    makes a race with another process harmless); the key read also returns the value's
    remaining TTL; the epoch read and bump are prepared with the cache's own statements.
    """

    def __init__(self, spec: TableSpec, session: Session, keyspace: str) -> None:
        self._spec = spec
        self._session = session
        self._keyspace = keyspace

    def ddl(self, table: TableInfo | None) -> Sequence[str]:
        ddl = list(self._spec.ddl(table))
        if not epochs_table_exists(self._session, self._keyspace):
            ddl.append(epochs_table_cql(self._keyspace))
        return ddl

    def statements(self, table: TableInfo) -> Mapping[str, str]:
        statements = dict(self._spec.statements(table))
        statements["select"] = select_with_ttl(statements["select"])
        statements.update(epoch_statements(self._keyspace))
        return statements
