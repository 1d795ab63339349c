"""A LangChain chat model with the exact cache: slow on a miss, fast on a hit.

Run (with CASSANDRA_CONTACT_POINTS and CASSANDRA_KEYSPACE set):
    python examples/chat_model_with_cache.py

Any chat model works the same way (ChatOpenAI, ChatAnthropic, ...); this one stands in for a
remote model: it waits half a second, then answers.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from cassandra_llm_cache import CassandraCache, init


class SlowModel(BaseChatModel):
    """Answers after `latency` seconds, with usage metadata like a real provider."""

    latency: float = 0.5
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "slow-example-model"

    def _generate(self, messages: list[BaseMessage], *_: Any, **__: Any) -> ChatResult:
        time.sleep(self.latency)
        self.calls += 1
        message = AIMessage(
            content=f"You asked {len(str(messages[-1].content))} characters' worth.",
            usage_metadata={"input_tokens": 9, "output_tokens": 7, "total_tokens": 16},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def main() -> None:
    init(auto=True)  # CASSANDRA_CONTACT_POINTS, CASSANDRA_KEYSPACE, ...
    cache = CassandraCache(table_name="example_chat_cache", ttl_seconds=3600)
    model = SlowModel(cache=cache)  # or: set_llm_cache(cache) for every model

    question = "Why is a partition key important in Cassandra?"
    for attempt in ("first (miss)", "second (hit)"):
        began = time.perf_counter()
        answer = model.invoke(question)
        print(f"{attempt}: {(time.perf_counter() - began) * 1000:7.1f} ms  {answer.content}")

    stats = cache.stats()
    print(f"model calls: {model.calls}; cache: {stats.hits} hit(s), {stats.misses} miss(es)")
    assert model.calls == 1, "the second call should have been served by the cache"


if __name__ == "__main__":
    main()
