"""The one place where the caches talk to Cassandra.

Every database call a cache makes goes through :meth:`Store.execute` (sync) or
:meth:`Store.aexecute` (async) - the bulk helpers and clears below are built on the same
primitives - so this is where driver errors become :class:`CacheOperationError` (with
``raise ... from``) and are counted, and where an error policy, timeouts or a circuit breaker
wrap every call. Statements are always prepared (see ``_setup``); rows come back as plain tuples
through the cache's own execution profile.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cassandra import DriverException
from cassandra.cluster import EXEC_PROFILE_DEFAULT, NoHostAvailable, _ConfigMode
from cassandra.connection import ConnectionException
from cassandra.protocol import ErrorMessage

from cassandra_llm_cache._bridge import Page, to_asyncio
from cassandra_llm_cache._errors import CacheOperationError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from cassandra.cluster import ExecutionProfile, ResponseFuture, Session
    from cassandra.query import PreparedStatement

DRIVER_ERRORS: Final = (DriverException, NoHostAvailable, ConnectionException, ErrorMessage)
"""What the driver raises (or settles futures with) when a request fails."""
BULK_CONCURRENCY: Final = 32
"""Requests in flight at once in bulk operations (clears)."""
TRUNCATE_TIMEOUT: Final = 120.0
_MAX_DETAIL: Final = 300


def profile_for_call(session: Session, profile: ExecutionProfile) -> object:
    """``profile``, unless the session uses the driver's legacy (profile-less) configuration."""
    # A cluster configured with legacy parameters refuses execution profiles; it can switch to
    # that mode after the cache was built, so this is checked on each call (one attribute read).
    if session.cluster._config_mode == _ConfigMode.LEGACY:  # noqa: SLF001
        return EXEC_PROFILE_DEFAULT
    return profile


def first_value(row: Any) -> Any:
    """The first column of a row (a tuple here; a dict if a legacy session says so)."""
    return row[0] if isinstance(row, tuple) else next(iter(row.values()))


def row_values(row: Any) -> tuple[Any, ...]:
    """All columns of a row, in order."""
    return tuple(row) if isinstance(row, tuple) else tuple(row.values())


@dataclass(frozen=True)
class ClearPlan:
    """How to empty (part of) a table: one TRUNCATE, or a paged scan of keys then deletes."""

    truncate: PreparedStatement | None = None
    scan: PreparedStatement | None = None
    scan_values: tuple[object, ...] = ()
    delete: PreparedStatement | None = None
    to_delete: Callable[[Sequence[Any]], list[tuple[object, ...]]] | None = None
    """From a page of scanned rows, the bind values of the deletes to run."""


class Store:
    """Runs prepared statements for one cache table; the sync and async paths share everything
    but the driver call."""

    __slots__ = ("_on_error", "_profile", "_session", "_where")

    def __init__(
        self,
        session: Session,
        profile: ExecutionProfile,
        *,
        where: str,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self._session = session
        self._profile = profile
        self._where = where
        self._on_error = on_error

    @property
    def session(self) -> Session:
        return self._session

    # --- the two primitives ---------------------------------------------------------------------

    def execute(
        self,
        statement: PreparedStatement,
        values: Sequence[object] = (),
        *,
        operation: str,
        paging_state: bytes | None = None,
        timeout: float | None = None,
    ) -> Page:
        """Run ``statement`` and wait for its (first page of) rows."""
        try:
            result = self._send(statement, values, paging_state, timeout).result()
        except DRIVER_ERRORS as exc:
            raise self._failed(operation, exc) from exc
        return Page(result.current_rows, result.paging_state)

    async def aexecute(
        self,
        statement: PreparedStatement,
        values: Sequence[object] = (),
        *,
        operation: str,
        paging_state: bytes | None = None,
        timeout: float | None = None,
    ) -> Page:
        """Run ``statement`` and await its (first page of) rows without blocking the loop."""
        loop = asyncio.get_running_loop()
        try:
            return await to_asyncio(self._send(statement, values, paging_state, timeout), loop)
        except DRIVER_ERRORS as exc:
            raise self._failed(operation, exc) from exc

    def _send(
        self,
        statement: PreparedStatement,
        values: Sequence[object],
        paging_state: bytes | None,
        timeout: float | None,
    ) -> ResponseFuture:
        profile = profile_for_call(self._session, self._profile)
        if timeout is None:
            return self._session.execute_async(
                statement, values, execution_profile=profile, paging_state=paging_state
            )
        return self._session.execute_async(
            statement, values, timeout=timeout, execution_profile=profile, paging_state=paging_state
        )

    def _failed(self, operation: str, exc: BaseException) -> CacheOperationError:
        if self._on_error is not None:
            self._on_error()
        detail = str(exc)
        if len(detail) > _MAX_DETAIL:
            detail = detail[:_MAX_DETAIL] + "..."
        return CacheOperationError(
            f"{operation} on {self._where} failed: {type(exc).__name__}: {detail}"
        )

    # --- bulk operations, on the same primitives -------------------------------------------------

    def execute_many(
        self,
        statement: PreparedStatement,
        values: Iterable[Sequence[object]],
        *,
        operation: str,
        concurrency: int = BULK_CONCURRENCY,
    ) -> None:
        """Run ``statement`` once per set of values, ``concurrency`` requests in flight at most."""
        in_flight: collections.deque[ResponseFuture] = collections.deque()
        try:
            for one in values:
                in_flight.append(self._send(statement, one, None, None))
                if len(in_flight) >= concurrency:
                    in_flight.popleft().result()
            while in_flight:
                in_flight.popleft().result()
        except DRIVER_ERRORS as exc:
            raise self._failed(operation, exc) from exc

    async def aexecute_many(
        self,
        statement: PreparedStatement,
        values: Iterable[Sequence[object]],
        *,
        operation: str,
        concurrency: int = BULK_CONCURRENCY,
    ) -> None:
        """Async :meth:`execute_many`."""
        limit = asyncio.Semaphore(concurrency)

        async def run(one: Sequence[object]) -> None:
            async with limit:
                await self.aexecute(statement, one, operation=operation)

        await asyncio.gather(*(run(one) for one in values))

    def clear(self, plan: ClearPlan) -> None:
        """Carry out ``plan``."""
        if plan.truncate is not None:
            self.execute(plan.truncate, operation="clear", timeout=TRUNCATE_TIMEOUT)
            return
        assert plan.scan is not None
        assert plan.delete is not None
        assert plan.to_delete is not None
        paging_state = None
        while True:
            page = self.execute(
                plan.scan, plan.scan_values, operation="clear", paging_state=paging_state
            )
            self.execute_many(plan.delete, plan.to_delete(page.rows), operation="clear")
            paging_state = page.paging_state
            if paging_state is None:
                return

    async def aclear(self, plan: ClearPlan) -> None:
        """Async :meth:`clear`."""
        if plan.truncate is not None:
            await self.aexecute(plan.truncate, operation="clear", timeout=TRUNCATE_TIMEOUT)
            return
        assert plan.scan is not None
        assert plan.delete is not None
        assert plan.to_delete is not None
        paging_state = None
        while True:
            page = await self.aexecute(
                plan.scan, plan.scan_values, operation="clear", paging_state=paging_state
            )
            await self.aexecute_many(plan.delete, plan.to_delete(page.rows), operation="clear")
            paging_state = page.paging_state
            if paging_state is None:
                return
