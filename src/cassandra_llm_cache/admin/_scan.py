"""A full-table read in parallel token ranges, page by page, resumable per range.

The calling thread drives everything: it keeps up to ``concurrency`` range reads in flight
(driver futures, no threads of its own), hands each page to the sink, and asks for the next page
of that range only after the sink is done with the previous one, so memory stays bounded by
``concurrency`` pages whatever the table size. A page that fails is retried a few times; a range
is reported finished only after its last page was handled.
"""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from cassandra_llm_cache._errors import CacheOperationError
from cassandra_llm_cache._storage import bridge as _bridge
from cassandra_llm_cache._storage.store import DRIVER_ERRORS

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from cassandra.cluster import ExecutionProfile, Session
    from cassandra.query import PreparedStatement

    from cassandra_llm_cache.admin._ranges import TokenRange

PAGE_SIZE: Final = 500
PAGE_TIMEOUT: Final = 60.0
ATTEMPTS: Final = 4
RETRY_PAUSE: Final = 0.5


class RangeSink(Protocol):
    """Receives the rows of each range, in order within a range."""

    def page(self, token_range: TokenRange, rows: Sequence[Any]) -> None: ...

    def finished(self, token_range: TokenRange) -> None: ...


@dataclass
class _Cursor:
    token_range: TokenRange
    paging_state: bytes | None = None
    attempts: int = 0


def scan(
    session: Session,
    statement: PreparedStatement,
    ranges: Iterable[TokenRange],
    sink: RangeSink,
    *,
    profile: ExecutionProfile,
    concurrency: int = 8,
    page_size: int = PAGE_SIZE,
    where: str,
) -> None:
    """Read ``statement`` (bound to each range's start and end) over every range into ``sink``."""
    statement.fetch_size = page_size
    pending = iter(ranges)
    in_flight: dict[concurrent.futures.Future[_bridge.Page], _Cursor] = {}

    def send(cursor: _Cursor) -> None:
        values = (cursor.token_range.start, cursor.token_range.end)
        response = session.execute_async(
            statement,
            values,
            timeout=PAGE_TIMEOUT,
            execution_profile=profile,
            paging_state=cursor.paging_state,
        )
        in_flight[_bridge.to_concurrent(response)] = cursor

    def start_next() -> None:
        token_range = next(pending, None)
        if token_range is not None:
            send(_Cursor(token_range))

    for _ in range(max(1, concurrency)):
        start_next()
    while in_flight:
        done, _ = concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
        for future in done:
            cursor = in_flight.pop(future)
            try:
                page = future.result()
            except DRIVER_ERRORS as exc:
                _retry_or_fail(cursor, exc, in_flight, where)
                send(cursor)
                continue
            cursor.attempts = 0
            if page.rows:
                sink.page(cursor.token_range, page.rows)
            if page.paging_state is not None:
                cursor.paging_state = page.paging_state
                send(cursor)
            else:
                sink.finished(cursor.token_range)
                start_next()


def _retry_or_fail(
    cursor: _Cursor,
    exc: BaseException,
    in_flight: dict[concurrent.futures.Future[_bridge.Page], _Cursor],
    where: str,
) -> None:
    """Pause before another attempt at a failed page; raise after the last attempt."""
    cursor.attempts += 1
    if cursor.attempts >= ATTEMPTS:
        _drain(in_flight)
        msg = (
            f"reading token range {cursor.token_range.index} of {where} failed "
            f"{ATTEMPTS} times: {type(exc).__name__}: {str(exc)[:300]}"
        )
        raise CacheOperationError(msg) from exc
    time.sleep(RETRY_PAUSE * cursor.attempts)


def _drain(in_flight: dict[concurrent.futures.Future[_bridge.Page], _Cursor]) -> None:
    # Let requests already sent finish before the session is closed under them.
    concurrent.futures.wait(in_flight, timeout=PAGE_TIMEOUT)
    in_flight.clear()
