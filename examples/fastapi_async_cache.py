"""A FastAPI app whose chat endpoint uses the async cache under concurrent requests.

Serve it (with CASSANDRA_CONTACT_POINTS and CASSANDRA_KEYSPACE set):
    uvicorn examples.fastapi_async_cache:app
Or run this file: it sends 50 concurrent requests through the app in-process and prints the
timings (no server, no network).

The cache's async methods never block the event loop (no thread pool either), so while one
request waits on Cassandra the server keeps handling the others.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel

from cassandra_llm_cache import CassandraCache, init

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


class SlowAsyncModel(BaseChatModel):
    """Stands in for a remote model: 300 ms per answer, awaited without blocking."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "slow-async-example-model"

    def _generate(self, *_: Any, **__: Any) -> ChatResult:
        raise NotImplementedError("this example model is async only")

    async def _agenerate(self, messages: list[BaseMessage], *_: Any, **__: Any) -> ChatResult:
        await asyncio.sleep(0.3)
        self.calls += 1
        text = f"Answer to: {messages[-1].content}"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


class Question(BaseModel):
    text: str


state: dict[str, Any] = {}


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    init(auto=True)
    # ASYNC setup: the table is created in the background; the first requests wait for it
    # without blocking the loop.
    cache = CassandraCache(table_name="example_fastapi_cache", setup_mode="async")
    state["cache"] = cache
    state["model"] = SlowAsyncModel(cache=cache)
    yield
    state.clear()


app = FastAPI(lifespan=lifespan)


@app.post("/ask")
async def ask(question: Question) -> dict[str, str]:
    answer = await state["model"].ainvoke(question.text)
    return {"answer": str(answer.content)}


@app.get("/stats")
async def stats() -> dict[str, Any]:
    cache_stats = state["cache"].stats()
    return {
        "hits": cache_stats.hits,
        "misses": cache_stats.misses,
        "model_calls": state["model"].calls,
    }


async def demo(requests: int = 50) -> dict[str, Any]:
    """Send `requests` concurrent questions (5 distinct ones, each asked many times) twice."""
    import httpx

    async with lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
            questions = [f"question {i % 5}" for i in range(requests)]
            timings = []
            for round_name in ("cold", "warm"):
                began = time.perf_counter()
                answers = await asyncio.gather(
                    *(client.post("/ask", json={"text": q}) for q in questions)
                )
                seconds = time.perf_counter() - began
                timings.append(seconds)
                assert all(a.is_success for a in answers)
                print(f"{round_name}: {requests} concurrent requests in {seconds * 1000:.0f} ms")
            summary = (await client.get("/stats")).json()
            await state["cache"].aclear()
    print(f"cache and model: {summary}")
    return {"timings": timings, **summary}


if __name__ == "__main__":
    asyncio.run(demo())
