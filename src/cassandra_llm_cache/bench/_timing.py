"""Timing loops: one operation at a time (sync) or N in flight on an event loop (async).

Wall time comes from ``perf_counter_ns``; client CPU from ``process_time`` (all threads of this
process, so the driver's I/O thread counts, the database server does not).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

from cassandra_llm_cache.bench._stats import Sample

SyncOp = Callable[[int], object]
AsyncOp = Callable[[int], Awaitable[object]]


def time_sync(op: SyncOp, indices: range) -> Sample:
    """Run ``op(i)`` for each index, one after the other."""
    latencies: list[int] = []
    append = latencies.append
    clock = time.perf_counter_ns
    cpu_start = time.process_time()
    wall_start = clock()
    for index in indices:
        started = clock()
        op(index)
        append(clock() - started)
    wall = (clock() - wall_start) / 1e9
    cpu = time.process_time() - cpu_start
    return Sample(ops=len(indices), wall_seconds=wall, cpu_seconds=cpu, latencies_ns=latencies)


async def time_async(op: AsyncOp, indices: range, concurrency: int) -> Sample:
    """Run ``op(i)`` for each index with ``concurrency`` operations in flight at all times."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    latencies: list[int] = []
    append = latencies.append
    clock = time.perf_counter_ns
    shared: Iterator[int] = iter(indices)

    async def worker() -> None:
        for index in shared:
            started = clock()
            await op(index)
            append(clock() - started)

    cpu_start = time.process_time()
    wall_start = clock()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(indices)))))
    wall = (clock() - wall_start) / 1e9
    cpu = time.process_time() - cpu_start
    return Sample(ops=len(indices), wall_seconds=wall, cpu_seconds=cpu, latencies_ns=latencies)
