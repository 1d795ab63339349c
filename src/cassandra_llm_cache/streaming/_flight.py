"""In-process single-flight: concurrent identical requests share one lookup and one model call.

A *flight* resolves one key (cache, llm_string, prompt): it looks the key up and, on a miss, calls
the model, stores the answer and publishes it. Its *source* is a generator of events - ``Hit``,
or the model's ``Chunk``\\ s then ``Done`` - and every caller asking for the key while the flight
is running subscribes to it: a late joiner first gets the events so far, then the rest live.
Callers may be threads, asyncio tasks (of any event loop), or both at once.

Who runs the source:

- a sync source (the model's ``_stream``/``_generate``) is advanced by whichever sync subscriber
  needs the next event and finds nobody advancing it, in that subscriber's own thread: when the
  caller that started it stops listening, another one simply goes on with the same model call;
- an async source runs in a task on the event loop of the caller that started it; the task keeps
  running while anybody listens, and is cancelled when the last subscriber leaves.

Waiting never blocks an event loop: async subscribers wait on a future of their own loop, which
the publisher completes with ``call_soon_threadsafe``; sync subscribers wait on a condition.

When the model (or the cache, under ``on_error="raise"``) raises, the caller in whose thread or
task it happened gets the exception unchanged; for a task, that is the caller that started the
flight. Nobody else gets it: the other subscribers start over (one of them leads a new flight), so
each caller runs the model at most once, as it would without coalescing. A subscriber that has
already handed part of a stream to its caller cannot start over; it raises
:class:`CoalescedCallError`, whose ``__cause__`` is the model's exception. The same holds when a
flight cannot go on (its sync callers all left while async callers wait, or its loop was closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from cassandra_llm_cache._errors import CoalescedCallError

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator

    from langchain_core.outputs import Generation

Key = tuple[int, str, str]

_LOOP_CHECK_SECONDS: Final = 0.5
"""How often a caller waiting on another thread's event loop checks that the loop still runs."""


class Hit(NamedTuple):
    """The cache had the answer: the stored generations (with their recording, if any)."""

    generations: list[Generation]


class Chunk(NamedTuple):
    """A chunk the model streamed (shared: subscribers copy it before handing it out)."""

    chunk: Generation


class Done(NamedTuple):
    """The model answered and the answer was offered to the cache: what was stored."""

    generations: list[Generation]
    llm_output: dict[str, Any] | None = None


Event = Hit | Chunk | Done


class _Restart(Exception):  # noqa: N818 - a signal, not an error
    """The flight ended without an answer for this subscriber: start over."""

    def __init__(self, cause: BaseException | None) -> None:
        super().__init__()
        self.cause = cause


class Flight:
    """One key being resolved; see the module docstring."""

    def __init__(self, registry: Registry, key: Key) -> None:
        self._registry = registry
        self._key = key
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._events: list[Event] = []
        self._over = False  # a terminal event was published, or the flight failed
        self._failed = False
        self._error: BaseException | None = None
        self._owner: object = None  # the subscriber the error belongs to
        self._source: Iterator[Event] | None = None
        self._advancing = False
        self._advancer: int | None = None  # the thread advancing the sync source
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync_subscribers = 0
        self._async_subscribers = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    # --- starting ---------------------------------------------------------------------------------

    def start_sync(self, source: Iterator[Event]) -> None:
        with self._lock:
            self._source = source

    def start_async(self, source: AsyncIterator[Event], owner: object) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            self._loop = loop
            self._task = loop.create_task(self._drive(source, owner))

    async def _drive(self, source: AsyncIterator[Event], owner: object) -> None:
        try:
            async for event in source:
                self._publish(event)
                # Let the subscribers take what was just published before the next chunk: a
                # model whose stream does not await between chunks would otherwise run to its
                # end first, and the first chunk would reach callers last.
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            self._fail(None, owner=None)
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the owner, see _outcome
            self._fail(exc, owner=owner)
        except BaseException as exc:
            self._fail(exc, owner=owner)
            raise
        else:
            self._fail(RuntimeError("the source ended without an answer"), owner=owner)

    # --- joining and leaving ----------------------------------------------------------------------

    def _accepts(self, *, sync: bool) -> bool:
        """Whether a new subscriber may join (called under the registry's lock)."""
        with self._lock:
            if self._over:
                return False
            if sync and (
                (self._loop is not None and _running_loop() is self._loop)
                or (self._advancing and self._advancer == threading.get_ident())
            ):
                return False  # waiting would block what it waits for (this loop, this thread)
            self._count(sync=sync, delta=1)
            return True

    def _count(self, *, sync: bool, delta: int) -> None:
        if sync:
            self._sync_subscribers += delta
        else:
            self._async_subscribers += delta

    def leave(self, *, sync: bool) -> None:
        """A subscriber is gone; stop the model call if nobody is left to carry it on."""
        to_close: Iterator[Event] | None = None
        to_cancel: asyncio.Task[None] | None = None
        with self._lock:
            self._count(sync=sync, delta=-1)
            if self._over:
                return
            if self._source is not None and self._sync_subscribers == 0:
                to_close, self._source = self._source, None
            elif self._task is not None and self._sync_subscribers + self._async_subscribers == 0:
                to_cancel = self._task
            else:
                return
            waiters = self._end_locked(None, owner=None)
        self._registry.discard(self._key, self)
        _wake(waiters)
        if to_close is not None:
            close = getattr(to_close, "close", None)
            if close is not None:
                close()
        if to_cancel is not None:
            _cancel(to_cancel, self._loop)

    # --- publishing -------------------------------------------------------------------------------

    def _publish(self, event: Event) -> None:
        terminal = isinstance(event, (Hit, Done))
        with self._lock:
            if self._over:
                return
            self._events.append(event)
            self._advancing = False
            if terminal:
                self._over = True
                self._source = None
            waiters, self._waiters = self._waiters, []
            self._changed.notify_all()
        if terminal:
            self._registry.discard(self._key, self)
        _wake(waiters)

    def _fail(self, error: BaseException | None, *, owner: object) -> None:
        with self._lock:
            if self._over:
                return
            waiters = self._end_locked(error, owner=owner)
        self._registry.discard(self._key, self)
        _wake(waiters)

    def _end_locked(
        self, error: BaseException | None, *, owner: object
    ) -> list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]:
        self._over = self._failed = True
        self._error = error
        self._owner = owner
        self._advancing = False
        self._source = None
        waiters, self._waiters = self._waiters, []
        self._changed.notify_all()
        return waiters

    def _outcome(self, me: object) -> BaseException:
        if self._error is not None and me is self._owner:
            return self._error
        return _Restart(self._error)

    # --- following --------------------------------------------------------------------------------

    def follow(self, me: object) -> Iterator[Event]:
        """The flight's events for a sync subscriber, advancing the source when it is idle."""
        seen = 0
        while True:
            event, source = self._next_step(seen, me)
            if event is not None:
                seen += 1
                yield event
                if isinstance(event, (Hit, Done)):
                    return
            elif source is not None:
                self._advance(source, me)
            else:  # the loop running the model call is gone
                self._fail(None, owner=None)

    def _next_step(self, seen: int, me: object) -> tuple[Event | None, Iterator[Event] | None]:
        """The next event, or the source to advance, or neither (the flight's loop is closed)."""
        with self._changed:
            while True:
                if seen < len(self._events):
                    return self._events[seen], None
                if self._failed:
                    raise self._outcome(me)
                if self._source is not None and not self._advancing:
                    self._advancing = True
                    self._advancer = threading.get_ident()
                    return None, self._source
                if self._loop is None:
                    self._changed.wait()
                elif not self._changed.wait(_LOOP_CHECK_SECONDS) and self._loop.is_closed():
                    return None, None

    def _advance(self, source: Iterator[Event], me: object) -> None:
        try:
            event = next(source)
        except StopIteration:
            error = RuntimeError("the source ended without an answer")
            self._fail(error, owner=me)
            raise error from None
        except BaseException as exc:
            self._fail(exc, owner=me)
            raise
        self._publish(event)

    async def afollow(self, me: object) -> AsyncIterator[Event]:
        """The flight's events for an async subscriber (never blocks its event loop)."""
        loop = asyncio.get_running_loop()
        seen = 0
        while True:
            event: Event | None = None
            with self._lock:
                if seen < len(self._events):
                    event = self._events[seen]
                elif self._failed:
                    raise self._outcome(me)
                else:
                    waiter: asyncio.Future[None] = loop.create_future()
                    self._waiters.append((loop, waiter))
                    driver_loop = self._loop
            if event is None:
                if driver_loop is None or driver_loop is loop:
                    await waiter
                else:
                    await self._await_other_loop(waiter, driver_loop)
                continue
            seen += 1
            yield event
            if isinstance(event, (Hit, Done)):
                return

    async def _await_other_loop(
        self, waiter: asyncio.Future[None], driver_loop: asyncio.AbstractEventLoop
    ) -> None:
        while not waiter.done():
            await asyncio.wait({waiter}, timeout=_LOOP_CHECK_SECONDS)
            if not waiter.done() and driver_loop.is_closed():
                self._fail(None, owner=None)


class Registry:
    """The flights in progress, by key (one registry per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Key, Flight] = {}

    def join(self, key: Key, *, sync: bool) -> tuple[Flight | None, bool]:
        """The flight to follow and whether the caller must start it.

        ``(None, False)``: the running flight is driven by the caller's own event loop, which a
        sync caller would block: it must run on its own.
        """
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                if flight._accepts(sync=sync):  # noqa: SLF001 - same module
                    return flight, False
                if not flight._over:  # noqa: SLF001
                    return None, False
            flight = Flight(self, key)
            flight._count(sync=sync, delta=1)  # noqa: SLF001
            self._flights[key] = flight
            return flight, True

    def discard(self, key: Key, flight: Flight) -> None:
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._flights)


REGISTRY: Final = Registry()


class _Follower:
    """One caller following flights until one answers it: what ``run`` and ``arun`` share.

    A flight that ends without an answer for this caller (``_Restart``) is followed by a new one,
    unless part of a stream was already handed out: then the caller gets
    :class:`CoalescedCallError`. Either way the caller leaves each flight it joined.
    """

    __slots__ = ("_streamed", "_streaming", "me", "restarting")

    def __init__(self, *, streaming: bool) -> None:
        self.me = object()
        self._streaming = streaming
        self._streamed = False
        self.restarting = False

    def seen(self, event: Event) -> Event:
        """``event``, noted on its way to the caller."""
        self._streamed = self._streamed or (self._streaming and isinstance(event, Chunk))
        return event

    @contextlib.contextmanager
    def attempt(self, flight: Flight, *, sync: bool) -> Iterator[None]:
        """Following ``flight`` once; afterwards ``restarting`` says whether to start over."""
        self.restarting = False
        try:
            yield
        except _Restart as restart:
            if self._streamed:
                raise _interrupted(restart.cause) from restart.cause
            self.restarting = True
        finally:
            flight.leave(sync=sync)


def run(
    key: Key,
    make_source: Callable[[], Iterator[Event]],
    *,
    coalesce: bool,
    streaming: bool,
    registry: Registry = REGISTRY,
) -> Generator[Event, None, None]:
    """The events answering ``key`` for a sync caller; shared with concurrent callers if asked.

    ``streaming``: the caller hands chunks out as they come (then it cannot start over once it
    has handed one out).
    """
    if not coalesce:
        yield from make_source()
        return
    follower = _Follower(streaming=streaming)
    while True:
        flight, start = registry.join(key, sync=True)
        if flight is None:
            yield from make_source()
            return
        with follower.attempt(flight, sync=True):
            if start:
                flight.start_sync(make_source())
            for event in flight.follow(follower.me):
                yield follower.seen(event)
        if not follower.restarting:
            return


async def arun(
    key: Key,
    make_source: Callable[[], AsyncIterator[Event]],
    *,
    coalesce: bool,
    streaming: bool,
    registry: Registry = REGISTRY,
) -> AsyncGenerator[Event, None]:
    """The events answering ``key`` for an async caller; shared with concurrent callers if asked."""
    if not coalesce:
        async for event in make_source():
            yield event
        return
    follower = _Follower(streaming=streaming)
    while True:
        flight, start = registry.join(key, sync=False)
        assert flight is not None  # only sync callers are turned away
        with follower.attempt(flight, sync=False):
            if start:
                flight.start_async(make_source(), follower.me)
            async for event in flight.afollow(follower.me):
                yield follower.seen(event)
        if not follower.restarting:
            return


def _interrupted(cause: BaseException | None) -> CoalescedCallError:
    what = f"failed ({type(cause).__name__})" if cause is not None else "was stopped"
    return CoalescedCallError(
        f"the model call this stream shared with another caller {what} after part of the stream "
        "was delivered; retry the request"
    )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
    if not waiters:
        return
    current = _running_loop()
    for loop, waiter in waiters:
        if loop is current:
            _set(waiter)
        else:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits there
                loop.call_soon_threadsafe(_set, waiter)


def _set(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _cancel(task: asyncio.Task[None], loop: asyncio.AbstractEventLoop | None) -> None:
    if loop is None or loop is _running_loop():
        task.cancel()
    else:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(task.cancel)
