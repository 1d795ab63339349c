"""``CachedLLM``: a text-completion model (``BaseLLM``) streamed through a cache, single-flight.

The text-completion twin of ``CachedChatModel`` (see ``_chat``): LangChain's own cache is off on
the wrapper, the keys are those ``BaseLLM.generate`` computes for the wrapped model (the prompt
string, and the wrapped model's parameters with ``stop``), and the wrapped model's
``_generate``/``_stream`` are called directly. ``BaseLLM.stream`` leaves token callbacks to the
model, so the wrapper fires ``on_llm_new_token`` for every chunk it hands out (live or replayed)
and never passes its run manager to the wrapped model's ``_stream`` (no token is reported twice).

A call with several prompts (``batch``, ``generate``) is looked up prompt by prompt and its misses
go to the wrapped model in one call, as ``BaseLLM.generate`` does; such calls are not coalesced.
"""

# The wrapped model is driven through its LangChain hooks (_generate, _stream, ...) on purpose.
# ruff: noqa: SLF001

from __future__ import annotations

import contextlib
import functools
import operator
from typing import TYPE_CHECKING, Any, cast

from langchain_core.caches import BaseCache  # noqa: TC002 - pydantic reads field types at runtime
from langchain_core.language_models import BaseChatModel, BaseLLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from typing_extensions import override

from cassandra_llm_cache.streaming import _flight, _record, _replay
from cassandra_llm_cache.streaming._common import (
    accepts_run_manager,
    afind,
    check_cache,
    find,
    resolve_cache,
    usable,
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
    from collections.abc import AsyncIterator, Iterator

    from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun


class CachedLLM(BaseLLM):
    """A text-completion model whose answers come from a cache, streamed, computed once.

    Arguments as for :class:`CachedChatModel`; ``model`` must be a ``BaseLLM`` (a chat model is a
    ``TypeError``). Hits carry ``generation_info["llm_cache"] == "hit"``.
    """

    model: BaseLLM
    llm_cache: BaseCache | None = None
    coalesce: Coalesce | None = "process"
    replay: float = 0.0
    lease_seconds: float = DEFAULT_LEASE_SECONDS

    def __init__(
        self,
        model: BaseLLM,
        cache: BaseCache | None = None,
        *,
        coalesce: Coalesce | str | None = "process",
        replay: str | float = "instant",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        **kwargs: Any,
    ) -> None:
        if not isinstance(model, BaseLLM):
            raise TypeError(_not_an_llm(model))
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
        }
        super().__init__(**fields, **kwargs)

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

    def _llm_string(self, stop: list[str] | None) -> str:
        """``BaseLLM.generate``'s model string for the wrapped model (call kwargs are not in it)."""
        as_dict = getattr(self.model, "_dict_for_compat", None) or self.model.dict
        params = dict(as_dict())
        params["stop"] = stop
        return str(sorted(params.items()))

    def _streams(self, *, async_api: bool) -> bool:
        cls = type(self.model)
        if cls._stream is not BaseLLM._stream:
            return True
        return async_api and cls._astream is not BaseLLM._astream

    # --- entry points ----------------------------------------------------------------------------

    @override
    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if len(prompts) != 1:
            return self._generate_many(prompts, stop, run_manager, kwargs)
        call = _Call(self, prompts[0], stop, kwargs)
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
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if len(prompts) != 1:
            return await self._agenerate_many(prompts, stop, run_manager, kwargs)
        call = _Call(self, prompts[0], stop, kwargs)
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
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        for chunk in self._chunks(prompt, stop, kwargs):
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def _chunks(
        self, prompt: str, stop: list[str] | None, kwargs: dict[str, Any]
    ) -> Iterator[GenerationChunk]:
        import time

        call = _Call(self, prompt, stop, kwargs)
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
                    yield _copy(cast("GenerationChunk", event.chunk))
                elif not streamed:
                    for delay, chunk in self._replay(event):
                        if self.replay > 0 and delay > 0:
                            time.sleep(delay * self.replay)
                        yield chunk

    @override
    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        import asyncio

        call = _Call(self, prompt, stop, kwargs)
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
                    chunks = [(0.0, _copy(cast("GenerationChunk", event.chunk)))]
                elif not streamed:
                    chunks = self._replay(event)
                else:
                    continue
                for delay, chunk in chunks:
                    if self.replay > 0 and delay > 0:
                        await asyncio.sleep(delay * self.replay)
                    if run_manager is not None:
                        await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk

    # --- answers ---------------------------------------------------------------------------------

    def _result(self, event: Event) -> LLMResult:
        if isinstance(event, Hit):
            return LLMResult(generations=[_hit_copies(event.generations)])
        assert isinstance(event, Done)
        clean = [
            Generation(text=g.text, generation_info=_record.without_recording(g.generation_info))
            for g in event.generations
        ]
        return LLMResult(generations=[clean], llm_output=event.llm_output)

    def _replay(self, event: Event) -> list[tuple[float, GenerationChunk]]:
        if isinstance(event, Hit):
            generation, hit = event.generations[0], True
        elif isinstance(event, Done) and event.generations:
            generation, hit = event.generations[0], False
        else:
            return []
        if not self._streams(async_api=False):  # the bare model streams in one piece
            info = _record.marked(generation.generation_info) if hit else None
            if not hit:
                info = _record.without_recording(generation.generation_info)
            return [(0.0, GenerationChunk(text=generation.text, generation_info=info))]
        return _replay.text_chunks(generation, hit=hit)

    def _generate_many(
        self,
        prompts: list[str],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> LLMResult:
        cache = resolve_cache(self.llm_cache)
        llm_string = self._llm_string(stop)
        found: list[list[Generation] | None] = []
        for prompt in prompts:
            hit = cache.lookup(prompt, llm_string) if cache is not None else None
            found.append(_hit_copies(hit) if hit is not None and usable(hit) else None)
        missing = [i for i, generations in enumerate(found) if generations is None]
        llm_output = None
        if missing:
            extra = (
                {"run_manager": run_manager} if accepts_run_manager(self.model._generate) else {}
            )
            result = self.model._generate(
                [prompts[i] for i in missing], stop=stop, **kwargs, **extra
            )
            llm_output = result.llm_output
            for i, generations in zip(missing, result.generations, strict=True):
                found[i] = generations
                if cache is not None:
                    cache.update(prompts[i], llm_string, generations)
        return LLMResult(generations=[g or [] for g in found], llm_output=llm_output)

    async def _agenerate_many(
        self,
        prompts: list[str],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> LLMResult:
        cache = resolve_cache(self.llm_cache)
        llm_string = self._llm_string(stop)
        found: list[list[Generation] | None] = []
        for prompt in prompts:
            hit = await cache.alookup(prompt, llm_string) if cache is not None else None
            found.append(_hit_copies(hit) if hit is not None and usable(hit) else None)
        missing = [i for i, generations in enumerate(found) if generations is None]
        llm_output = None
        if missing:
            extra = (
                {"run_manager": run_manager} if accepts_run_manager(self.model._agenerate) else {}
            )
            result = await self.model._agenerate(
                [prompts[i] for i in missing], stop=stop, **kwargs, **extra
            )
            llm_output = result.llm_output
            for i, generations in zip(missing, result.generations, strict=True):
                found[i] = generations
                if cache is not None:
                    await cache.aupdate(prompts[i], llm_string, generations)
        return LLMResult(generations=[g or [] for g in found], llm_output=llm_output)

    # --- sources ---------------------------------------------------------------------------------

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
            llm_output = None
            if stream and self._streams(async_api=False):
                recorder = _record.ChunkRecorder()
                chunks: list[GenerationChunk] = []
                for chunk in model._stream(call.prompt, stop=call.stop, **call.kwargs):
                    recorder.add(chunk.text)
                    chunks.append(chunk)
                    yield Chunk(chunk)
                stored = _aggregate(chunks, recorder)
            else:
                extra = {"run_manager": run_manager} if accepts_run_manager(model._generate) else {}
                result = model._generate([call.prompt], stop=call.stop, **call.kwargs, **extra)
                stored, llm_output = list(result.generations[0]), result.llm_output
            if cache is not None and stored:
                cache.update(call.prompt, call.llm_string, stored)
        finally:
            if lease is not None:
                lease.release()
        yield Done(stored, llm_output)

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
            llm_output = None
            if stream and self._streams(async_api=True):
                recorder = _record.ChunkRecorder()
                chunks: list[GenerationChunk] = []
                async for chunk in model._astream(call.prompt, stop=call.stop, **call.kwargs):
                    recorder.add(chunk.text)
                    chunks.append(chunk)
                    yield Chunk(chunk)
                stored = _aggregate(chunks, recorder)
            else:
                extra = (
                    {"run_manager": run_manager} if accepts_run_manager(model._agenerate) else {}
                )
                result = await model._agenerate(
                    [call.prompt], stop=call.stop, **call.kwargs, **extra
                )
                stored, llm_output = list(result.generations[0]), result.llm_output
            if cache is not None and stored:
                await cache.aupdate(call.prompt, call.llm_string, stored)
        finally:
            if lease is not None:
                await lease.arelease()
        yield Done(stored, llm_output)


class _Call:
    """One single-prompt request and its keys."""

    __slots__ = ("cache", "key", "kwargs", "llm_string", "prompt", "stop")

    def __init__(
        self, wrapper: CachedLLM, prompt: str, stop: list[str] | None, kwargs: dict[str, Any]
    ) -> None:
        self.cache = resolve_cache(wrapper.llm_cache)
        self.prompt = prompt
        self.stop = stop
        self.kwargs = dict(kwargs)
        self.llm_string = wrapper._llm_string(stop)
        self.key = (id(self.cache), self.llm_string, prompt)


def _hit_copies(found: builtins.list[Generation]) -> builtins.list[Generation]:
    return [
        Generation(text=g.text, generation_info=_record.marked(g.generation_info)) for g in found
    ]


def _aggregate(
    chunks: builtins.list[GenerationChunk], recorder: _record.ChunkRecorder
) -> builtins.list[Generation]:
    if not chunks:
        return []
    merged = functools.reduce(operator.add, chunks)
    info = _record.with_recording(merged.generation_info, recorder.recording())
    return [Generation(text=merged.text, generation_info=info)]


def _copy(chunk: GenerationChunk) -> GenerationChunk:
    return GenerationChunk(text=chunk.text, generation_info=chunk.generation_info)


def _not_an_llm(model: object) -> str:
    hint = ": use CachedChatModel" if isinstance(model, BaseChatModel) else ""
    return f"CachedLLM wraps a text-completion model (BaseLLM), not {type(model).__name__}{hint}"
