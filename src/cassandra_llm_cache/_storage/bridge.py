"""From the driver's callback world to asyncio, without threads and without blocking.

- :func:`to_asyncio` turns a driver ``ResponseFuture`` into an asyncio future (one page of rows
  plus the paging state for the next one). Results cross threads with
  ``loop.call_soon_threadsafe``; a cancelled asyncio future, or a closed loop, never makes the
  driver's I/O thread raise, and an error is always delivered to a waiting coroutine.
- :func:`to_concurrent`, :func:`then` and :func:`gather` chain driver calls with plain callbacks
  (``concurrent.futures.Future`` as the thread-safe result cell, no executor): setup runs this
  way in the background, with or without an event loop. :func:`wait_async` awaits such a future
  from any event loop without blocking it.
- :func:`prepare` prepares a statement without blocking. The driver only has a blocking
  ``Session.prepare``; this sends the same ``PREPARE`` message through a ``ResponseFuture`` and
  finishes in a callback exactly as ``Session.prepare`` does after its blocking wait (build the
  ``PreparedStatement``, register it with the cluster for re-preparation, prepare it on the other
  hosts without waiting).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from cassandra.cluster import ResponseFuture
from cassandra.protocol import PrepareMessage
from cassandra.query import PreparedStatement

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from cassandra.cluster import Session

_log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")


class Page(NamedTuple):
    """One page of a result: its rows and, if more rows follow, the state to fetch them.

    A call the store did not complete under the fail-open policy returns an empty page whose
    ``error`` says why (a :class:`CacheOperationError`, its ``__cause__`` the driver's error);
    it is never raised.
    """

    rows: list[Any]
    paging_state: bytes | None
    error: BaseException | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


def _page(rows: Any, response_future: ResponseFuture) -> Page:
    # `_paging_state` is what the public `ResultSet.paging_state` reads; it is set before the
    # callbacks run, so reading it here (in the driver's thread) is consistent with `rows`.
    state = getattr(response_future, "_paging_state", None)
    return Page(rows if rows is not None else [], state)


# --- driver -> asyncio --------------------------------------------------------------------------


def to_asyncio(
    response_future: ResponseFuture, loop: asyncio.AbstractEventLoop
) -> asyncio.Future[Page]:
    """An asyncio future (of ``loop``) settled with the driver request's first page or error."""
    future: asyncio.Future[Page] = loop.create_future()
    response_future.add_callbacks(
        _on_rows,
        _on_error,
        callback_args=(response_future, loop, future),
        errback_args=(loop, future),
    )
    return future


def _on_rows(
    rows: Any,
    response_future: ResponseFuture,
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Page],
) -> None:
    # Runs in a driver thread (or inline, if the request already finished): never raise here,
    # the driver would log the error and drop it.
    try:
        page = _page(rows, response_future)
        loop.call_soon_threadsafe(_settle_result, future, page)
    except RuntimeError:  # the loop is closed: nobody is left to receive the result
        _log.debug("a Cassandra result arrived after its event loop closed")


def _on_error(
    exc: BaseException, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]
) -> None:
    try:
        loop.call_soon_threadsafe(_settle_exception, future, exc)
    except RuntimeError:
        _log.debug("a Cassandra error arrived after its event loop closed: %r", exc)


def _settle_result(future: asyncio.Future[T], value: T) -> None:
    if not future.done():  # cancelled while the request was in flight
        future.set_result(value)


def _settle_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
    else:
        _log.debug("dropped an error for a cancelled request: %r", exc)


# --- driver -> concurrent.futures, and chaining ---------------------------------------------------


def to_concurrent(response_future: ResponseFuture) -> concurrent.futures.Future[Page]:
    """A thread-safe future settled with the driver request's first page or error."""
    future: concurrent.futures.Future[Page] = concurrent.futures.Future()
    response_future.add_callbacks(
        lambda rows: _succeed(future, _page(rows, response_future)),
        lambda exc: _fail(future, exc),
    )
    return future


def _succeed(future: concurrent.futures.Future[T], value: T) -> None:
    try:
        future.set_result(value)
    except concurrent.futures.InvalidStateError:
        _log.debug("a result arrived for a settled future")


def _fail(future: concurrent.futures.Future[Any], exc: BaseException) -> None:
    try:
        future.set_exception(exc)
    except concurrent.futures.InvalidStateError:
        _log.debug("an error arrived for a settled future: %r", exc)


def completed(value: T) -> concurrent.futures.Future[T]:
    """A future that already holds ``value``."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()
    future.set_result(value)
    return future


def then(
    future: concurrent.futures.Future[T], step: Callable[[T], U]
) -> concurrent.futures.Future[U]:
    """Run ``step`` on ``future``'s result, in whichever thread settles it.

    An error in ``future``, or raised by ``step``, settles the returned future with that error.
    """
    return _then(future, step)


def chain(
    future: concurrent.futures.Future[T], step: Callable[[T], concurrent.futures.Future[U]]
) -> concurrent.futures.Future[U]:
    """Like :func:`then` for a ``step`` that starts more work: settles when that work does."""
    return _then(future, step)


def _then(
    future: concurrent.futures.Future[Any], step: Callable[[Any], Any]
) -> concurrent.futures.Future[Any]:
    out: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def on_done(source: concurrent.futures.Future[T]) -> None:
        error = source.exception()
        if error is not None:
            _fail(out, error)
            return
        try:
            value = step(source.result())
        except Exception as exc:  # noqa: BLE001 - every failure of a step belongs to `out`
            _fail(out, exc)
            return
        if isinstance(value, concurrent.futures.Future):
            value.add_done_callback(lambda inner: _copy(inner, out))
        else:
            _succeed(out, value)

    future.add_done_callback(on_done)
    return out


def _copy(source: concurrent.futures.Future[Any], target: concurrent.futures.Future[Any]) -> None:
    error = source.exception()
    if error is not None:
        _fail(target, error)
    else:
        _succeed(target, source.result())


def gather(
    futures: Sequence[concurrent.futures.Future[T]],
) -> concurrent.futures.Future[list[T]]:
    """All results in order, or the first error (the others still run to completion)."""
    out: concurrent.futures.Future[list[T]] = concurrent.futures.Future()
    if not futures:
        out.set_result([])
        return out
    remaining = [len(futures)]
    lock = threading.Lock()

    def on_done(source: concurrent.futures.Future[T]) -> None:
        error = source.exception()
        if error is not None:
            if not out.done():
                _fail(out, error)
            return
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last and not out.done():
            _succeed(out, [f.result() for f in futures])

    for future in futures:
        future.add_done_callback(on_done)
    return out


async def wait_async(future: concurrent.futures.Future[T]) -> T:
    """Await a thread-safe future without blocking the loop and without a thread.

    Cancelling the awaiting task does not cancel ``future`` (other callers may share it).
    """
    await settled(future)
    return future.result()


async def settled(future: concurrent.futures.Future[Any]) -> None:
    """Return once ``future`` is done (without raising its error); like :func:`wait_async`."""
    if not future.done():
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def wake(_: concurrent.futures.Future[T]) -> None:
            try:
                loop.call_soon_threadsafe(_settle_result, waiter, None)
            except RuntimeError:
                _log.debug("a background result arrived after its event loop closed")

        future.add_done_callback(wake)
        await waiter


# --- non-blocking preparation -------------------------------------------------------------------


def prepare(session: Session, query: str) -> concurrent.futures.Future[PreparedStatement]:
    """Prepare ``query`` on ``session`` without blocking the calling thread.

    Mirrors ``Session.prepare`` step for step, with its blocking wait replaced by a callback.
    """
    out: concurrent.futures.Future[PreparedStatement] = concurrent.futures.Future()
    response_future = ResponseFuture(
        session, PrepareMessage(query=query, keyspace=None), None, session.default_timeout
    )

    def on_prepared(response: Any) -> None:
        try:
            statement = _prepared_statement(session, query, response, response_future)
        except Exception as exc:  # noqa: BLE001 - delivered to the waiter, never lost
            _fail(out, exc)
            return
        _succeed(out, statement)
        if session.cluster.prepare_on_all_hosts:
            _prepare_on_other_hosts(session, query, response_future.coordinator_host)

    response_future.add_callbacks(on_prepared, lambda exc: _fail(out, exc))
    response_future.send_request()
    return out


def _prepared_statement(
    session: Session, query: str, response: Any, response_future: ResponseFuture
) -> PreparedStatement:
    query_id = getattr(response, "query_id", None)
    if query_id is None:
        msg = f"unexpected response to PREPARE: {type(response).__name__}"
        raise TypeError(msg)
    cluster = session.cluster
    statement = PreparedStatement.from_message(
        query_id,
        response.bind_metadata,
        response.pk_indexes,
        cluster.metadata,
        query,
        None,
        cluster.protocol_version,
        response.column_metadata,
        response.result_metadata_id,
        cluster.column_encryption_policy,
    )
    statement.custom_payload = response_future.custom_payload
    # Registered so the driver can re-prepare it on a host that restarted or never saw it.
    cluster.add_prepared(query_id, statement)
    return statement


def _prepare_on_other_hosts(session: Session, query: str, done_on: object) -> None:
    # Best effort, as in the driver: a host that misses it re-prepares on first use.
    for host in session.cluster.metadata.all_hosts():
        if host is done_on or not host.is_up:
            continue
        future = ResponseFuture(
            session,
            PrepareMessage(query=query, keyspace=None),
            None,
            session.default_timeout,
            host=host,
        )
        future.add_callbacks(_ignore, _log_prepare_error, errback_args=(host,))
        future.send_request()


def _ignore(_: object) -> None:
    return


def _log_prepare_error(exc: BaseException, host: object) -> None:
    _log.debug("preparing on %s failed (it will re-prepare on first use): %r", host, exc)
