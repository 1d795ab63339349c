"""The last few embeddings a semantic cache computed, by text.

LangChain calls ``lookup`` and, on a miss, ``update`` with the same prompt: the vector ``lookup``
paid for is reused by ``update`` instead of being computed twice. Async requests for a text
that is already being embedded wait for that one call (one task per text and event loop, which
the waiters do not own: cancelling one waiter cancels nothing else). A failed call is never
remembered: every waiter of that call gets its error, and the next request tries again.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

DEFAULT_SIZE: Final = 16


class EmbeddingMemo:
    """A small LRU of ``embedding.embed_query`` results, shared by the sync and async paths."""

    __slots__ = ("_done", "_embedding", "_lock", "_pending", "_size")

    def __init__(self, embedding: Embeddings, size: int = DEFAULT_SIZE) -> None:
        self._embedding = embedding
        self._size = size
        self._lock = threading.Lock()
        self._done: OrderedDict[str, list[float]] = OrderedDict()
        self._pending: dict[tuple[str, asyncio.AbstractEventLoop], asyncio.Task[list[float]]] = {}

    def get(self, text: str) -> list[float]:
        """The embedding of ``text`` (``embed_query``), from the memo when it is there."""
        known = self._recall(text)
        if known is not None:
            return known
        vector = _as_floats(self._embedding.embed_query(text))
        self._remember(text, vector)
        return list(vector)

    async def aget(self, text: str) -> list[float]:
        """The embedding of ``text`` (``aembed_query``), from the memo or a shared call."""
        known = self._recall(text)
        if known is not None:
            return known
        loop = asyncio.get_running_loop()
        key = (text, loop)
        with self._lock:
            task = self._pending.get(key)
            if task is None:
                task = loop.create_task(self._compute(text))
                self._pending[key] = task
                task.add_done_callback(lambda done: self._forget(key, done))
        # The task belongs to nobody: a cancelled waiter leaves it running for the others.
        return list(await asyncio.shield(task))

    async def _compute(self, text: str) -> list[float]:
        vector = _as_floats(await self._embedding.aembed_query(text))
        self._remember(text, vector)
        return vector

    def _forget(
        self, key: tuple[str, asyncio.AbstractEventLoop], task: asyncio.Task[list[float]]
    ) -> None:
        with self._lock:
            if self._pending.get(key) is task:
                del self._pending[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so an error nobody awaited is not logged as lost

    def _recall(self, text: str) -> list[float] | None:
        with self._lock:
            vector = self._done.get(text)
            if vector is None:
                return None
            self._done.move_to_end(text)
            return list(vector)

    def _remember(self, text: str, vector: list[float]) -> None:
        with self._lock:
            self._done[text] = vector
            self._done.move_to_end(text)
            while len(self._done) > self._size:
                self._done.popitem(last=False)


def _as_floats(vector: object) -> list[float]:
    try:
        return [float(x) for x in vector]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        msg = f"the embedding returned {type(vector).__name__}, not a sequence of numbers"
        raise TypeError(msg) from None
