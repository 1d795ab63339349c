"""The one place where the caches talk to Cassandra.

Every database call a cache makes goes through :meth:`Store.execute` (sync) or
:meth:`Store.aexecute` (async) - the bulk helpers and clears below are built on the same
primitives - so this is where driver errors become :class:`CacheOperationError` (with
``raise ... from``) and are counted, and where the cache's :class:`Resilience` options wrap
every call. Statements are always prepared (see ``_storage.setup``); rows come back as plain tuples
through the cache's own execution profile.

The resilience options, applied here for both caches and both paths:

- ``lookup`` and ``update`` calls fail open under ``on_error="miss"``: a failure returns an empty
  :class:`Page` whose ``error`` says why (logged once at WARNING without content, counted);
  ``delete``, ``clear`` and ``search`` are explicit calls and always raise.
- ``request_timeout`` bounds ``lookup``, ``update``, ``delete`` and ``search`` requests (the
  driver's timer covers its retries and speculative executions); clears keep theirs.
- the circuit breaker gates ``lookup`` and ``update`` (while open they are not sent: a miss, or
  :class:`CacheOperationError` under ``on_error="raise"``); every call's outcome feeds it.
- an ``update`` whose values exceed ``max_value_bytes`` is not sent (a warning and a counter).
- :meth:`Store.adopt` gives the prepared statements their read or write consistency level.
- :meth:`Store.ready` waits for setup; under the miss policy a failed setup makes calls misses
  and no-ops, and is retried in the background after a back-off.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cassandra import CoordinationFailure, DriverException, Unavailable
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionException
from cassandra.protocol import ErrorMessage

from cassandra_llm_cache._errors import CacheOperationError, SetupError
from cassandra_llm_cache._policy.resilience import Resilience, setup_retry_delay, write_size
from cassandra_llm_cache._storage.bridge import Page, to_asyncio, to_concurrent
from cassandra_llm_cache._storage.rows import profile_for_call

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from cassandra.cluster import ExecutionProfile, ResponseFuture, Session
    from cassandra.query import PreparedStatement

    from cassandra_llm_cache._storage.setup import Ready, Setup

_log = logging.getLogger(__name__)

DRIVER_ERRORS: Final = (DriverException, NoHostAvailable, ConnectionException, ErrorMessage)
# A lookup or update that fails because a node went away (its connection closed under the request,
# or a replica failed or was unavailable) is sent once more: both are idempotent, and by then the
# driver has marked the host down, so the second attempt has another coordinator. Timeouts are not
# resent: that would double the caller's time bound.
NODE_LOST_ERRORS: Final = (ConnectionException, NoHostAvailable, CoordinationFailure, Unavailable)
"""What the driver raises (or settles futures with) when a request fails."""
BULK_CONCURRENCY: Final = 32
"""Requests in flight at once in bulk operations (clears)."""
TRUNCATE_TIMEOUT: Final = 120.0
_MAX_DETAIL: Final = 300
FAIL_OPEN_OPERATIONS: Final = frozenset({"lookup", "update"})
"""Operations that become a miss / no-op on failure under ``on_error="miss"``."""
_UNBOUNDED_OPERATIONS: Final = frozenset({"clear"})
"""Operations that keep the execution profile's timeout instead of ``request_timeout``."""
_WRITE_VERBS: Final = frozenset({"INSERT", "UPDATE", "DELETE"})
_BREAKER_OPEN: Final = CacheOperationError("not sent: the circuit breaker is open")
_OVERSIZED: Final = CacheOperationError("not sent: the value is over max_value_bytes")
_SKIPPED_PAGE: Final = Page([], None, _BREAKER_OPEN)
_OVERSIZED_PAGE: Final = Page([], None, _OVERSIZED)


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

    __slots__ = (
        "_breaker",
        "_fail_open",
        "_lock",
        "_max_bytes",
        "_observe",
        "_on_error",
        "_on_oversized",
        "_on_skipped",
        "_policy",
        "_profile",
        "_reported",
        "_session",
        "_setup_failure",
        "_setup_failures",
        "_setup_retry_at",
        "_setup_retrying",
        "_timeout",
        "_where",
    )

    def __init__(
        self,
        session: Session,
        profile: ExecutionProfile,
        *,
        where: str,
        policy: Resilience | None = None,
        on_error: Callable[[], None] | None = None,
        on_skipped: Callable[[], None] | None = None,
        on_oversized: Callable[[], None] | None = None,
        observe: Callable[[str, float, BaseException | None], None] | None = None,
    ) -> None:
        self._session = session
        self._profile = profile
        self._where = where
        self._policy = policy = policy if policy is not None else Resilience()
        self._fail_open = policy.fail_open
        self._timeout = policy.request_timeout
        self._breaker = policy.breaker
        self._max_bytes = policy.max_value_bytes
        self._on_error = on_error
        self._on_skipped = on_skipped
        self._on_oversized = on_oversized
        # Told each call's operation, duration and error, if any (StatsRecorder.observe).
        self._observe = observe
        self._lock = threading.Lock()
        self._reported: set[tuple[str, str]] = set()
        self._setup_failure: BaseException | None = None
        self._setup_failures = 0
        self._setup_retry_at = 0.0
        self._setup_retrying = False

    @property
    def session(self) -> Session:
        return self._session

    @property
    def policy(self) -> Resilience:
        return self._policy

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
        """Run ``statement`` and wait for its (first page of) rows.

        A failed ``lookup``/``update`` under the miss policy returns a failed empty page (see
        :class:`Page`); anything else that fails raises :class:`CacheOperationError`.
        """
        # A lookup without a circuit breaker has nothing to refuse: skip the call (every sync hit).
        if operation in FAIL_OPEN_OPERATIONS and (
            self._breaker is not None or operation == "update"
        ):
            refused = self._refused(operation, values)
            if refused is not None:
                return refused
        if timeout is None and operation not in _UNBOUNDED_OPERATIONS:
            timeout = self._timeout
        began = time.perf_counter()
        try:
            try:
                result = self._send(statement, values, paging_state, timeout).result()
            except NODE_LOST_ERRORS:
                if operation not in FAIL_OPEN_OPERATIONS:
                    raise
                result = self._send(statement, values, paging_state, timeout).result()
        except DRIVER_ERRORS as exc:
            return self._failure(operation, began, exc)
        except Exception as exc:
            if not (self._fail_open and operation in FAIL_OPEN_OPERATIONS):
                raise
            return self._failure(operation, began, exc)
        self._succeeded(operation, began)
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
        if operation in FAIL_OPEN_OPERATIONS:
            refused = self._refused(operation, values)
            if refused is not None:
                return refused
        if timeout is None and operation not in _UNBOUNDED_OPERATIONS:
            timeout = self._timeout
        loop = asyncio.get_running_loop()
        began = time.perf_counter()
        try:
            try:
                page = await to_asyncio(self._send(statement, values, paging_state, timeout), loop)
            except NODE_LOST_ERRORS:
                if operation not in FAIL_OPEN_OPERATIONS:
                    raise
                page = await to_asyncio(self._send(statement, values, paging_state, timeout), loop)
        except DRIVER_ERRORS as exc:
            return self._failure(operation, began, exc)
        except Exception as exc:
            if not (self._fail_open and operation in FAIL_OPEN_OPERATIONS):
                raise
            return self._failure(operation, began, exc)
        self._succeeded(operation, began)
        return page

    def submit(
        self, statement: PreparedStatement, values: Sequence[object] = (), *, operation: str
    ) -> concurrent.futures.Future[Page]:
        """Send ``statement`` and return at once; the future always settles with a :class:`Page`.

        For background reads nobody waits for (the near cache's epoch reads): the call blocks
        neither a thread nor an event loop, the driver's callback settles the future, and a
        failure - or a call the circuit breaker holds back - is a failed page, counted and
        logged once like any other, never raised. ``request_timeout`` bounds it.
        """
        out: concurrent.futures.Future[Page] = concurrent.futures.Future()
        breaker = self._breaker
        if breaker is not None and not breaker.allow():
            out.set_result(_SKIPPED_PAGE)
            return out
        began = time.perf_counter()
        try:
            sent = to_concurrent(self._send(statement, values, None, self._timeout))
        except DRIVER_ERRORS as exc:
            out.set_result(self._background_failure(operation, began, exc))
            return out

        def settle(done: concurrent.futures.Future[Page]) -> None:
            error = done.exception()
            if error is None:
                self._succeeded(operation, began)
                out.set_result(done.result())
            else:
                out.set_result(self._background_failure(operation, began, error))

        sent.add_done_callback(settle)
        return out

    def _background_failure(self, operation: str, began: float, exc: BaseException) -> Page:
        self._observed(operation, began, exc)
        error = self._failed(operation, exc)
        error.__cause__ = exc
        breaker = self._breaker
        if breaker is not None:
            breaker.record_failure()
        self._report((operation, type(exc).__name__), str(error))
        return Page([], None, error)

    # --- the policy around every call -----------------------------------------------------------

    def _refused(self, operation: str, values: Sequence[object]) -> Page | None:
        """The page of a call that must not be sent (too large, breaker open), else ``None``."""
        limit = self._max_bytes
        if operation == "update" and limit is not None:
            size = write_size(values)
            if size > limit:
                if self._on_oversized is not None:
                    self._on_oversized()
                self._report(
                    ("oversized", ""),
                    f"a value of {size} bytes was not cached in {self._where}: over "
                    f"max_value_bytes={limit}",
                )
                return _OVERSIZED_PAGE
        breaker = self._breaker
        if breaker is None or breaker.allow():
            return None
        if self._on_skipped is not None:
            self._on_skipped()
        if self._fail_open:
            return _SKIPPED_PAGE
        msg = (
            f"{operation} on {self._where} not sent: the circuit breaker is open after "
            f"{breaker.failure_threshold} consecutive failures (next try within "
            f"{breaker.cool_down:g} s)"
        )
        raise CacheOperationError(msg)

    def _succeeded(self, operation: str, began: float) -> None:
        if self._observe is not None:
            self._observe(operation, time.perf_counter() - began, None)
        breaker = self._breaker
        if breaker is not None and breaker.record_success():
            _log.warning("the database answers again: %s is back in use", self._where)

    def _failure(self, operation: str, began: float, exc: Exception) -> Page:
        """Count and report a failed call; its failed page (fail-open) or the error to raise."""
        self._observed(operation, began, exc)
        error = self._failed(operation, exc)
        error.__cause__ = exc
        breaker = self._breaker
        if breaker is not None and breaker.record_failure():
            _log.warning(
                "%d consecutive failures on %s: lookups and updates are not sent for %g s "
                "(circuit breaker open)",
                breaker.failure_threshold,
                self._where,
                breaker.cool_down,
            )
        if self._fail_open and operation in FAIL_OPEN_OPERATIONS:
            outcome = "a miss" if operation == "lookup" else "not cached"
            self._report((operation, type(exc).__name__), f"{error} ({outcome})")
            return Page([], None, error)
        raise error from exc

    def _report(self, key: tuple[str, str], message: str) -> None:
        # Each kind of failure is logged once at WARNING, then at DEBUG; messages carry no
        # prompt, response or credentials.
        if key in self._reported:
            _log.debug(message)
            return
        self._reported.add(key)
        _log.warning("%s (further occurrences are logged at DEBUG)", message)

    def adopt(self, statements: Mapping[str, PreparedStatement]) -> None:
        """Give the cache's prepared statements their read or write consistency level.

        Set on the statements themselves, so it holds whatever the execution profile says (and
        in the driver's legacy configuration too); statements are never shared between caches.
        """
        policy = self._policy
        for statement in statements.values():
            verb = statement.query_string.lstrip()[:6].upper()
            if verb == "SELECT":
                statement.consistency_level = policy.read_consistency
            elif verb in _WRITE_VERBS:
                statement.consistency_level = policy.write_consistency

    # --- setup ----------------------------------------------------------------------------------

    def ready(self, setup: Setup) -> Ready | None:
        """Wait for ``setup``. Under the miss policy a failure is ``None`` (see :meth:`_unready`);
        otherwise it raises :class:`SetupError`."""
        if not self._fail_open:
            return setup.wait()
        if self._setup_retrying and not setup.done():
            self._unready(setup, None)  # a background retry: do not wait for it
            return None
        try:
            return setup.wait()
        except SetupError as error:
            self._unready(setup, error)
            return None

    async def aready(self, setup: Setup) -> Ready | None:
        """Async :meth:`ready`; never blocks the event loop."""
        if not self._fail_open:
            return await setup.wait_async()
        if self._setup_retrying and not setup.done():
            self._unready(setup, None)
            return None
        try:
            return await setup.wait_async()
        except SetupError as error:
            self._unready(setup, error)
            return None

    def _unready(self, setup: Setup, error: SetupError | None) -> None:
        """A call made while setup is failed (or being retried): counted as skipped; each failed
        run is counted as an error, logged, and retried after a growing back-off."""
        now = time.monotonic()
        retry = False
        new_failure = False
        with self._lock:
            cause = error.__cause__ if error is not None else None
            if error is not None and cause is not self._setup_failure:
                self._setup_failure = cause
                self._setup_failures += 1
                self._setup_retry_at = now + setup_retry_delay(self._setup_failures)
                self._setup_retrying = False
                new_failure = True
            elif error is not None and now >= self._setup_retry_at:
                self._setup_retry_at = float("inf")  # until this retry fails
                self._setup_retrying = retry = True
        if new_failure:
            if self._on_error is not None:
                self._on_error()
            delay = setup_retry_delay(self._setup_failures)
            self._report(
                ("setup", ""),
                f"the cache on {self._where} is not usable yet, lookups are misses and updates "
                f"are skipped until its setup succeeds (retried after {delay:g} s): {error}",
            )
        if retry:
            setup.retry()
        if self._on_skipped is not None:
            self._on_skipped()

    def _observed(self, operation: str, began: float, error: BaseException | None) -> None:
        if self._observe is not None:
            self._observe(operation, time.perf_counter() - began, error)

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
