"""Scripted fake models for the streaming tests: they count calls, stream word by word, can fail
on chosen calls, and can hold each chunk until the test lets it go (events, never sleeps)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel, BaseLLM
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import (
    ChatGeneration,
    ChatGenerationChunk,
    ChatResult,
    Generation,
    GenerationChunk,
    LLMResult,
)
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

REPLY = "the quick brown fox jumps over the lazy dog"
USAGE = {"input_tokens": 3, "output_tokens": 9, "total_tokens": 12}
WAIT = 10.0  # a bound on every wait: a broken test fails instead of hanging


class ModelError(RuntimeError):
    """What a scripted model raises on the calls it is told to fail."""


class Probe:
    """Shared by a test and its fake model: counts calls, fails some, gates chunks."""

    def __init__(self, *, fail_calls: tuple[int, ...] = (), fail_at_chunk: int | None = None):
        self.lock = threading.Lock()
        self.calls = 0
        self.fail_calls = set(fail_calls)  # 1-based call numbers that raise ModelError
        self.fail_at_chunk = fail_at_chunk  # the failing calls raise after this many chunks
        self.gates: dict[int, threading.Event] = {}  # chunk index -> released (sync)
        self.agates: dict[int, asyncio.Event] = {}  # chunk index -> released (async)
        self.produced: list[int] = []  # chunk indexes in the order the model produced them
        self.produced_event = threading.Condition(self.lock)

    def start(self) -> int:
        with self.lock:
            self.calls += 1
            return self.calls

    def failing(self, call: int) -> bool:
        return call in self.fail_calls

    def mark(self, index: int) -> None:
        with self.lock:
            self.produced.append(index)
            self.produced_event.notify_all()

    def wait_produced(self, count: int) -> None:
        with self.lock:
            assert self.produced_event.wait_for(lambda: len(self.produced) >= count, WAIT)

    def gate(self, index: int) -> None:
        event = self.gates.get(index)
        if event is not None:
            assert event.wait(WAIT), f"chunk {index} was never released"

    async def agate(self, index: int) -> None:
        event = self.agates.get(index)
        if event is not None:
            await asyncio.wait_for(event.wait(), WAIT)


def words(text: str) -> list[str]:
    pieces = text.split(" ")
    return [piece if i == 0 else " " + piece for i, piece in enumerate(pieces)]


class ScriptedChat(BaseChatModel):
    """Answers ``REPLY`` (or a tool call when tools are bound), streaming word by word."""

    model_name: str = "scripted-1"
    reply: str = REPLY
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float | None = None
    stop: list[str] | None = None
    max_retries: int | None = None
    streaming: bool = False
    probe: Any = Field(default=None, exclude=True)

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "temperature": self.temperature}

    def _start(self) -> int:
        return self.probe.start() if self.probe is not None else 0

    def _check(self, call: int) -> None:
        probe = self.probe
        if probe is not None and probe.failing(call) and probe.fail_at_chunk is None:
            raise ModelError(f"scripted failure of call {call}")

    def _message(self, kwargs: dict[str, Any]) -> AIMessage:
        tools = kwargs.get("tools")
        if tools:
            name = tools[0]["function"]["name"]
            return AIMessage(
                content="",
                tool_calls=[{"name": name, "args": {"a": 1, "b": 2}, "id": "call_1"}],
                usage_metadata=USAGE,
                response_metadata={"finish_reason": "tool_calls"},
            )
        return AIMessage(
            content=self.reply,
            usage_metadata=USAGE,
            response_metadata={"finish_reason": "stop", "model_name": self.model_name},
        )

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        call = self._start()
        if self.probe is not None:
            self.probe.gate(0)
        self._check(call)
        return ChatResult(generations=[ChatGeneration(message=self._message(kwargs))])

    def _pieces(self, kwargs: dict[str, Any]) -> list[AIMessageChunk]:
        message = self._message(kwargs)
        if message.tool_calls:
            call = message.tool_calls[0]
            return [
                AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {"name": call["name"], "args": '{"a": 1, ', "id": "call_1", "index": 0}
                    ],
                ),
                AIMessageChunk(
                    content="",
                    tool_call_chunks=[{"name": None, "args": '"b": 2}', "id": None, "index": 0}],
                    usage_metadata=USAGE,
                    response_metadata={"finish_reason": "tool_calls"},
                ),
            ]
        chunks = [AIMessageChunk(content=piece) for piece in words(self.reply)]
        chunks.append(
            AIMessageChunk(
                content="",
                usage_metadata=USAGE,
                response_metadata={"finish_reason": "stop", "model_name": self.model_name},
            )
        )
        return chunks

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        call = self._start()
        self._check(call)
        probe = self.probe
        for index, chunk in enumerate(self._pieces(kwargs)):
            if probe is not None:
                probe.gate(index)
                if probe.failing(call) and probe.fail_at_chunk == index:
                    raise ModelError(f"scripted failure of call {call} at chunk {index}")
                probe.mark(index)
            yield ChatGenerationChunk(message=chunk)

    async def _astream(self, messages, stop=None, run_manager=None, **kwargs):
        call = self._start()
        self._check(call)
        probe = self.probe
        for index, chunk in enumerate(self._pieces(kwargs)):
            if probe is not None:
                await probe.agate(index)
                if probe.failing(call) and probe.fail_at_chunk == index:
                    raise ModelError(f"scripted failure of call {call} at chunk {index}")
                probe.mark(index)
            yield ChatGenerationChunk(message=chunk)

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        call = self._start()
        if self.probe is not None:
            await self.probe.agate(0)
            if self.probe.failing(call):
                raise ModelError(f"scripted failure of call {call}")
        return ChatResult(generations=[ChatGeneration(message=self._message(kwargs))])

    def bind_tools(self, tools, *, tool_choice=None, **kwargs):
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)


class NonStreamingChat(ScriptedChat):
    """The same answers, without ``_stream``/``_astream`` (LangChain falls back to invoke)."""

    _stream = BaseChatModel._stream  # type: ignore[assignment]
    _astream = BaseChatModel._astream  # type: ignore[assignment]

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return self._generate(messages, stop=stop, **kwargs)


class TwoAnswersChat(ScriptedChat):
    """Returns two generations per call (as a model with ``n=2``)."""

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self._start()
        return ChatResult(
            generations=[
                ChatGeneration(message=AIMessage(content="first")),
                ChatGeneration(message=AIMessage(content="second")),
            ]
        )


class ScriptedLLM(BaseLLM):
    """A text-completion model answering ``REPLY`` word by word; reports its own tokens."""

    reply: str = REPLY
    probe: Any = Field(default=None, exclude=True)

    @property
    def _llm_type(self) -> str:
        return "scripted-llm"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"reply_len": len(self.reply)}

    def _generate(self, prompts, stop=None, run_manager=None, **kwargs) -> LLMResult:
        for _ in prompts:
            if self.probe is not None:
                self.probe.start()
        return LLMResult(generations=[[Generation(text=self.reply)] for _ in prompts])

    def _stream(self, prompt, stop=None, run_manager=None, **kwargs):
        if self.probe is not None:
            self.probe.start()
        for piece in words(self.reply):
            chunk = GenerationChunk(text=piece)
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk


class Tokens(BaseCallbackHandler):
    """Records the tokens LangChain reports (sync and async runs alike)."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.ends = 0

    def on_llm_new_token(self, token, **kwargs) -> None:
        self.tokens.append(token if isinstance(token, str) else str(token))

    def on_llm_end(self, response, **kwargs) -> None:
        self.ends += 1
