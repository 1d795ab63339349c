"""Cluster single-flight: a lease row elects one caller per request across processes.

After a miss, a caller writes ``INSERT ... IF NOT EXISTS USING TTL`` into a small table next to
the cache's (``<keyspace>.llm_cache_leases``: a digest of the cache's table, namespace, model
string and prompt -> the holder's id). The caller whose insert applies looks the cache up once
more (the previous leader may have just finished), calls the model, stores the answer in the
cache, then deletes its lease (``IF holder = ...``, also when the model fails).
The others poll the cache, starting after 10 ms and backing off to 100 ms, until the entry
appears; if the lease disappears without an entry (the leader failed, or the answer was not
cacheable) or expires (``lease_seconds``: a leader that died), they compete for it again, and
the winner calls the model. So a follower waits at most one lease period per leader.

The lease table is reached through the session the cache uses (``_store.session`` of a
``CassandraCache``, ``_session`` of a ``CassandraSemanticCache``) in the cache's ``_keyspace``.
Lease requests are fail-open like the caches: if they fail, the caller just calls the model.
Async calls await the driver's futures through ``call_soon_threadsafe``; nothing blocks a loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
import uuid
import weakref
from typing import TYPE_CHECKING, Any, Final

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache._storage.bridge import to_asyncio
from cassandra_llm_cache.exact import CassandraCache
from cassandra_llm_cache.semantic import CassandraSemanticCache

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Sequence

    from cassandra.cluster import ResponseFuture, Session
    from langchain_core.caches import BaseCache
    from langchain_core.outputs import Generation

_log = logging.getLogger(__name__)

LEASE_TABLE: Final = "llm_cache_leases"
FIRST_POLL: Final = 0.01
MAX_POLL: Final = 0.1
_BACKOFF: Final = 1.5


def check_cluster_cache(cache: BaseCache | None) -> None:
    if not isinstance(cache, (CassandraCache, CassandraSemanticCache)):
        raise ConfigurationError(
            "coalesce='cluster' needs a CassandraCache or CassandraSemanticCache passed as cache "
            "(the lease table lives next to it)"
        )


class LeaseTable:
    """The lease table of one keyspace, reached through one session."""

    def __init__(self, session: Session, keyspace: str) -> None:
        self._session = session
        self._where = f"{keyspace}.{LEASE_TABLE}"
        self._ready = False
        self._lock = threading.Lock()
        self._reported = False

    @property
    def ddl(self) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {self._where} (key blob PRIMARY KEY, holder uuid) "
            "WITH gc_grace_seconds = 3600"
        )

    def insert(self) -> str:
        # The keyspace name was validated by the cache.
        return f"INSERT INTO {self._where} (key, holder) VALUES (%s, %s) IF NOT EXISTS USING TTL %s"  # noqa: S608

    def select(self) -> str:
        # The keyspace name was validated by the cache.
        return f"SELECT holder FROM {self._where} WHERE key = %s"  # noqa: S608

    def delete(self) -> str:
        # The keyspace name was validated by the cache.
        return f"DELETE FROM {self._where} WHERE key = %s IF holder = %s"  # noqa: S608

    def execute(self, query: str, values: tuple[object, ...]) -> list[Any]:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self._session.execute(self.ddl, timeout=30)
                    self._ready = True
        return list(self._session.execute(query, values, timeout=5))

    async def aexecute(self, query: str, values: tuple[object, ...]) -> list[Any]:
        if not self._ready:
            await _awaited(self._session.execute_async(self.ddl, timeout=30))
            self._ready = True
        return await _awaited(self._session.execute_async(query, values, timeout=5))

    def attempt(self, query: str, values: tuple[object, ...]) -> list[Any] | None:
        """:meth:`execute`, fail-open: ``None`` (reported) when the request fails."""
        try:
            return self.execute(query, values)
        except Exception as exc:  # noqa: BLE001 - fail-open: the caller calls the model
            self.report(exc)
            return None

    async def aattempt(self, query: str, values: tuple[object, ...]) -> list[Any] | None:
        """Async :meth:`attempt`."""
        try:
            return await self.aexecute(query, values)
        except Exception as exc:  # noqa: BLE001 - fail-open: the caller calls the model
            self.report(exc)
            return None

    def report(self, exc: BaseException) -> None:
        level = logging.DEBUG if self._reported else logging.WARNING
        self._reported = True
        _log.log(
            level,
            "lease request on %s failed (%s); calling the model without a lease",
            self._where,
            type(exc).__name__,
        )


async def _awaited(future: ResponseFuture) -> list[Any]:
    page = await to_asyncio(future, asyncio.get_running_loop())
    return list(page.rows)


def _applied(rows: list[Any]) -> bool:
    if not rows:
        return False
    row = rows[0]
    if isinstance(row, dict):
        return bool(row.get("[applied]"))
    return bool(row[0])


class Lease:
    """One request's lease: win it and call the model, or wait for the winner's answer."""

    def __init__(self, table: LeaseTable, key: bytes, seconds: float) -> None:
        self._table = table
        self._key = key
        self._ttl = max(1, round(seconds))
        self._holder: uuid.UUID | None = None

    def acquire_or_wait(
        self, lookup: Callable[[], Sequence[Generation] | None]
    ) -> Sequence[Generation] | None:
        """``None``: this caller leads (or leases failed); else the leader's cached answer."""
        while True:
            holder = uuid.uuid4()
            rows = self._table.attempt(self._table.insert(), (self._key, holder, self._ttl))
            if self._leads(rows, holder):
                return None
            for pause in _polls(self._ttl):
                time.sleep(pause)
                found = lookup()
                if found:
                    return found
                rows = self._table.attempt(self._table.select(), (self._key,))
                if rows is None:
                    return None
                if not rows:
                    break  # the leader is gone without an answer: compete again

    async def aacquire_or_wait(
        self, lookup: Callable[[], Awaitable[Sequence[Generation] | None]]
    ) -> Sequence[Generation] | None:
        """Async :meth:`acquire_or_wait`."""
        while True:
            holder = uuid.uuid4()
            rows = await self._table.aattempt(self._table.insert(), (self._key, holder, self._ttl))
            if self._leads(rows, holder):
                return None
            for pause in _polls(self._ttl):
                await asyncio.sleep(pause)
                found = await lookup()
                if found:
                    return found
                rows = await self._table.aattempt(self._table.select(), (self._key,))
                if rows is None:
                    return None
                if not rows:
                    break

    def _leads(self, rows: list[Any] | None, holder: uuid.UUID) -> bool:
        """Whether the insert's answer ends the contest: won, or failed (fail-open: no lease)."""
        if rows is None:
            return True
        if _applied(rows):
            self._holder = holder
            return True
        return False

    @property
    def held(self) -> bool:
        return self._holder is not None

    def release(self) -> None:
        holder, self._holder = self._holder, None
        if holder is not None:  # a failed delete is reported; the TTL removes the row anyway
            self._table.attempt(self._table.delete(), (self._key, holder))

    async def arelease(self) -> None:
        holder, self._holder = self._holder, None
        if holder is not None:
            await self._table.aattempt(self._table.delete(), (self._key, holder))


def _polls(seconds: float) -> Iterator[float]:
    """The pauses of a follower's polling: from 10 ms, backing off to 100 ms, for ``seconds``."""
    deadline = time.monotonic() + seconds
    pause = FIRST_POLL
    while time.monotonic() < deadline:
        yield pause
        pause = min(pause * _BACKOFF, MAX_POLL)


_TABLES: weakref.WeakKeyDictionary[BaseCache, LeaseTable] = weakref.WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()


def _table_for(cache: CassandraCache | CassandraSemanticCache) -> LeaseTable:
    with _TABLES_LOCK:
        table = _TABLES.get(cache)
        if table is None:
            session = getattr(cache, "_session", None) or cache._store.session  # noqa: SLF001
            table = LeaseTable(session, cache._keyspace)  # noqa: SLF001
            _TABLES[cache] = table
        return table


def lease_for(
    cache: BaseCache | None, prompt: str, llm_string: str, seconds: float, coalesce: str | None
) -> Lease | None:
    """The lease for one request, when coalescing across the cluster; else ``None``."""
    if coalesce != "cluster" or not isinstance(cache, (CassandraCache, CassandraSemanticCache)):
        return None
    digest = hashlib.sha256()
    for part in (
        getattr(cache, "_keyspace", ""),
        getattr(cache, "_table_name", ""),
        getattr(cache, "_namespace", ""),
        llm_string,
        prompt,
    ):
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return Lease(_table_for(cache), digest.digest(), seconds)
