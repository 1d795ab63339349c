"""``CachedLLM``: a text-completion model (``BaseLLM``) streamed through a cache, single-flight.

The text-completion twin of ``CachedChatModel`` (see ``_chat``): LangChain's own cache is off on
the wrapper, the keys are those ``BaseLLM.generate`` computes for the wrapped model (the prompt
string, and the wrapped model's parameters with ``stop``), and the wrapped model's
``_generate``/``_stream`` are called directly. ``BaseLLM.stream`` leaves token callbacks to the
model, so the wrapper fires ``on_llm_new_token`` for every chunk it hands out (live or replayed)
and never passes its run manager to the wrapped model's ``_stream`` (no token is reported twice).

A call with several prompts (``batch``, ``generate``) is looked up prompt by prompt and its misses
go to the wrapped model in one call, as ``BaseLLM.generate`` does; such calls are not coalesced,
but each prompt teaches a cache with ``max_wrong_rate`` as a single call does (``_learning``).
The flight, lease, lookup, learning and update steps are shared with ``CachedChatModel`` in
``_core``.
"""

# The wrapped model is driven through its LangChain hooks (_generate, _stream, ...) on purpose.
# ruff: noqa: SLF001

from __future__ import annotations

import contextlib
import functools
import operator
from typing import TYPE_CHECKING, Any, ClassVar

from langchain_core.caches import BaseCache  # noqa: TC002 - pydantic reads field types at runtime
from langchain_core.language_models import BaseChatModel, BaseLLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from pydantic import PrivateAttr
from typing_extensions import override

from cassandra_llm_cache.streaming import _record, _replay
from cassandra_llm_cache.streaming._common import resolve_cache, run_manager_arg, usable
from cassandra_llm_cache.streaming._core import CachedModelCore, Call
from cassandra_llm_cache.streaming._flight import Done, Event, Hit
from cassandra_llm_cache.streaming._learning import DEFAULT_EXPLORE, Learner
from cassandra_llm_cache.streaming._options import DEFAULT_LEASE_SECONDS, Coalesce

if TYPE_CHECKING:
    import builtins
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator

    from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun

    from cassandra_llm_cache.streaming._learning import Lesson

_TextCall = Call[str]


class CachedLLM(CachedModelCore[BaseLLM, str, GenerationChunk], BaseLLM):
    """A text-completion model whose answers come from a cache, streamed, computed once.

    Arguments as for :class:`CachedChatModel`, ``explore``, ``judge`` and ``seed`` included (a
    ``CassandraSemanticCache`` with ``max_wrong_rate`` learns from this wrapper's traffic in the
    same way; see :meth:`learning_stats`); ``model`` must be a ``BaseLLM`` (a chat model is a
    ``TypeError``). Hits carry ``generation_info["llm_cache"] == "hit"``.
    """

    # Declared here: the shared core is a plain mixin, and pydantic takes fields only from models.
    model: BaseLLM
    llm_cache: BaseCache | None = None
    coalesce: Coalesce | None = "process"
    replay: float = 0.0
    lease_seconds: float = DEFAULT_LEASE_SECONDS

    _wrapped_base: ClassVar[type[Any]] = BaseLLM
    _learner: Learner = PrivateAttr(default_factory=Learner)

    # The public signature, spelled out per class: the model's type differs, and type checkers
    # would otherwise give a pydantic model an __init__ made of its fields. The work is in _core.
    def __init__(
        self,
        model: BaseLLM,
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

    def _llm_string(self, stop: list[str] | None) -> str:
        """``BaseLLM.generate``'s model string for the wrapped model (call kwargs are not in it)."""
        as_dict = getattr(self.model, "_dict_for_compat", None) or self.model.dict
        params = dict(as_dict())
        params["stop"] = stop
        return str(sorted(params.items()))

    # --- entry points (LangChain's signatures; the work is in _core) ----------------------------

    @override
    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if len(prompts) != 1:
            return self._generate_many(self._many(prompts, stop, kwargs), run_manager)
        return self._result(self._answer(self._call(prompts[0], stop, kwargs), run_manager))

    @override
    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if len(prompts) != 1:
            return await self._agenerate_many(self._many(prompts, stop, kwargs), run_manager)
        return self._result(await self._aanswer(self._call(prompts[0], stop, kwargs), run_manager))

    @override
    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        with contextlib.closing(self._chunks(self._call(prompt, stop, kwargs))) as chunks:
            for chunk in chunks:
                if run_manager is not None:
                    run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk

    @override
    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        # aclosing: leaving the stream early must leave the flight now, not when collected.
        async with contextlib.aclosing(self._achunks(self._call(prompt, stop, kwargs))) as chunks:
            async for chunk in chunks:
                if run_manager is not None:
                    await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk

    def _call(self, prompt: str, stop: list[str] | None, kwargs: dict[str, Any]) -> _TextCall:
        """One single-prompt request and its keys."""
        return Call(
            resolve_cache(self.llm_cache), prompt, prompt, self._llm_string(stop), stop, kwargs
        )

    def _many(self, prompts: list[str], stop: list[str] | None, kwargs: dict[str, Any]) -> _Many:
        return _Many(prompts, self._llm_string(stop), stop, kwargs)

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

    @override
    def _replay(self, event: Event) -> Iterable[tuple[float, GenerationChunk]]:
        if isinstance(event, Hit):
            generation, hit = event.generations[0], True
        elif isinstance(event, Done) and event.generations:
            generation, hit = event.generations[0], False
        else:
            return []
        if not self._streams(async_api=False):  # the bare model streams in one piece
            info = _record.served(generation.generation_info, hit=hit)
            return [(0.0, GenerationChunk(text=generation.text, generation_info=info))]
        return _replay.text_chunks(generation, hit=hit)

    # --- several prompts: looked up one by one, the misses sent to the model in one call -------

    def _generate_many(
        self, many: _Many, run_manager: CallbackManagerForLLMRun | None
    ) -> LLMResult:
        cache = resolve_cache(self.llm_cache)
        for prompt in many.prompts:
            lesson = self._learner.lesson(cache, prompt, many.llm_string)
            if lesson is not None:
                many.found(lesson.lookup(), lesson)
            else:
                many.found(cache.lookup(prompt, many.llm_string) if cache is not None else None)
        if not many.missing:
            return many.result(None)
        extra = run_manager_arg(self.model._generate, run_manager)
        result = self.model._generate(many.misses(), stop=many.stop, **many.kwargs, **extra)
        for lesson, prompt, generations in many.answered(result):
            if lesson is not None:
                lesson.observe(generations)
            if cache is not None:
                cache.update(prompt, many.llm_string, generations)
        return many.result(result.llm_output)

    async def _agenerate_many(
        self, many: _Many, run_manager: AsyncCallbackManagerForLLMRun | None
    ) -> LLMResult:
        cache = resolve_cache(self.llm_cache)
        for prompt in many.prompts:
            lesson = self._learner.lesson(cache, prompt, many.llm_string)
            if lesson is not None:
                many.found(await lesson.alookup(), lesson)
            else:
                found = await cache.alookup(prompt, many.llm_string) if cache is not None else None
                many.found(found)
        if not many.missing:
            return many.result(None)
        extra = run_manager_arg(self.model._agenerate, run_manager)
        misses = many.misses()
        result = await self.model._agenerate(misses, stop=many.stop, **many.kwargs, **extra)
        for lesson, prompt, generations in many.answered(result):
            if lesson is not None:
                await lesson.aobserve(generations)
            if cache is not None:
                await cache.aupdate(prompt, many.llm_string, generations)
        return many.result(result.llm_output)

    # --- the wrapped model, as _core's sources call it ------------------------------------------

    @override
    def _batch(self, call: _TextCall) -> list[str]:
        return [call.model_input]

    @staticmethod
    @override
    def _stored(result: LLMResult) -> list[Generation]:
        return list(result.generations[0])

    @staticmethod
    @override
    def _content(chunk: GenerationChunk) -> object:
        return chunk.text

    @staticmethod
    @override
    def _aggregate(
        chunks: builtins.list[GenerationChunk], recorder: _record.ChunkRecorder
    ) -> builtins.list[Generation]:
        if not chunks:
            return []
        merged = functools.reduce(operator.add, chunks)
        info = _record.with_recording(merged.generation_info, recorder.recording())
        return [Generation(text=merged.text, generation_info=info)]

    @staticmethod
    @override
    def _copy_chunk(chunk: GenerationChunk) -> GenerationChunk:
        return GenerationChunk(text=chunk.text, generation_info=chunk.generation_info)

    @staticmethod
    @override
    def _not_wrapped(model: object) -> str:
        hint = ": use CachedChatModel" if isinstance(model, BaseChatModel) else ""
        return (
            f"CachedLLM wraps a text-completion model (BaseLLM), not {type(model).__name__}{hint}"
        )


class _Many:
    """A call with several prompts: what the cache answered, and what goes to the model (pure)."""

    __slots__ = ("_found", "_lessons", "kwargs", "llm_string", "prompts", "stop")

    def __init__(
        self, prompts: list[str], llm_string: str, stop: list[str] | None, kwargs: dict[str, Any]
    ) -> None:
        self.prompts = prompts
        self.llm_string = llm_string
        self.stop = stop
        self.kwargs = kwargs
        self._found: list[list[Generation] | None] = []
        self._lessons: list[Lesson | None] = []

    def found(self, hit: object, lesson: Lesson | None = None) -> None:
        """The lookup result for the next prompt (``None``: not looked up), and its lesson."""
        self._found.append(_hit_copies(hit) if hit is not None and usable(hit) else None)
        self._lessons.append(lesson)

    @property
    def missing(self) -> list[int]:
        return [i for i, generations in enumerate(self._found) if generations is None]

    def misses(self) -> list[str]:
        return [self.prompts[i] for i in self.missing]

    def answered(self, result: LLMResult) -> list[tuple[Lesson | None, str, list[Generation]]]:
        """Takes the model's answers to the misses; returns, prompt by prompt, what to learn
        from (the prompt's lesson, if its cache learns) and what to store."""
        to_store = []
        for i, generations in zip(self.missing, result.generations, strict=True):
            self._found[i] = generations
            to_store.append((self._lessons[i], self.prompts[i], generations))
        return to_store

    def result(self, llm_output: dict[str, Any] | None) -> LLMResult:
        return LLMResult(generations=[g or [] for g in self._found], llm_output=llm_output)


def _hit_copies(found: builtins.list[Generation]) -> builtins.list[Generation]:
    return [
        Generation(text=g.text, generation_info=_record.marked(g.generation_info)) for g in found
    ]
