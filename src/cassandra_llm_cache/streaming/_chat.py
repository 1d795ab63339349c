"""``CachedChatModel``: any LangChain chat model, streamed through a cache, with single-flight.

The wrapper is itself a ``BaseChatModel`` with LangChain's own cache turned off (``cache=False``),
so LangChain runs callbacks, tracing, ``stream``/``invoke`` plumbing and output conversion as for
any chat model, and the wrapper's ``_generate``/``_stream`` (and async twins) do the caching. They
compute exactly the keys langchain-core computes for the wrapped model (the messages without ids
through ``dumps``, and the wrapped model's ``_get_llm_string(stop=..., **kwargs)``), so entries
are shared both ways with plain ``invoke`` calls of the wrapped model; and they call the wrapped
model's ``_generate``/``_stream`` directly, so its own cache is never consulted.

What is stored mirrors what ``BaseChatModel._generate_with_cache`` stores (``generation_info``
and ``llm_output`` merged into ``response_metadata``), plus the stream's recording (``_record``).
"""

# The wrapped model is driven through its LangChain hooks (_generate, _stream, ...) on purpose.
# ruff: noqa: SLF001

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, cast

from langchain_core.caches import BaseCache  # noqa: TC002 - pydantic reads field types at runtime
from langchain_core.language_models import BaseChatModel, BaseLanguageModel
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, message_chunk_to_message
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult, Generation
from langchain_core.outputs.chat_generation import merge_chat_generation_chunks
from langchain_core.runnables import RunnableBinding
from typing_extensions import override

from cassandra_llm_cache.streaming import _flight, _record, _replay
from cassandra_llm_cache.streaming._common import (
    accepts_run_manager,
    afind,
    apaced,
    check_cache,
    find,
    paced,
    resolve_cache,
    swap_model,
)
from cassandra_llm_cache.streaming._flight import Chunk, Done, Event, Hit
from cassandra_llm_cache.streaming._lease import check_cluster_cache, lease_for
from cassandra_llm_cache.streaming._options import (
    DEFAULT_LEASE_SECONDS,
    Coalesce,
    parse_coalesce,
    parse_lease_seconds,
    parse_replay,
)

if TYPE_CHECKING:
    import builtins
    from collections.abc import AsyncIterator, Callable, Iterator, Sequence

    from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
    from langchain_core.language_models import LanguageModelInput
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool
    from pydantic import BaseModel

try:  # langchain-core >= 1.3: a key LangChain keeps out of response_metadata
    from langchain_core.utils._gateway import GATEWAY_METADATA_RESPONSE_KEY
except ImportError:  # pragma: no cover - older langchain-core
    GATEWAY_METADATA_RESPONSE_KEY = "lc_gateway_metadata"


class CachedChatModel(BaseChatModel):
    """A chat model whose answers come from a cache, streamed, and computed once for many callers.

    Args:
        model: the chat model to wrap (any ``BaseChatModel``); a text-completion model is a
            ``TypeError`` (use :class:`CachedLLM`).
        cache: any LangChain ``BaseCache``; ``None``: the global cache (``set_llm_cache``),
            looked up at each call.
        coalesce: ``"process"`` (default): concurrent identical requests in this process (threads
            and asyncio tasks) share one lookup and one model call, and a stream is shared live;
            ``"cluster"``: also across processes, through a lease row next to the cache's table
            (this package's caches only); ``None`` or ``"none"``: every call on its own.
        replay: how a hit is streamed: ``"instant"`` (default) with no delay, ``"recorded"`` at
            the pace the model streamed it, or a number scaling that pace (``0.5``: twice as fast).
        lease_seconds: with ``coalesce="cluster"``, the longest a leader may hold the lease
            before the others call the model themselves (default 60).

    Hits carry ``response_metadata["llm_cache"] == "hit"``. Everything else a chat model offers
    (``invoke``, ``batch``, ``stream``, ``astream_events``, ``bind_tools``,
    ``with_structured_output``, callbacks, tracing) works as for the wrapped model.
    """

    model: BaseChatModel
    llm_cache: BaseCache | None = None
    coalesce: Coalesce | None = "process"
    replay: float = 0.0
    lease_seconds: float = DEFAULT_LEASE_SECONDS

    def __init__(
        self,
        model: BaseChatModel,
        cache: BaseCache | None = None,
        *,
        coalesce: Coalesce | str | None = "process",
        replay: str | float = "instant",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        **kwargs: Any,
    ) -> None:
        if not isinstance(model, BaseChatModel):
            raise TypeError(_not_a_chat_model(model))
        cache = check_cache(cache)
        mode = parse_coalesce(coalesce)
        if mode == "cluster":
            check_cluster_cache(cache)
        for name in ("callbacks", "tags", "metadata", "verbose"):
            kwargs.setdefault(name, getattr(model, name))
        fields: dict[str, Any] = {
            "model": model,
            "llm_cache": cache,
            "coalesce": mode,
            "replay": parse_replay(replay),
            "lease_seconds": parse_lease_seconds(lease_seconds),
            "cache": False,  # LangChain's own cache path stays off: the wrapper does the caching
            "disable_streaming": model.disable_streaming,
            "output_version": model.output_version,
        }
        super().__init__(**fields, **kwargs)

    # --- what LangChain asks a chat model ---------------------------------------------------------

    @property
    @override
    def _llm_type(self) -> str:
        return f"cached-{self.model._llm_type}"

    @property
    @override
    def _identifying_params(self) -> dict[str, Any]:
        return dict(self.model._identifying_params)

    @override
    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        return self.model._get_ls_params(stop=stop, **kwargs)

    @override
    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> builtins.dict[str, Any]:
        return self.model._get_invocation_params(stop=stop, **kwargs)

    @override
    def _combine_llm_outputs(
        self, llm_outputs: list[builtins.dict[str, Any] | None], /
    ) -> builtins.dict[str, Any]:
        return self.model._combine_llm_outputs(llm_outputs)

    @override
    def _should_stream(
        self,
        *,
        async_api: bool,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> bool:
        # Stream exactly when the wrapped model would (its _stream, disable_streaming, streaming).
        return self.model._should_stream(async_api=async_api, run_manager=run_manager, **kwargs)

    @override
    def bind_tools(
        self,
        tools: Sequence[builtins.dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """The wrapped model's ``bind_tools``, bound to the wrapper (calls go through the cache)."""
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        bound = self.model.bind_tools(tools, **kwargs)
        return cast("Runnable[LanguageModelInput, AIMessage]", self._rebound(bound, "bind_tools"))

    @override
    def with_structured_output(
        self,
        schema: builtins.dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, builtins.dict[str, Any] | BaseModel]:
        """The wrapped model's ``with_structured_output``, calling the model through the cache."""
        built = self.model.with_structured_output(schema, include_raw=include_raw, **kwargs)
        return cast(
            "Runnable[LanguageModelInput, builtins.dict[str, Any] | BaseModel]",
            self._rebound(built, "with_structured_output"),
        )

    def _rebound(self, runnable: Runnable[Any, Any], method: str) -> Runnable[Any, Any]:
        swapped, count = swap_model(runnable, self.model, self)
        if not count:
            msg = (
                f"{type(self.model).__name__}.{method} returned a runnable that does not call the "
                "model in a way CachedChatModel can redirect; wrap the result's model instead"
            )
            raise NotImplementedError(msg)
        return cast("Runnable[Any, Any]", swapped)

    # --- the four entry points --------------------------------------------------------------------

    @override
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = _Call(self, messages, stop, kwargs)
        events = _flight.run(
            call.key,
            lambda: self._source(call, stream=False, run_manager=run_manager),
            coalesce=self.coalesce is not None,
            streaming=False,
        )
        with contextlib.closing(events):
            for event in events:
                if not isinstance(event, Chunk):
                    return self._result(event)
        raise AssertionError(
            "unreachable: a flight always ends with Hit or Done"
        )  # pragma: no cover

    @override
    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = _Call(self, messages, stop, kwargs)
        events = _flight.arun(
            call.key,
            lambda: self._asource(call, stream=False, run_manager=run_manager),
            coalesce=self.coalesce is not None,
            streaming=False,
        )
        async with contextlib.aclosing(events):
            async for event in events:
                if not isinstance(event, Chunk):
                    return self._result(event)
        raise AssertionError(
            "unreachable: a flight always ends with Hit or Done"
        )  # pragma: no cover

    @override
    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        call = _Call(self, messages, stop, kwargs)
        events = _flight.run(
            call.key,
            lambda: self._source(call, stream=True, run_manager=None),
            coalesce=self.coalesce is not None,
            streaming=True,
        )
        streamed = False
        with contextlib.closing(events):
            for event in events:
                if isinstance(event, Chunk):
                    streamed = True
                    yield _copy_chunk(cast("ChatGenerationChunk", event.chunk))
                elif not streamed:
                    yield from paced(self._replay(event), self.replay)

    @override
    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        call = _Call(self, messages, stop, kwargs)
        events = _flight.arun(
            call.key,
            lambda: self._asource(call, stream=True, run_manager=None),
            coalesce=self.coalesce is not None,
            streaming=True,
        )
        streamed = False
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, Chunk):
                    streamed = True
                    yield _copy_chunk(cast("ChatGenerationChunk", event.chunk))
                elif not streamed:
                    async for chunk in apaced(self._replay(event), self.replay):
                        yield chunk

    # --- answers --------------------------------------------------------------------------------

    def _hit_copies(self, found: list[Generation], *, convert: bool) -> list[ChatGeneration]:
        """Fresh copies of cached generations (caches may hand out shared objects).

        ``convert``: as LangChain converts an ``invoke`` hit (``usage_metadata.total_cost`` set
        to 0). Replays skip it: a message chunk cannot carry that key, so they add up to the
        stored message itself.
        """
        copies = [
            ChatGeneration(message=g.message.model_copy(), generation_info=g.generation_info)
            if isinstance(g, ChatGeneration)
            else ChatGeneration(
                message=AIMessage(content=g.text), generation_info=g.generation_info
            )
            for g in found
        ]
        converter = getattr(self.model, "_convert_cached_generations", None)
        return list(converter(copies)) if convert and converter is not None else copies

    def _result(self, event: Event) -> ChatResult:
        if isinstance(event, Hit):
            return ChatResult(
                generations=[
                    ChatGeneration(
                        message=g.message, generation_info=_record.marked(g.generation_info)
                    )
                    for g in self._hit_copies(event.generations, convert=True)
                ]
            )
        assert isinstance(event, Done)
        generations = [
            ChatGeneration(
                message=g.message.model_copy(),
                generation_info=_record.without_recording(g.generation_info),
            )
            for g in cast("list[ChatGeneration]", event.generations)
        ]
        return ChatResult(generations=generations, llm_output=event.llm_output)

    def _replay(self, event: Event) -> list[tuple[float, ChatGenerationChunk]]:
        if isinstance(event, Hit):
            copies = self._hit_copies(event.generations, convert=False)
            return _replay.chat_chunks(copies[0], hit=True)
        if isinstance(event, Done) and event.generations:
            return _replay.chat_chunks(event.generations[0], hit=False)
        return []

    # --- sources: one lookup, then the model and one update ---------------------------------------

    def _streams(self, *, async_api: bool) -> bool:
        cls = type(self.model)
        if cls._stream is not BaseChatModel._stream:
            return True
        return async_api and cls._astream is not BaseChatModel._astream

    def _source(
        self, call: _Call, *, stream: bool, run_manager: CallbackManagerForLLMRun | None
    ) -> Iterator[Event]:
        cache = call.cache
        lease = lease_for(cache, call.prompt, call.llm_string, self.lease_seconds, self.coalesce)
        found = find(cache, call.prompt, call.llm_string, lease)
        if found is not None:
            yield Hit(found)
            return
        try:
            model = self.model
            if model.rate_limiter:
                model.rate_limiter.acquire(blocking=True)
            llm_output = None
            if stream and self._streams(async_api=False):
                recorder = _record.ChunkRecorder()
                chunks: list[ChatGenerationChunk] = []
                for chunk in model._stream(call.messages, stop=call.stop, **call.kwargs):
                    recorder.add(chunk.message.content)
                    chunks.append(chunk)
                    yield Chunk(chunk)
                stored = _aggregate(chunks, recorder)
            else:
                extra = {"run_manager": run_manager} if accepts_run_manager(model._generate) else {}
                result = model._generate(call.messages, stop=call.stop, **call.kwargs, **extra)
                stored, llm_output = _as_stored(result), result.llm_output
            if cache is not None and stored:
                cache.update(call.prompt, call.llm_string, stored)
        finally:
            if lease is not None:
                lease.release()
        yield Done(cast("list[Generation]", stored), llm_output)

    async def _asource(
        self, call: _Call, *, stream: bool, run_manager: AsyncCallbackManagerForLLMRun | None
    ) -> AsyncIterator[Event]:
        cache = call.cache
        lease = lease_for(cache, call.prompt, call.llm_string, self.lease_seconds, self.coalesce)
        found = await afind(cache, call.prompt, call.llm_string, lease)
        if found is not None:
            yield Hit(found)
            return
        try:
            model = self.model
            if model.rate_limiter:
                await model.rate_limiter.aacquire(blocking=True)
            llm_output = None
            if stream and self._streams(async_api=True):
                recorder = _record.ChunkRecorder()
                chunks: list[ChatGenerationChunk] = []
                async for chunk in model._astream(call.messages, stop=call.stop, **call.kwargs):
                    recorder.add(chunk.message.content)
                    chunks.append(chunk)
                    yield Chunk(chunk)
                stored = _aggregate(chunks, recorder)
            else:
                extra = (
                    {"run_manager": run_manager} if accepts_run_manager(model._agenerate) else {}
                )
                result = await model._agenerate(
                    call.messages, stop=call.stop, **call.kwargs, **extra
                )
                stored, llm_output = _as_stored(result), result.llm_output
            if cache is not None and stored:
                await cache.aupdate(call.prompt, call.llm_string, stored)
        finally:
            if lease is not None:
                await lease.arelease()
        yield Done(cast("list[Generation]", stored), llm_output)


class _Call:
    """One request: its messages and arguments, and the keys LangChain would use for it."""

    __slots__ = ("cache", "key", "kwargs", "llm_string", "messages", "prompt", "stop")

    def __init__(
        self,
        wrapper: CachedChatModel,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
    ) -> None:
        self.cache = resolve_cache(wrapper.llm_cache)
        self.messages = messages
        self.stop = stop
        self.kwargs = dict(kwargs)
        self.llm_string = wrapper.model._get_llm_string(stop=stop, **kwargs)
        # As BaseChatModel._generate_with_cache: message ids are not part of the key.
        self.prompt = dumps(
            [
                message.model_copy(update={"id": None}) if message.id is not None else message
                for message in messages
            ]
        )
        self.key = (id(self.cache), self.llm_string, self.prompt)


def _metadata(generation: ChatGeneration) -> dict[str, Any]:
    """``generation_info`` merged into the message's metadata, as LangChain merges them."""
    info = generation.generation_info or {}
    return {
        **{key: value for key, value in info.items() if key != GATEWAY_METADATA_RESPONSE_KEY},
        **generation.message.response_metadata,
    }


def _as_stored(result: ChatResult) -> list[ChatGeneration]:
    """What ``_generate_with_cache`` would store for ``result``."""
    single = len(result.generations) == 1 and result.llm_output is not None
    stored = []
    for generation in result.generations:
        metadata = _metadata(generation)
        if single:
            metadata = {**(result.llm_output or {}), **metadata}
        message = generation.message.model_copy(update={"response_metadata": metadata})
        stored.append(ChatGeneration(message=message, generation_info=generation.generation_info))
    return stored


def _aggregate(
    chunks: list[ChatGenerationChunk], recorder: _record.ChunkRecorder
) -> list[ChatGeneration]:
    """The streamed answer as one generation (as ``generate_from_stream``), with its recording."""
    if not chunks:
        return []
    merged = merge_chat_generation_chunks(
        [
            ChatGenerationChunk(
                message=chunk.message.model_copy(update={"response_metadata": _metadata(chunk)}),
                generation_info=chunk.generation_info,
            )
            for chunk in chunks
        ]
    )
    assert merged is not None
    message = message_chunk_to_message(merged.message)
    info = _record.with_recording(merged.generation_info, recorder.recording())
    return [ChatGeneration(message=message, generation_info=info)]


def _copy_chunk(chunk: ChatGenerationChunk) -> ChatGenerationChunk:
    """A chunk of one's own: LangChain sets ids and metadata on the chunks it is handed."""
    message = chunk.message.model_copy(deep=not isinstance(chunk.message.content, str))
    return ChatGenerationChunk(message=message, generation_info=chunk.generation_info)


def _not_a_chat_model(model: object) -> str:
    if isinstance(model, RunnableBinding):
        return (
            "CachedChatModel wraps a chat model, not a binding: wrap the model first, then bind "
            "(CachedChatModel(model).bind_tools(...))"
        )
    if isinstance(model, BaseLanguageModel):
        return (
            f"CachedChatModel wraps a chat model (BaseChatModel); {type(model).__name__} is a "
            "text-completion model: use CachedLLM"
        )
    return f"CachedChatModel wraps a chat model (BaseChatModel), not {type(model).__name__}"
