"""The Zipf workload (issue 18): skewed traffic from several processes, with and without the near
cache, against RedisCache, the legacy class and InMemoryCache; and how stale a near cache gets.

Three parts, all on 2 KB chat answers and the same keys:

- one process, one lookup at a time: a stored key's hit through ``lookup`` and through a chat
  model's ``invoke`` (the issue's near-cache targets against RedisCache and InMemoryCache);
- ``processes`` OS processes drawing keys from Zipf's law (exponent 1.1 over ``zipf_keys`` keys,
  reproducible from a seed), where the most frequent keys that carry 90% of the requests are
  stored, so about 90% are hits; lookups only (a miss is counted, nothing is written, so every
  system and repetition sees the same stored set). InMemoryCache cannot be shared between
  processes: it runs in one;
- staleness: a process keeps an entry in its near cache, the parent deletes it (its own near
  cache bumps the epoch) at a random point of the refresh cycle, and the observer reports when
  it stops serving the entry (``time.monotonic`` is one clock for all processes of a machine).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import multiprocessing
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from cassandra_llm_cache.bench import _e2e, _ours
from cassandra_llm_cache.bench._cache_scenarios import CacheSubject
from cassandra_llm_cache.bench._cache_scenarios import scenarios as cache_scenarios
from cassandra_llm_cache.bench._measure import Runner
from cassandra_llm_cache.bench._node import progress, retrying
from cassandra_llm_cache.bench._payloads import LLM_STRING, Payload, chat_payload, prompt
from cassandra_llm_cache.bench._scenario import HIT, IN_MEMORY, INVOKE_HIT, LEGACY, OURS, REDIS
from cassandra_llm_cache.bench._stats import Sample, median_summary, summarize
from cassandra_llm_cache.bench._zipf_worker import (
    TAG,
    Spec,
    cumulative_weights,
    hit_mass_keys,
    serve,
)

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from langchain_core.caches import BaseCache

    from cassandra_llm_cache.bench._node import Node
    from cassandra_llm_cache.bench._options import BenchOptions

NEAR = "cassandra-llm-cache near cache"
EXPONENT = 1.1
HIT_SHARE = 0.9
REFRESH_SECONDS = 1.0
FILL_THREADS = 8
READY_TIMEOUT = 180.0
RUN_TIMEOUT = 900.0
LABELS = {"ours": OURS, "near": NEAR, "redis": REDIS, "legacy": LEGACY, "memory": IN_MEMORY}


def _fill(cache: BaseCache, count: int, generations: Any) -> None:
    """Store ranks ``0..count-1`` from a few threads (sync calls: every cache has them)."""

    def write(rank: int) -> None:
        retrying(functools.partial(cache.update, prompt(rank, TAG), LLM_STRING, generations))

    with ThreadPoolExecutor(FILL_THREADS) as pool:
        list(pool.map(write, range(count)))


def _legacy(node: Node, ttl_seconds: int) -> BaseCache:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import cassio
        from langchain_community.cache import CassandraCache as LegacyCassandraCache

    cassio.init(session=node.session, keyspace=node.keyspace)
    cache: BaseCache = LegacyCassandraCache(
        session=node.session,
        keyspace=node.keyspace,
        table_name=node.table_name("zipf_legacy"),
        ttl_seconds=ttl_seconds,
    )
    return cache


def _near(node: Node, ttl_seconds: int) -> BaseCache:
    from cassandra_llm_cache import CassandraCache, NearCache

    cache: BaseCache = CassandraCache(
        session=node.session,
        keyspace=node.keyspace,
        table_name=node.table_name("zipf"),
        ttl_seconds=ttl_seconds,
        near_cache=NearCache(refresh_seconds=REFRESH_SECONDS),
        **_ours.SAME_FOOTING,
    )
    return cache


class _Stores:
    """The parent's cache objects on each system's store, filled; and what was skipped."""

    def __init__(self) -> None:
        self.caches: dict[str, BaseCache] = {}
        self.specs: dict[str, Spec] = {}
        self.skipped: list[dict[str, str]] = []

    def add(self, name: str, build: Callable[[], tuple[BaseCache, Spec]]) -> None:
        try:
            self.caches[name], self.specs[name] = build()
        except Exception as error:  # noqa: BLE001 - an unavailable peer is skipped with a note
            reason = f"{type(error).__name__}: {str(error)[:300]}"
            progress(f"zipf: skipping {LABELS[name]}: {reason}")
            self.skipped.append({"system": LABELS[name], "reason": reason})


def _stores(  # noqa: C901 - one small builder per system, kept side by side
    node: Node, options: BenchOptions, closers: list[Callable[[], None]]
) -> _Stores:
    ttl = options.ttl_seconds
    base = Spec(
        "ours",
        options.zipf_keys,
        EXPONENT,
        contact_points=tuple(node.contact_points),
        port=node.port,
        keyspace=node.keyspace,
        table_name=node.table_name("zipf"),
        ttl_seconds=ttl,
        refresh_seconds=REFRESH_SECONDS,
    )
    stores = _Stores()

    def ours() -> tuple[BaseCache, Spec]:
        subject = _ours.exact(node, ttl, (), stem="zipf")
        if not options.keep_tables:
            closers.extend(functools.partial(node.drop, t) for t in subject.tables)
        return subject.cache, base

    def near() -> tuple[BaseCache, Spec]:
        return _near(node, ttl), dataclasses.replace(base, near=True)

    def legacy() -> tuple[BaseCache, Spec]:
        if not options.keep_tables:
            closers.append(functools.partial(node.drop, node.table("zipf_legacy")))
        table = node.table_name("zipf_legacy")
        return _legacy(node, ttl), dataclasses.replace(base, system="legacy", table_name=table)

    def redis() -> tuple[BaseCache, Spec]:
        from langchain_redis import RedisCache

        from cassandra_llm_cache.bench._redis_server import start_redis

        server = start_redis()
        closers.append(server.stop)
        cache: Any = RedisCache(redis_url=server.url, ttl=ttl, prefix="zipf")
        closers.append(cache.redis.close)
        return cache, Spec("redis", options.zipf_keys, EXPONENT, redis_url=server.url)

    def memory() -> tuple[BaseCache, Spec]:
        from langchain_core.caches import InMemoryCache

        return InMemoryCache(), Spec("memory", options.zipf_keys, EXPONENT)

    stores.add("ours", ours)
    if "ours" in stores.caches:
        stores.add("near", near)
    peers = {"legacy": legacy, "redis": redis, "memory": memory}
    for name, build in peers.items():
        if options.wants(name):
            stores.add(name, build)
    return stores


# -- one process: lookup and invoke hits ---------------------------------------------------------
def _single_process(
    stores: _Stores, options: BenchOptions, loop: asyncio.AbstractEventLoop, stored: int
) -> list[dict[str, Any]]:
    payload = chat_payload(2048)
    keyed = Payload(TAG, payload.generations, payload.serialized)  # prompts of the stored ranks
    count = min(options.keys, stored)
    scenarios = []
    for name, cache in stores.caches.items():
        if name == "near":  # the first lookup of each key reads Cassandra and keeps the entry
            for rank in range(count):
                cache.lookup(prompt(rank, TAG), LLM_STRING)
        subject = CacheSubject(LABELS[name], cache)
        scenarios += [s for s in cache_scenarios(subject, keyed, count) if s.operation == HIT]
        if name in {"near", "memory"}:
            model = _e2e.model_for(cache, payload)
            _e2e.fill(model, payload, count)
            _e2e.fill(model, payload, count)  # the second call of each is a hit, kept in memory
            scenarios += [
                s
                for s in _e2e.scenarios(LABELS[name], model, payload, count)
                if s.operation == INVOKE_HIT
            ]
    runner = Runner.from_options(loop, options)
    progress(f"zipf: one process, {len(scenarios)} scenarios x {options.repetitions}")
    return [result.as_dict() for result in runner.measure(scenarios, options.repetitions)]


# -- several processes ---------------------------------------------------------------------------
class _Workers:
    """The spawned processes of each system, and their pipes."""

    def __init__(self) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.pipes: dict[str, list[Connection]] = {}
        self.processes: list[BaseProcess] = []

    def start(self, name: str, spec: Spec, count: int) -> None:
        for _ in range(count):
            mine, theirs = self.context.Pipe()
            process = self.context.Process(target=serve, args=(theirs, spec), daemon=True)
            process.start()
            theirs.close()
            self.processes.append(process)
            self.pipes.setdefault(name, []).append(mine)

    def wait_ready(self) -> None:
        for name, pipes in self.pipes.items():
            for pipe in pipes:
                if not pipe.poll(READY_TIMEOUT):
                    raise TimeoutError(f"a {LABELS[name]} worker did not start")
                pipe.recv()

    def ask(self, name: str, commands: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        """Send one command to each worker of ``name`` at once, then collect every answer."""
        pipes = self.pipes[name]
        for pipe, command in zip(pipes, commands, strict=True):
            pipe.send(command)
        answers = []
        for pipe in pipes:
            if not pipe.poll(RUN_TIMEOUT):
                raise TimeoutError(f"a {LABELS[name]} worker did not answer")
            answers.append(pipe.recv())
        return answers

    def stop(self) -> None:
        for pipe in (pipe for pipes in self.pipes.values() for pipe in pipes):
            with contextlib.suppress(OSError):  # a worker that already died
                pipe.send(("stop",))
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(5)


def _seed(options: BenchOptions, repetition: int, process: int) -> int:
    return options.zipf_seed + 1000 * repetition + process


def _aggregate(answers: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [value for answer in answers for value in answer["latencies_ns"]]
    requests = len(latencies)
    hits = sum(answer["hits"] for answer in answers)
    summary = summarize(
        Sample(
            ops=requests,
            wall_seconds=max(answer["wall_seconds"] for answer in answers),
            cpu_seconds=sum(answer["cpu_seconds"] for answer in answers),
            latencies_ns=latencies,
        )
    )
    return {
        "summary": summary,
        "hit_ratio": hits / requests,
        "near_share": sum(answer["near_hits"] for answer in answers) / max(1, hits),
    }


def _multi_process(
    stores: _Stores, options: BenchOptions, workers: _Workers
) -> list[dict[str, Any]]:
    names = list(stores.specs)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    errors: dict[str, str] = {}
    for repetition in range(options.repetitions + 1):  # 0: the warm-up, not kept
        if repetition:
            progress(f"zipf: repetition {repetition}/{options.repetitions}")
        for name in names:
            if name in errors:
                continue
            count = len(workers.pipes[name])
            commands = [
                ("run", _seed(options, repetition, index), options.zipf_requests)
                for index in range(count)
            ]
            try:
                answers = workers.ask(name, commands)
            except Exception as error:  # noqa: BLE001 - one broken system must not end the run
                errors[name] = f"{type(error).__name__}: {str(error)[:200]}"
                continue
            if repetition:
                runs[name].append(_aggregate(answers))
    rows = []
    for name in names:
        row: dict[str, Any] = {
            "system": LABELS[name],
            "processes": len(workers.pipes[name]),
        }
        if name in errors:
            row["error"] = errors[name]
        if runs[name]:
            row["median"] = median_summary([run["summary"] for run in runs[name]]).as_dict()
            row["hit_ratio"] = round(statistics.median(r["hit_ratio"] for r in runs[name]), 4)
            row["near_share"] = round(statistics.median(r["near_share"] for r in runs[name]), 4)
            row["repetitions"] = [run["summary"].as_dict() for run in runs[name]]
        rows.append(row)
    return rows


def _staleness(
    deleter: BaseCache, workers: _Workers, trials: int, seed: int
) -> dict[str, Any] | None:
    if trials < 1 or "near" not in workers.pipes:
        return None
    observer = workers.pipes["near"][0]
    rng = random.Random(seed)  # noqa: S311 - reproducible delete timing, not security
    generations = chat_payload(2048).generations
    seconds: list[float] = []
    errors: list[str] = []
    for trial in range(trials):
        text = prompt(trial, "staleness")
        deleter.update(text, LLM_STRING, generations)
        observer.send(("observe", text))
        ready = observer.recv()
        if "error" in ready:
            errors.append(ready["error"])
            continue
        observer.send(("until_gone", text))
        time.sleep(rng.uniform(0.0, REFRESH_SECONDS))  # a random point of the refresh cycle
        deleter.delete(text, LLM_STRING)  # type: ignore[attr-defined]
        deleted = time.monotonic()
        gone = observer.recv()
        if "error" in gone:
            errors.append(gone["error"])
            continue
        seconds.append(gone["gone"] - deleted)
    found: dict[str, Any] = {
        "trials": trials,
        "refresh_seconds": REFRESH_SECONDS,
        "errors": errors[:5],
        "failed": len(errors),
    }
    if seconds:
        ordered = sorted(seconds)
        found |= {
            "median_s": round(statistics.median(ordered), 3),
            "p90_s": round(ordered[max(0, int(0.9 * len(ordered)) - 1)], 3),
            "max_s": round(ordered[-1], 3),
            "min_s": round(ordered[0], 3),
            "within_refresh_plus_half": sum(s <= REFRESH_SECONDS + 0.5 for s in seconds),
            "measured": len(seconds),
        }
    return found


def run_zipf(
    node: Node,
    options: BenchOptions,
    loop: asyncio.AbstractEventLoop,
    closers: list[Callable[[], None]],
) -> dict[str, Any]:
    """The ``zipf`` part of the report (JSON-ready)."""
    cumulative = cumulative_weights(options.zipf_keys, EXPONENT)
    stored = hit_mass_keys(cumulative, HIT_SHARE)
    stores = _stores(node, options, closers)
    generations = chat_payload(2048).generations
    for name, cache in stores.caches.items():
        if name not in {"near", "memory"}:  # near shares ours's table; memory fills in its worker
            progress(f"zipf: storing the {stored:,} most frequent keys in {LABELS[name]}")
            _fill(cache, stored, generations)
    if "memory" in stores.caches:  # the one-process part's entries; its workers fill their own
        _fill(stores.caches["memory"], min(options.keys, stored), generations)
    single = _single_process(stores, options, loop, stored)
    workers = _Workers()
    try:
        for name, spec in stores.specs.items():
            if name == "memory":
                workers.start(name, dataclasses.replace(spec, fill=stored), 1)
            else:
                workers.start(name, spec, options.zipf_processes)
        progress(f"zipf: starting {len(workers.processes)} worker processes")
        workers.wait_ready()
        multi = _multi_process(stores, options, workers)
        staleness = None
        if "near" in stores.caches:
            progress(f"zipf: staleness, {options.staleness_trials} trials")
            staleness = _staleness(
                stores.caches["near"], workers, options.staleness_trials, options.zipf_seed
            )
    finally:
        workers.stop()
    return {
        "keys": options.zipf_keys,
        "exponent": EXPONENT,
        "stored": stored,
        "expected_hit_ratio": round(cumulative[stored - 1] / cumulative[-1], 4),
        "processes": options.zipf_processes,
        "requests": options.zipf_requests,
        "repetitions": options.repetitions,
        "seed": options.zipf_seed,
        "sync_ops": options.sync_ops,
        "single": single,
        "multi": multi,
        "staleness": staleness,
        "skipped": stores.skipped,
    }
