"""What ``CachedChatModel`` and ``CachedLLM`` share: options, keys, flights, leases, the cache.

Both wrappers do the same thing around a model call: resolve the cache, take a flight (and, in
cluster mode, a lease), look up, call the wrapped model on a miss while recording its stream,
store the answer, and hand chunks out (live, or replayed at the recorded pace). Only the shape of
the model's input and answers differs (messages and ``ChatGenerationChunk``, or a prompt string
and ``GenerationChunk``), so that is all each wrapper implements: the hooks declared below.

As httpx does with ``BaseClient``, everything that does no I/O is written once here, and each
sync/async pair differs only in the call that does I/O (the cache, the lease, the model, the
sleep). The async side awaits; it never hands blocking work to a thread.
"""

# The wrapped model is driven through its LangChain hooks (_generate, _stream, ...) on purpose.
# ruff: noqa: SLF001

from __future__ import annotations

import contextlib
from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from langchain_core.language_models import BaseChatModel, BaseLLM
from langchain_core.outputs import Generation

from cassandra_llm_cache.streaming import _flight, _record
from cassandra_llm_cache.streaming._common import (
    afind,
    apaced,
    check_cache,
    find,
    paced,
    run_manager_arg,
)
from cassandra_llm_cache.streaming._flight import Chunk, Done, Event, Hit
from cassandra_llm_cache.streaming._lease import check_cluster_cache, lease_for
from cassandra_llm_cache.streaming._options import (
    Coalesce,
    parse_coalesce,
    parse_lease_seconds,
    parse_replay,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterable, Iterator

    from langchain_core.caches import BaseCache
    from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
    from langchain_core.rate_limiters import BaseRateLimiter

    from cassandra_llm_cache.streaming._learning import Learner, LearningStats, Lesson
    from cassandra_llm_cache.streaming._lease import Lease

ModelT = TypeVar("ModelT", BaseChatModel, BaseLLM)
InputT = TypeVar("InputT")
ChunkT = TypeVar("ChunkT", bound=Generation)

Stored = tuple[list[Generation], dict[str, Any] | None]
"""What a model call leaves for the cache: the generations to store, and its ``llm_output``."""

_INHERITED: tuple[str, ...] = ("callbacks", "tags", "metadata", "verbose")
"""Settings a wrapper takes over from the wrapped model unless the caller gives its own."""


class Call(Generic[InputT]):
    """One request: what the wrapped model is called with, and the keys LangChain would use."""

    __slots__ = ("cache", "key", "kwargs", "llm_string", "model_input", "prompt", "stop")

    def __init__(  # noqa: PLR0917 - the request's parts, all needed by the sources
        self,
        cache: BaseCache | None,
        model_input: InputT,
        prompt: str,
        llm_string: str,
        stop: list[str] | None,
        kwargs: dict[str, Any],
    ) -> None:
        self.cache = cache
        self.model_input = model_input
        self.prompt = prompt
        self.stop = stop
        self.kwargs = dict(kwargs)
        self.llm_string = llm_string
        self.key: _flight.Key = (id(cache), llm_string, prompt)


class Live(Generic[ChunkT]):
    """A live stream's chunks and their recording, kept as each chunk is handed on (pure)."""

    __slots__ = ("chunks", "recorder")

    def __init__(self) -> None:
        # Made right before the model call: the recording's first gap is the time to first chunk.
        self.recorder = _record.ChunkRecorder()
        self.chunks: list[ChunkT] = []

    def add(self, chunk: ChunkT, content: object) -> Chunk:
        self.recorder.add(content)
        self.chunks.append(chunk)
        return Chunk(chunk)


class CachedModelCore(Generic[ModelT, InputT, ChunkT]):
    """The I/O-free core and the thin sync/async shells both wrappers share (a mixin).

    Listed before the LangChain base class, so its LangChain hooks (``_llm_type``, ...) win. The
    pydantic fields and the public ``__init__`` are declared by each wrapper: pydantic reads
    fields from the model's own class, and the constructor's ``model`` type differs.
    """

    _wrapped_base: ClassVar[type[Any]]
    """The kind of model a wrapper wraps (``BaseChatModel`` or ``BaseLLM``)."""

    if TYPE_CHECKING:
        model: ModelT
        llm_cache: BaseCache | None
        coalesce: Coalesce | None
        replay: float
        lease_seconds: float
        _learner: Learner
        """Each wrapper declares it as a pydantic private attribute and sets it in ``__init__``."""

    @classmethod
    def _fields(
        cls,
        model: object,
        cache: object,
        kwargs: dict[str, Any],
        *,
        coalesce: object,
        replay: object,
        lease_seconds: object,
    ) -> dict[str, Any]:
        """The constructor's arguments checked and turned into the wrapper's pydantic fields.

        Each wrapper spells out its public ``__init__`` (the model's type differs, and a type
        checker would otherwise derive one from the fields) and passes its arguments here.
        ``kwargs`` (passed on to pydantic by the caller, so a clash stays a ``TypeError``) gets
        the settings the wrapper takes over from the wrapped model, unless the caller set them.
        """
        if not isinstance(model, cls._wrapped_base):
            raise TypeError(cls._not_wrapped(model))
        cache = check_cache(cache)
        mode = parse_coalesce(coalesce)
        if mode == "cluster":
            check_cluster_cache(cache)
        for name in _INHERITED:
            kwargs.setdefault(name, getattr(model, name))
        return {
            "model": model,
            "llm_cache": cache,
            "coalesce": mode,
            "replay": parse_replay(replay),
            "lease_seconds": parse_lease_seconds(lease_seconds),
            "cache": False,  # LangChain's own cache path stays off: the wrapper does the caching
            **cls._model_settings(model),
        }

    # --- what each wrapper supplies ---------------------------------------------------------------

    @staticmethod
    @abstractmethod
    def _not_wrapped(model: object) -> str:
        """The ``TypeError`` message for a model of the wrong kind."""

    @staticmethod
    def _model_settings(model: Any) -> dict[str, Any]:  # noqa: ARG004 - a hook
        """Fields the wrapper copies from the wrapped model (beyond ``_INHERITED``)."""
        return {}

    def _rate_limiter(self) -> BaseRateLimiter | None:
        """The wrapped model's rate limiter, waited for before each model call."""
        return None

    @abstractmethod
    def _batch(self, call: Call[InputT]) -> Any:
        """What the wrapped model's ``_generate`` takes for ``call`` (messages, or ``[prompt]``)."""

    @staticmethod
    @abstractmethod
    def _stored(result: Any) -> list[Generation]:
        """What ``_generate`` returned, as LangChain would store it for one request."""

    @staticmethod
    @abstractmethod
    def _content(chunk: ChunkT) -> object:
        """What a live chunk carries, for its recording (text, or content blocks)."""

    @staticmethod
    @abstractmethod
    def _aggregate(chunks: list[ChunkT], recorder: _record.ChunkRecorder) -> list[Generation]:
        """The streamed answer as it is stored: one generation, with its recording."""

    @staticmethod
    @abstractmethod
    def _copy_chunk(chunk: ChunkT) -> ChunkT:
        """A live chunk of the caller's own (LangChain changes the chunks it is handed)."""

    @abstractmethod
    def _replay(self, event: Event) -> Iterable[tuple[float, ChunkT]]:
        """A terminal event as chunks, each after its (unscaled) delay."""

    # --- what LangChain asks any model ------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return f"cached-{self.model._llm_type}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return dict(self.model._identifying_params)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        return self.model._get_ls_params(stop=stop, **kwargs)

    def _streams(self, *, async_api: bool) -> bool:
        """Whether the wrapped model streams by itself (else it answers in one piece)."""
        cls, base = type(self.model), self._wrapped_base
        if _overrides(cls, base, "_stream"):
            return True
        return async_api and _overrides(cls, base, "_astream")

    # --- learning (a semantic cache with max_wrong_rate; ``_learning``) -------------------------

    def learning_stats(self) -> LearningStats:
        """Extra model calls spent checking hits, and the observations recorded, since creation."""
        return self._learner.stats()

    def _lesson(self, call: Call[InputT]) -> Lesson | None:
        """How this request teaches a cache with ``max_wrong_rate``, or None (any other cache)."""
        return self._learner.lesson(call.cache, call.prompt, call.llm_string)

    # --- pure steps shared by the sync and async paths --------------------------------------------

    def _lease(self, call: Call[InputT]) -> Lease | None:
        return lease_for(
            call.cache, call.prompt, call.llm_string, self.lease_seconds, self.coalesce
        )

    def _hand_out(self, event: Event, *, streamed: bool) -> Iterable[tuple[float, ChunkT]]:
        """What a streaming caller gets for ``event``: a copy of a live chunk, or a replay.

        A terminal event is replayed only when no live chunk went out before it (a hit, or a
        model that answered in one piece); a stream that was live already carries the answer.
        """
        if isinstance(event, Chunk):
            return [(0.0, self._copy_chunk(cast("ChunkT", event.chunk)))]
        return [] if streamed else self._replay(event)

    # --- flights: sync and async differ only in how they wait -------------------------------------

    def _events(
        self, call: Call[InputT], *, stream: bool, run_manager: CallbackManagerForLLMRun | None
    ) -> Generator[Event, None, None]:
        return _flight.run(
            call.key,
            lambda: self._source(call, stream=stream, run_manager=run_manager),
            coalesce=self.coalesce is not None,
            streaming=stream,
        )

    def _aevents(
        self, call: Call[InputT], *, stream: bool, run_manager: AsyncCallbackManagerForLLMRun | None
    ) -> AsyncGenerator[Event, None]:
        return _flight.arun(
            call.key,
            lambda: self._asource(call, stream=stream, run_manager=run_manager),
            coalesce=self.coalesce is not None,
            streaming=stream,
        )

    def _answer(self, call: Call[InputT], run_manager: CallbackManagerForLLMRun | None) -> Event:
        """The flight's terminal event (``Hit`` or ``Done``) for a caller that does not stream."""
        events = self._events(call, stream=False, run_manager=run_manager)
        with contextlib.closing(events):
            for event in events:
                if not isinstance(event, Chunk):
                    return event
        raise AssertionError(
            "unreachable: a flight always ends with Hit or Done"
        )  # pragma: no cover

    async def _aanswer(
        self, call: Call[InputT], run_manager: AsyncCallbackManagerForLLMRun | None
    ) -> Event:
        """Async :meth:`_answer`."""
        events = self._aevents(call, stream=False, run_manager=run_manager)
        async with contextlib.aclosing(events):
            async for event in events:
                if not isinstance(event, Chunk):
                    return event
        raise AssertionError(
            "unreachable: a flight always ends with Hit or Done"
        )  # pragma: no cover

    def _chunks(self, call: Call[InputT]) -> Generator[ChunkT, None, None]:
        """The chunks a streaming caller gets: live ones, or a replay (paced by ``sleep``)."""
        events = self._events(call, stream=True, run_manager=None)
        streamed = False
        with contextlib.closing(events):
            for event in events:
                handed = self._hand_out(event, streamed=streamed)
                streamed = streamed or isinstance(event, Chunk)
                yield from paced(handed, self.replay)

    async def _achunks(self, call: Call[InputT]) -> AsyncGenerator[ChunkT, None]:
        """Async :meth:`_chunks` (paced by ``asyncio.sleep``)."""
        events = self._aevents(call, stream=True, run_manager=None)
        streamed = False
        async with contextlib.aclosing(events):
            async for event in events:
                handed = self._hand_out(event, streamed=streamed)
                streamed = streamed or isinstance(event, Chunk)
                async for chunk in apaced(handed, self.replay):
                    yield chunk

    # --- sources: one lookup, then the model and one update ---------------------------------------

    def _source(
        self, call: Call[InputT], *, stream: bool, run_manager: CallbackManagerForLLMRun | None
    ) -> Iterator[Event]:
        lease = self._lease(call)
        lesson = self._lesson(call)
        if lesson is None:
            found = find(call.cache, call.prompt, call.llm_string, lease)
        else:
            found = lesson.lookup()
            if found is None and lease is not None and not lesson.explored:
                found = find(call.cache, call.prompt, call.llm_string, lease)
        if found is not None:
            yield Hit(found)
            return
        try:
            self._wait_for_rate_limit()
            llm_output: dict[str, Any] | None = None
            if stream and self._streams(async_api=False):
                live: Live[ChunkT] = Live()
                for chunk in self._model_stream(call):
                    yield live.add(chunk, self._content(chunk))
                generations = self._aggregate(live.chunks, live.recorder)
            else:
                generations, llm_output = self._model_generate(call, run_manager)
            if lesson is not None:
                lesson.observe(generations)
            if call.cache is not None and generations:
                call.cache.update(call.prompt, call.llm_string, generations)
        finally:
            if lease is not None:
                lease.release()
        yield Done(generations, llm_output)

    async def _asource(
        self, call: Call[InputT], *, stream: bool, run_manager: AsyncCallbackManagerForLLMRun | None
    ) -> AsyncIterator[Event]:
        lease = self._lease(call)
        lesson = self._lesson(call)
        if lesson is None:
            found = await afind(call.cache, call.prompt, call.llm_string, lease)
        else:
            found = await lesson.alookup()
            if found is None and lease is not None and not lesson.explored:
                found = await afind(call.cache, call.prompt, call.llm_string, lease)
        if found is not None:
            yield Hit(found)
            return
        try:
            await self._await_rate_limit()
            llm_output: dict[str, Any] | None = None
            if stream and self._streams(async_api=True):
                live: Live[ChunkT] = Live()
                async for chunk in self._amodel_stream(call):
                    yield live.add(chunk, self._content(chunk))
                generations = self._aggregate(live.chunks, live.recorder)
            else:
                generations, llm_output = await self._amodel_generate(call, run_manager)
            if lesson is not None:
                await lesson.aobserve(generations)
            if call.cache is not None and generations:
                await call.cache.aupdate(call.prompt, call.llm_string, generations)
        finally:
            if lease is not None:
                await lease.arelease()
        yield Done(generations, llm_output)

    # --- the wrapped model's own hooks (its cache is never consulted) ----------------------------

    # ModelT, InputT and ChunkT are tied by each wrapper's bases (chat: messages in, message chunks
    # out; text completion: a prompt in, text chunks out), which a type checker cannot see here.

    def _model_stream(self, call: Call[InputT]) -> Iterator[ChunkT]:
        model_input: Any = call.model_input
        chunks = self.model._stream(model_input, stop=call.stop, **call.kwargs)
        return cast("Iterator[ChunkT]", chunks)

    def _amodel_stream(self, call: Call[InputT]) -> AsyncIterator[ChunkT]:
        model_input: Any = call.model_input
        chunks = self.model._astream(model_input, stop=call.stop, **call.kwargs)
        return cast("AsyncIterator[ChunkT]", chunks)

    def _model_generate(
        self, call: Call[InputT], run_manager: CallbackManagerForLLMRun | None
    ) -> Stored:
        extra = run_manager_arg(self.model._generate, run_manager)
        result = self.model._generate(self._batch(call), stop=call.stop, **call.kwargs, **extra)
        return self._stored(result), result.llm_output

    async def _amodel_generate(
        self, call: Call[InputT], run_manager: AsyncCallbackManagerForLLMRun | None
    ) -> Stored:
        extra = run_manager_arg(self.model._agenerate, run_manager)
        batch = self._batch(call)
        result = await self.model._agenerate(batch, stop=call.stop, **call.kwargs, **extra)
        return self._stored(result), result.llm_output

    def _wait_for_rate_limit(self) -> None:
        limiter = self._rate_limiter()
        if limiter:
            limiter.acquire(blocking=True)

    async def _await_rate_limit(self) -> None:
        limiter = self._rate_limiter()
        if limiter:
            await limiter.aacquire(blocking=True)


def _overrides(cls: type[Any], base: type[Any], name: str) -> bool:
    return getattr(cls, name) is not getattr(base, name)
