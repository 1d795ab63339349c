"""End to end: a LangChain chat model's ``invoke`` / ``ainvoke`` served from each cache."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from cassandra_llm_cache.bench._node import retrying
from cassandra_llm_cache.bench._scenario import (
    AINVOKE_HIT,
    INVOKE_HIT,
    NO_CACHE,
    ExpectationError,
    Scenario,
)

if TYPE_CHECKING:
    from langchain_core.caches import BaseCache
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.messages import BaseMessage

    from cassandra_llm_cache.bench._payloads import Payload


class PayloadChatModel(BaseChatModel):
    """A chat model that answers instantly with the benchmark payload and counts its calls."""

    generation: ChatGeneration
    label: str
    _calls: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "bench-payload-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": "bench-payload-model", "payload": self.label}

    @property
    def calls(self) -> int:
        return self._calls

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        del messages, stop, run_manager, kwargs
        self._calls += 1
        return ChatResult(generations=[self.generation])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        del messages, stop, run_manager, kwargs
        self._calls += 1
        return ChatResult(generations=[self.generation])


def _questions(payload: Payload, count: int) -> list[str]:
    return [
        f"Question {payload.label} number {index}: summarise the attached report briefly."
        for index in range(count)
    ]


def model_for(cache: BaseCache | bool, payload: Payload) -> PayloadChatModel:
    return PayloadChatModel(generation=payload.generations[0], label=payload.label, cache=cache)


def fill(model: PayloadChatModel, payload: Payload, count: int) -> None:
    """Call the model once per question so each answer is stored by the model's cache."""
    for question in _questions(payload, count):
        retrying(functools.partial(model.invoke, question))


def scenarios(system: str, model: PayloadChatModel, payload: Payload, count: int) -> list[Scenario]:
    """invoke and ainvoke, one at a time; with a cache each call must be a hit."""
    questions = _questions(payload, count)
    invoke, ainvoke = model.invoke, model.ainvoke
    cached = system != NO_CACHE

    def check(before: int) -> None:
        if cached and model.calls != before:
            raise ExpectationError(f"{system}: invoke reached the model instead of the cache")

    def call(i: int) -> None:
        before = model.calls
        invoke(questions[i % count])
        check(before)

    async def acall(i: int) -> None:
        before = model.calls
        await ainvoke(questions[i % count])
        check(before)

    operation_sync = INVOKE_HIT if cached else "invoke"
    operation_async = AINVOKE_HIT if cached else "ainvoke"
    return [
        Scenario(system, operation_sync, payload.label, sync_op=call),
        Scenario(system, operation_async, payload.label, 1, async_op=acall),
    ]
