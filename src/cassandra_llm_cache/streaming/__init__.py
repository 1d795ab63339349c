"""Streaming through a cache with single-flight: the ``CachedChatModel`` and ``CachedLLM`` wrappers.

A wrapper looks a request up with the same keys langchain-core uses for the wrapped model, replays
a hit as a stream of chunks (paced as recorded, if asked), streams a miss live while recording its
chunk boundaries, stores it once the stream ends normally, and makes concurrent identical
requests share one model call (in one process, or across processes with a lease row).
"""

from __future__ import annotations

from cassandra_llm_cache._errors import CoalescedCallError
from cassandra_llm_cache.streaming._chat import CachedChatModel
from cassandra_llm_cache.streaming._learning import LearningStats
from cassandra_llm_cache.streaming._llm import CachedLLM
from cassandra_llm_cache.streaming._record import CACHE_MARK_KEY, RECORDING_KEY

__all__ = [
    "CACHE_MARK_KEY",
    "RECORDING_KEY",
    "CachedChatModel",
    "CachedLLM",
    "CoalescedCallError",
    "LearningStats",
]
