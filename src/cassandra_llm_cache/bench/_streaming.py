"""Streaming through ``CachedChatModel``: time to first chunk and total time, hit and miss.

The wrapped model streams a 2 KB answer in ``CHUNKS`` pieces with no delay at all, so every
microsecond measured is LangChain's streaming plumbing, the wrapper and the cache, never the model.
Three things are compared, sync (``stream``) and async (``astream``), one call at a time:

- the bare model streaming the answer (LangChain's own cost of a stream: the reference);
- a replay: the wrapper finds the answer in this package's ``CassandraCache`` and streams it back
  in the recorded chunks (one key read, then the replay);
- a miss: the wrapper looks the key up, streams the model's chunks live and stores the answer at
  the end, with ``coalesce="process"`` (single-flight bookkeeping) and with ``coalesce=None``.

A miss's time to first chunk minus the bare model's is what the wrapper adds before a user sees
anything when the cache cannot help: the key read plus the wrapper's own work.
"""

from __future__ import annotations

import functools
import gc
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from cassandra_llm_cache.bench._node import progress, retrying
from cassandra_llm_cache.bench._payloads import _text
from cassandra_llm_cache.bench._scenario import ExpectationError
from cassandra_llm_cache.bench._stats import Sample, Summary, median_summary, summarize

if TYPE_CHECKING:
    import asyncio
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    from langchain_core.caches import BaseCache
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.messages import BaseMessage
    from langchain_core.messages.ai import UsageMetadata

CHUNKS = 60
ANSWER_CHARS = 2048
AIM_ADDED_TTFC_US = 1000.0
"""Issue 16's aim for what the wrapper adds to the time to first chunk on a miss (p50)."""

BARE = "bare model"
REPLAY = "replay (hit)"
MISS_PROCESS = 'miss, coalesce="process"'
MISS_NONE = "miss, coalesce=None"
CASES = (BARE, REPLAY, MISS_PROCESS, MISS_NONE)
MODES = ("sync", "async")

USAGE = cast("UsageMetadata", {"input_tokens": 40, "output_tokens": 400, "total_tokens": 440})

Timing = tuple[int, int]
"""Nanoseconds to the first chunk and to the end of the stream."""


def answer_pieces(chunks: int = CHUNKS, length: int = ANSWER_CHARS) -> list[str]:
    """A ``length``-character answer cut at word boundaries into ``chunks`` pieces."""
    words = _text(length, seed=length).split(" ")
    words = [word if i == 0 else " " + word for i, word in enumerate(words)]
    per_piece, extra = divmod(len(words), chunks)
    pieces, start = [], 0
    for index in range(chunks):
        end = start + per_piece + (1 if index < extra else 0)
        pieces.append("".join(words[start:end]))
        start = end
    return pieces


class StreamingChatModel(BaseChatModel):
    """Streams a fixed answer in pieces instantly; the last chunk carries usage and finish."""

    pieces: list[str]
    _calls: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "bench-streaming-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": "bench-streaming-model", "chunks": len(self.pieces)}

    @property
    def calls(self) -> int:
        return self._calls

    def _chunks(self) -> Iterator[ChatGenerationChunk]:
        self._calls += 1
        last = len(self.pieces) - 1
        for index, piece in enumerate(self.pieces):
            if index < last:
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
            else:
                yield ChatGenerationChunk(
                    message=AIMessageChunk(
                        content=piece,
                        usage_metadata=USAGE,
                        response_metadata={"finish_reason": "stop"},
                    )
                )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        del messages, stop, run_manager, kwargs
        self._calls += 1
        return ChatResult(
            generations=[ChatGeneration(message=AIMessage(content="".join(self.pieces)))]
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        del messages, stop, run_manager, kwargs
        yield from self._chunks()

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        del messages, stop, run_manager, kwargs
        for chunk in self._chunks():
            yield chunk


def question(index: int, kind: str) -> str:
    """The prompt of stream ``index``: stored ones (``kind="stored"``) or never-asked ones."""
    return f"Streaming question {kind} {index}: explain how the cache replays a stored answer."


def _timed(model: BaseChatModel, prompt: str) -> Timing:
    clock = time.perf_counter_ns
    started = clock()
    first = 0
    count = 0
    for _ in model.stream(prompt):
        if not count:
            first = clock()
        count += 1
    ended = clock()
    if count < CHUNKS:
        raise ExpectationError(f"a stream gave {count} chunks, expected {CHUNKS}")
    return first - started, ended - started


async def _atimed(model: BaseChatModel, prompt: str) -> Timing:
    clock = time.perf_counter_ns
    started = clock()
    first = 0
    count = 0
    async for _ in model.astream(prompt):
        if not count:
            first = clock()
        count += 1
    ended = clock()
    if count < CHUNKS:
        raise ExpectationError(f"a stream gave {count} chunks, expected {CHUNKS}")
    return first - started, ended - started


@dataclass
class StreamCase:
    """One measured case: ``op(i)`` streams once and returns its timing."""

    mode: str
    case: str
    sync_op: Callable[[int], Timing] | None = None
    async_op: Callable[[int], Awaitable[Timing]] | None = None
    ttfc: list[Summary] = field(default_factory=list)
    total: list[Summary] = field(default_factory=list)
    error: str | None = None


def _case(
    mode: str,
    case: str,
    model: StreamingChatModel,
    target: BaseChatModel,
    prompt_for: Callable[[int], str],
    *,
    expect_call: bool,
) -> StreamCase:
    """A case whose op fails if a replay reaches the model, or a miss does not."""

    def check(before: int) -> None:
        if (model.calls != before) != expect_call:
            what = "a miss did not call" if expect_call else "a replay called"
            raise ExpectationError(f"{what} the model")

    def op(index: int) -> Timing:
        before = model.calls
        timing = _timed(target, prompt_for(index))
        check(before)
        return timing

    async def aop(index: int) -> Timing:
        before = model.calls
        timing = await _atimed(target, prompt_for(index))
        check(before)
        return timing

    if mode == "sync":
        return StreamCase(mode, case, sync_op=op)
    return StreamCase(mode, case, async_op=aop)


def build_cases(cache: BaseCache, stored: int) -> list[StreamCase]:
    """The eight cases (four per mode) on ``cache``, whose ``stored`` answers are filled here."""
    from cassandra_llm_cache import CachedChatModel

    model = StreamingChatModel(pieces=answer_pieces(), cache=False)
    process = CachedChatModel(model, cache, coalesce="process")
    alone = CachedChatModel(model, cache, coalesce=None)
    for index in range(stored):  # streamed through the wrapper: the recording is stored too
        retrying(functools.partial(_timed, process, question(index, "stored")))

    def stored_question(index: int) -> str:
        return question(index % stored, "stored")

    cases: list[StreamCase] = []
    for mode in MODES:
        bare = functools.partial(question, kind="bare")
        fresh = functools.partial(question, kind=f"{mode}-process")
        fresh_alone = functools.partial(question, kind=f"{mode}-none")
        cases += [
            _case(mode, BARE, model, model, bare, expect_call=True),
            _case(mode, REPLAY, model, process, stored_question, expect_call=False),
            _case(mode, MISS_PROCESS, model, process, fresh, expect_call=True),
            _case(mode, MISS_NONE, model, alone, fresh_alone, expect_call=True),
        ]
    return cases


def _run_case(case: StreamCase, start: int, ops: int, loop: asyncio.AbstractEventLoop) -> None:
    """``ops`` streams of ``case`` from index ``start``, one at a time; keeps the summaries."""
    ttfc: list[int] = []
    total: list[int] = []
    cpu_start = time.process_time()
    wall_start = time.perf_counter()
    if case.sync_op is not None:
        for index in range(start, start + ops):
            first, whole = case.sync_op(index)
            ttfc.append(first)
            total.append(whole)
    else:
        assert case.async_op is not None
        op = case.async_op

        async def many() -> None:
            for index in range(start, start + ops):
                first, whole = await op(index)
                ttfc.append(first)
                total.append(whole)

        loop.run_until_complete(many())
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    case.ttfc.append(summarize(Sample(ops, wall, cpu, ttfc)))
    case.total.append(summarize(Sample(ops, wall, cpu, total)))


def measure(
    cases: list[StreamCase], *, repetitions: int, ops: int, loop: asyncio.AbstractEventLoop
) -> None:
    """A warm-up of each case, then ``repetitions`` rounds, every case once per round."""
    warmup = max(5, ops // 4)
    index = 0
    for repetition in range(repetitions + 1):
        if repetition:
            progress(f"streaming: repetition {repetition}/{repetitions}")
            gc.collect()
        for case in cases:
            if case.error is not None:
                continue
            count = ops if repetition else warmup
            try:
                _run_case(case, index, count, loop)
            except Exception as error:  # noqa: BLE001 - one broken case must not end the run
                case.error = f"{type(error).__name__}: {str(error)[:200]}"
                progress(f"  streaming {case.mode} {case.case} failed: {case.error}")
            index += count
        if not repetition:  # the warm-up's figures are not kept
            for case in cases:
                case.ttfc.clear()
                case.total.clear()


def _added(cases: list[StreamCase], mode: str, case: str) -> dict[str, Any] | None:
    """Per repetition, the miss's TTFC p50 minus the bare model's; the median of those."""
    bare = next(c for c in cases if (c.mode, c.case) == (mode, BARE))
    miss = next(c for c in cases if (c.mode, c.case) == (mode, case))
    pairs = list(zip(miss.ttfc, bare.ttfc, strict=False))
    if not pairs or miss.error or bare.error:
        return None
    differences = [m.p50_us - b.p50_us for m, b in pairs]
    added = statistics.median(differences)
    return {
        "mode": mode,
        "case": case,
        "added_ttfc_p50_us": round(added, 1),
        "per_repetition_us": [round(value, 1) for value in differences],
        "aim_us": AIM_ADDED_TTFC_US,
        "met": added < AIM_ADDED_TTFC_US,
    }


def part(cases: list[StreamCase], *, repetitions: int, ops: int) -> dict[str, Any]:
    """The report's ``streaming`` part (JSON-ready)."""
    rows: list[dict[str, Any]] = []
    for case in cases:
        row: dict[str, Any] = {"mode": case.mode, "case": case.case}
        if case.error is not None:
            row["error"] = case.error
        if case.ttfc:
            row["ttfc"] = median_summary(case.ttfc).as_dict()
            row["total"] = median_summary(case.total).as_dict()
            row["repetitions"] = [
                {"ttfc_p50_us": round(t.p50_us, 1), "total_p50_us": round(w.p50_us, 1)}
                for t, w in zip(case.ttfc, case.total, strict=True)
            ]
        rows.append(row)
    added = [
        found
        for mode in MODES
        for miss in (MISS_PROCESS, MISS_NONE)
        if (found := _added(cases, mode, miss)) is not None
    ]
    return {
        "chunks": CHUNKS,
        "answer_chars": ANSWER_CHARS,
        "repetitions": repetitions,
        "ops": ops,
        "results": rows,
        "added_ttfc": added,
    }


def run_streaming(
    cache: BaseCache, *, repetitions: int, ops: int, stored: int, loop: asyncio.AbstractEventLoop
) -> dict[str, Any]:
    """Fill ``stored`` answers through the wrapper, measure every case, return the part."""
    progress(f"streaming: {stored} answers stored, {len(CASES) * len(MODES)} cases x {ops}")
    cases = build_cases(cache, stored)
    measure(cases, repetitions=repetitions, ops=ops, loop=loop)
    for case in cases:
        if case.ttfc:
            t, w = median_summary(case.ttfc), median_summary(case.total)
            progress(
                f"  streaming {case.mode} {case.case}: first chunk p50 {t.p50_us:.0f} us, "
                f"total p50 {w.p50_us:.0f} us"
            )
    return part(cases, repetitions=repetitions, ops=ops)
