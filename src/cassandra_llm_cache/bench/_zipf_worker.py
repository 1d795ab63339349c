"""One OS process of the Zipf workload: its own cache object (and driver session), told what to do
over a pipe by the parent (``_zipf``).

Separate processes, not threads: each has its own interpreter lock, so two of them use both cores
as two application servers would, and each near cache is private to its process as in production.
Commands: ``("run", seed, requests)`` times that many lookups of Zipf-drawn keys and sends the
latencies back; ``("observe", prompt)`` is one staleness trial (the parent deletes, this process
looks up until it stops being served); ``("stop",)`` ends the process.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import random
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cassandra_llm_cache.bench._payloads import LLM_STRING, chat_payload, prompt

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from langchain_core.caches import BaseCache

TAG = "zipf"
OBSERVE_PAUSE = 0.0005
"""Seconds between an observer's lookups: its time resolution, without taking a whole core."""
OBSERVE_LIMIT = 30.0


@dataclass(frozen=True)
class Spec:
    """What a worker builds: the system, and where its data lives (picklable)."""

    system: str
    keys: int
    exponent: float
    contact_points: tuple[str, ...] = ()
    port: int = 9042
    keyspace: str = ""
    table_name: str = ""
    redis_url: str = ""
    ttl_seconds: int = 86400
    near: bool = False
    refresh_seconds: float = 1.0
    fill: int = 0
    """Entries this worker stores itself before it starts (the in-process cache only)."""


def cumulative_weights(keys: int, exponent: float) -> list[float]:
    """Zipf's law over ranks 1..``keys``: the running sum of ``1 / rank ** exponent``."""
    return list(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, keys + 1)))


def hit_mass_keys(cumulative: list[float], share: float) -> int:
    """How many of the most frequent keys carry ``share`` of all requests."""
    return min(len(cumulative), bisect.bisect_left(cumulative, share * cumulative[-1]) + 1)


def draw(seed: int, count: int, cumulative: list[float]) -> list[int]:
    """``count`` Zipf-distributed ranks (0 = most frequent), reproducible from ``seed``."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not security
    return rng.choices(range(len(cumulative)), cum_weights=cumulative, k=count)


def build_cache(spec: Spec) -> tuple[BaseCache, Any]:
    """The cache this worker measures, and what to close at the end."""
    from cassandra_llm_cache.bench._node import Where, connect

    if spec.system == "memory":
        from langchain_core.caches import InMemoryCache

        return InMemoryCache(), None
    if spec.system == "redis":
        from langchain_redis import RedisCache

        cache: Any = RedisCache(redis_url=spec.redis_url, ttl=spec.ttl_seconds, prefix="zipf")
        return cache, cache.redis.close
    node = connect(Where(spec.contact_points, spec.port), spec.keyspace)
    if spec.system == "legacy":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import cassio
            from langchain_community.cache import CassandraCache as LegacyCassandraCache

        cassio.init(session=node.session, keyspace=spec.keyspace)
        legacy = LegacyCassandraCache(
            session=node.session,
            keyspace=spec.keyspace,
            table_name=spec.table_name,
            ttl_seconds=spec.ttl_seconds,
        )
        return legacy, node.close
    from cassandra_llm_cache import CassandraCache, NearCache
    from cassandra_llm_cache.bench._ours import SAME_FOOTING

    near = NearCache(refresh_seconds=spec.refresh_seconds) if spec.near else None
    ours = CassandraCache(
        session=node.session,
        keyspace=spec.keyspace,
        table_name=spec.table_name,
        ttl_seconds=spec.ttl_seconds,
        near_cache=near,
        **SAME_FOOTING,
    )
    return ours, node.close


def _run(cache: BaseCache, seed: int, requests: int, cumulative: list[float]) -> dict[str, Any]:
    prompts = [prompt(rank, TAG) for rank in draw(seed, requests, cumulative)]
    lookup, llm = cache.lookup, LLM_STRING
    latencies: list[int] = []
    append = latencies.append
    clock = time.perf_counter_ns
    hits = 0
    near_before = _near_hits(cache)
    cpu_start = time.process_time()
    wall_start = clock()
    for text in prompts:
        started = clock()
        found = lookup(text, llm)
        append(clock() - started)
        if found is not None:
            hits += 1
    wall = (clock() - wall_start) / 1e9
    cpu = time.process_time() - cpu_start
    return {
        "latencies_ns": latencies,
        "hits": hits,
        "near_hits": _near_hits(cache) - near_before,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
    }


def _near_hits(cache: BaseCache) -> int:
    stats = getattr(cache, "stats", None)
    return int(stats().near_hits) if callable(stats) else 0


def _observe(cache: BaseCache, text: str) -> dict[str, Any]:
    """Look ``text`` up until it is kept here and say so; then until it stops being served."""
    deadline = time.monotonic() + OBSERVE_LIMIT
    while cache.lookup(text, LLM_STRING) is None:  # first: read from Cassandra, kept in memory
        if time.monotonic() > deadline:
            return {"error": "the entry was never found"}
        time.sleep(OBSERVE_PAUSE)
    return {"ready": time.monotonic()}


def _until_gone(cache: BaseCache, text: str) -> dict[str, Any]:
    deadline = time.monotonic() + OBSERVE_LIMIT
    served = 0
    while cache.lookup(text, LLM_STRING) is not None:
        served += 1
        if time.monotonic() > deadline:
            return {"error": f"still served after {OBSERVE_LIMIT:.0f} s"}
        time.sleep(OBSERVE_PAUSE)
    return {"gone": time.monotonic(), "served": served}


def serve(connection: Connection, spec: Spec) -> None:
    """The worker's main loop (the target of a spawned process)."""
    warnings.simplefilter("ignore")
    cache, close = build_cache(spec)
    cumulative = cumulative_weights(spec.keys, spec.exponent)
    if spec.fill:
        generations = chat_payload(2048).generations
        for rank in range(spec.fill):
            cache.update(prompt(rank, TAG), LLM_STRING, generations)
    connection.send({"ready": True})
    try:
        while True:
            command = connection.recv()
            if command[0] == "run":
                connection.send(_run(cache, command[1], command[2], cumulative))
            elif command[0] == "observe":
                connection.send(_observe(cache, command[1]))
            elif command[0] == "until_gone":
                connection.send(_until_gone(cache, command[1]))
            else:
                break
    finally:
        if close is not None:
            with contextlib.suppress(Exception):
                close()
