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
The flight, lease, lookup and update steps are shared with ``CachedLLM`` in ``_core``; this
module says only what is particular to chat: messages in, message chunks out.
"""

# The wrapped model is driven through its LangChain hooks (_generate, _stream, ...) on purpose.
# ruff: noqa: SLF001

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, ClassVar, cast

from langchain_core.caches import BaseCache  # noqa: TC002 - pydantic reads field types at runtime
from langchain_core.language_models import BaseChatModel, BaseLanguageModel
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, BaseMessage, message_chunk_to_message
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult, Generation
from langchain_core.outputs.chat_generation import merge_chat_generation_chunks
from langchain_core.runnables import RunnableBinding
from pydantic import PrivateAttr
from typing_extensions import override

from cassandra_llm_cache.streaming import _record, _replay
from cassandra_llm_cache.streaming._common import (
    resolve_cache,
    swap_model,
)
from cassandra_llm_cache.streaming._core import CachedModelCore, Call
from cassandra_llm_cache.streaming._flight import Done, Event, Hit
from cassandra_llm_cache.streaming._learning import DEFAULT_EXPLORE, Learner
from cassandra_llm_cache.streaming._options import DEFAULT_LEASE_SECONDS, Coalesce

if TYPE_CHECKING:
    import builtins
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence

    from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
    from langchain_core.language_models import LanguageModelInput
    from langchain_core.rate_limiters import BaseRateLimiter
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool
    from pydantic import BaseModel

try:  # langchain-core >= 1.3: a key LangChain keeps out of response_metadata
    from langchain_core.utils._gateway import GATEWAY_METADATA_RESPONSE_KEY
except ImportError:  # pragma: no cover - older langchain-core
    GATEWAY_METADATA_RESPONSE_KEY = "lc_gateway_metadata"

_ChatCall = Call[list[BaseMessage]]


class CachedChatModel(
    CachedModelCore[BaseChatModel, list[BaseMessage], ChatGenerationChunk], BaseChatModel
):
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
        explore, judge, seed: only with a ``CassandraSemanticCache`` made with
            ``max_wrong_rate``: the probability (default 0.1) of calling the model anyway on a hit
            the entry's evidence does not yet make certain; ``judge(cached, fresh) -> bool``
            says whether the fresh answer matches the cached one (default: their word sets
            overlap by a Jaccard index of at least 0.8, no model call); ``seed`` makes the
            exploration reproducible. See :meth:`learning_stats` and ``docs/semantic-tuning.md``.

    Hits carry ``response_metadata["llm_cache"] == "hit"``. Everything else a chat model offers
    (``invoke``, ``batch``, ``stream``, ``astream_events``, ``bind_tools``,
    ``with_structured_output``, callbacks, tracing) works as for the wrapped model.
    """

    # Declared here: the shared core is a plain mixin, and pydantic takes fields only from models.
    model: BaseChatModel
    llm_cache: BaseCache | None = None
    coalesce: Coalesce | None = "process"
    replay: float = 0.0
    lease_seconds: float = DEFAULT_LEASE_SECONDS

    _wrapped_base: ClassVar[type[Any]] = BaseChatModel
    _learner: Learner = PrivateAttr(default_factory=Learner)

    # The public signature, spelled out per class: the model's type differs, and type checkers
    # would otherwise give a pydantic model an __init__ made of its fields. The work is in _core.
    def __init__(
        self,
        model: BaseChatModel,
        cache: BaseCache | None = None,
        *,
        coalesce: Coalesce | str | None = "process",
        replay: str | float = "instant",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        explore: float = DEFAULT_EXPLORE,
        judge: Callable[[str, str], bool] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        options = {"coalesce": coalesce, "replay": replay, "lease_seconds": lease_seconds}
        fields = self._fields(model, cache, kwargs, **options)  # also completes kwargs
        learner = Learner(explore, judge, seed)  # checked before the model is built
        super().__init__(**fields, **kwargs)
        self._learner = learner

    # --- what LangChain asks a chat model ---------------------------------------------------------

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

    # --- the four entry points (LangChain's signatures; the work is in _core) ---------------------

    @override
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._result(self._answer(self._call(messages, stop, kwargs), run_manager))

    @override
    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._result(await self._aanswer(self._call(messages, stop, kwargs), run_manager))

    @override
    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._chunks(self._call(messages, stop, kwargs))

    @override
    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        # aclosing: leaving the stream early must leave the flight now, not when collected.
        async with contextlib.aclosing(self._achunks(self._call(messages, stop, kwargs))) as chunks:
            async for chunk in chunks:
                yield chunk

    def _call(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> _ChatCall:
        """One request and the keys LangChain would use for it."""
        cache = resolve_cache(self.llm_cache)
        llm_string = self.model._get_llm_string(stop=stop, **kwargs)
        # As BaseChatModel._generate_with_cache: message ids are not part of the key.
        prompt = dumps(
            [
                message.model_copy(update={"id": None}) if message.id is not None else message
                for message in messages
            ]
        )
        return Call(cache, messages, prompt, llm_string, stop, kwargs)

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

    @override
    def _replay(self, event: Event) -> Iterable[tuple[float, ChatGenerationChunk]]:
        if isinstance(event, Hit):
            copies = self._hit_copies(event.generations, convert=False)
            return _replay.chat_chunks(copies[0], hit=True)
        if isinstance(event, Done) and event.generations:
            return _replay.chat_chunks(event.generations[0], hit=False)
        return []

    # --- the wrapped model, as _core's sources call it ------------------------------------------

    @staticmethod
    @override
    def _model_settings(model: BaseChatModel) -> dict[str, Any]:
        return {
            "disable_streaming": model.disable_streaming,
            "output_version": model.output_version,
        }

    @override
    def _rate_limiter(self) -> BaseRateLimiter | None:
        return self.model.rate_limiter

    @override
    def _batch(self, call: _ChatCall) -> list[BaseMessage]:
        return call.model_input

    @staticmethod
    @override
    def _stored(result: ChatResult) -> list[Generation]:
        return _as_stored(result)

    @staticmethod
    @override
    def _content(chunk: ChatGenerationChunk) -> object:
        return chunk.message.content

    @staticmethod
    @override
    def _aggregate(
        chunks: list[ChatGenerationChunk], recorder: _record.ChunkRecorder
    ) -> list[Generation]:
        return _aggregate(chunks, recorder)

    @staticmethod
    @override
    def _copy_chunk(chunk: ChatGenerationChunk) -> ChatGenerationChunk:
        """A chunk of one's own: LangChain sets ids and metadata on the chunks it is handed."""
        message = chunk.message.model_copy(deep=not isinstance(chunk.message.content, str))
        return ChatGenerationChunk(message=message, generation_info=chunk.generation_info)

    @staticmethod
    @override
    def _not_wrapped(model: object) -> str:
        if isinstance(model, RunnableBinding):
            return (
                "CachedChatModel wraps a chat model, not a binding: wrap the model first, then "
                "bind (CachedChatModel(model).bind_tools(...))"
            )
        if isinstance(model, BaseLanguageModel):
            return (
                f"CachedChatModel wraps a chat model (BaseChatModel); {type(model).__name__} is a "
                "text-completion model: use CachedLLM"
            )
        return f"CachedChatModel wraps a chat model (BaseChatModel), not {type(model).__name__}"


def _metadata(generation: ChatGeneration) -> dict[str, Any]:
    """``generation_info`` merged into the message's metadata, as LangChain merges them."""
    info = generation.generation_info or {}
    return {
        **{key: value for key, value in info.items() if key != GATEWAY_METADATA_RESPONSE_KEY},
        **generation.message.response_metadata,
    }


def _as_stored(result: ChatResult) -> list[Generation]:
    """What ``_generate_with_cache`` would store for ``result``."""
    single = len(result.generations) == 1 and result.llm_output is not None
    stored: list[Generation] = []
    for generation in result.generations:
        metadata = _metadata(generation)
        if single:
            metadata = {**(result.llm_output or {}), **metadata}
        message = generation.message.model_copy(update={"response_metadata": metadata})
        stored.append(ChatGeneration(message=message, generation_info=generation.generation_info))
    return stored


def _aggregate(
    chunks: list[ChatGenerationChunk], recorder: _record.ChunkRecorder
) -> list[Generation]:
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
