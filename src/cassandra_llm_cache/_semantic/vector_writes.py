"""Vector inserts: a few in flight per cache, and retries of one known server failure.

Cassandra 5.0 (5.0.9 measured here) fails a write with a replica error ("WriteFailure ...
UNKNOWN", logged by the server as "Number of outstanding pooled objects has gone beyond the
limit") when more vector inserts than its vector index's graph pool allows (a handful, tied to
the CPU count) reach one table's memtable at the same moment (CASSANDRA-21644). A cache keeps
its own vector inserts to ``limit`` at a time and retries that failure a few times, with a
short jittered back-off, for the inserts of other clients it cannot coordinate with - whether
the store raised the failure or returned it in a fail-open page. Inserts are idempotent, so a
retry can never duplicate or corrupt an entry. The failure is retried whether
the store raised it (``on_error="raise"``) or returned it in a failed page (fail-open).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import weakref
from typing import TYPE_CHECKING, Final, TypeVar

from cassandra import WriteFailure

from cassandra_llm_cache._errors import CacheOperationError
from cassandra_llm_cache._storage.bridge import Page

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

T = TypeVar("T")

DEFAULT_LIMIT: Final = 2
ATTEMPTS: Final = 3
"""Tries per insert; kept below the circuit breaker's default of 5 consecutive failures."""
_FIRST_PAUSE: Final = 0.01


def _retryable(error: BaseException | None) -> bool:
    return error is not None and isinstance(error.__cause__, WriteFailure)


def _failed_retryably(result: object) -> bool:
    """A failed page (fail-open store) whose cause is worth a retry."""
    return isinstance(result, Page) and _retryable(result.error)


def _pause(attempt: int) -> float:
    # Jitter spreads the retries of concurrent writers apart; it is not security-relevant.
    return _FIRST_PAUSE * 2.0**attempt * (0.5 + random.random())  # noqa: S311


class VectorWriteGate:
    """Runs vector inserts ``limit`` at a time, retrying the server's pool-limit failure."""

    __slots__ = ("_async_gates", "_limit", "_lock", "_sync_gate")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = limit
        self._sync_gate = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._async_gates: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    def run(self, insert: Callable[[], T]) -> T:
        """Run ``insert`` (blocking) under the limit, retrying the known failure."""
        for attempt in range(ATTEMPTS):
            with self._sync_gate:
                try:
                    result = insert()
                except CacheOperationError as error:
                    if not _retryable(error) or attempt == ATTEMPTS - 1:
                        raise
                else:
                    if not _failed_retryably(result) or attempt == ATTEMPTS - 1:
                        return result
            time.sleep(_pause(attempt))
        raise AssertionError  # pragma: no cover - the loop returns or raises

    async def arun(self, insert: Callable[[], Awaitable[T]]) -> T:
        """Await ``insert`` under the limit (per event loop), retrying the known failure."""
        gate = self._async_gate()
        for attempt in range(ATTEMPTS):
            async with gate:
                try:
                    result = await insert()
                except CacheOperationError as error:
                    if not _retryable(error) or attempt == ATTEMPTS - 1:
                        raise
                else:
                    if not _failed_retryably(result) or attempt == ATTEMPTS - 1:
                        return result
            await asyncio.sleep(_pause(attempt))
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def _async_gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        with self._lock:
            gate = self._async_gates.get(loop)
            if gate is None:
                gate = asyncio.Semaphore(self._limit)
                self._async_gates[loop] = gate
            return gate
