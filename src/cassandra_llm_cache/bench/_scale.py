"""The scale run: hit latency with 1,000,000 entries against 10,000, side by side.

Two tables of this project's cache are filled through ``aupdate`` (many in flight, bounded in
time), then hits on random stored keys are measured on both, interleaved like every other
scenario, after the node's compactions have settled.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

from cassandra_llm_cache.bench._measure import Runner
from cassandra_llm_cache.bench._node import progress
from cassandra_llm_cache.bench._payloads import LLM_STRING, Payload, chat_payload, prompt
from cassandra_llm_cache.bench._scenario import HIT, OURS, ExpectationError, Scenario

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from cassandra_llm_cache.bench._cache_scenarios import CacheSubject
    from cassandra_llm_cache.bench._node import Node
    from cassandra_llm_cache.bench._options import BenchOptions

_TAG = "scale"
_FILL_IN_FLIGHT = 64
_WRITE_ATTEMPTS = 5
_SAMPLE = 20_000
_SETTLE_SECONDS = 120.0
_FLUSH_PERIOD_MS = 1000


async def _fill(
    subject: CacheSubject, payload: Payload, entries: int, deadline: float
) -> tuple[int, set[int]]:
    """Write entries 0..entries-1 with many in flight; stop early at ``deadline``.

    Returns (how far it got, the indices that failed). A write refused by a busy node is
    retried a few times.
    """
    aupdate, generations = subject.cache.aupdate, payload.generations
    next_index = iter(range(entries))
    written = 0
    failed: set[int] = set()

    async def write(index: int) -> bool:
        try:
            await aupdate(prompt(index, _TAG), LLM_STRING, generations)
        except Exception:  # noqa: BLE001 - counted; the fill goes on
            return False
        return True

    async def worker() -> None:
        nonlocal written
        for index in next_index:
            if time.monotonic() > deadline:
                return
            written = max(written, index + 1)
            for attempt in range(_WRITE_ATTEMPTS):
                if await write(index):
                    break
                await asyncio.sleep(0.05 * 2**attempt)
            else:
                failed.add(index)

    await asyncio.gather(*(worker() for _ in range(_FILL_IN_FLIGHT)))
    return written, failed


def _pending_compactions(node: Node) -> int:
    try:
        return len(list(node.session.execute("SELECT * FROM system_views.sstable_tasks")))
    except Exception:  # noqa: BLE001 - the view is informational; absent means "unknown"
        return 0


def _settle(node: Node) -> float:
    began = time.monotonic()
    while _pending_compactions(node) and time.monotonic() - began < _SETTLE_SECONDS:
        time.sleep(2.0)
    return time.monotonic() - began


def _flush(node: Node, tables: Sequence[str], seconds: float) -> None:
    """Let the node flush the tables' memtables, so that both sizes are read from SSTables.

    A small table never leaves the memtable during a fill, a large one mostly does: without a
    flush the comparison is memory against disk, not 10,000 against 1,000,000 entries. CQL has
    no FLUSH (nodetool's needs JMX): a short ``memtable_flush_period_in_ms`` for ``seconds``,
    then off again.
    """

    def flush_period(milliseconds: int) -> None:
        for table in tables:
            node.session.execute(
                f"ALTER TABLE {table} WITH memtable_flush_period_in_ms = {milliseconds}"
            )

    flush_period(_FLUSH_PERIOD_MS)
    try:
        time.sleep(seconds)
    finally:
        flush_period(0)


def _hit_scenario(subject: CacheSubject, entries: int, failed: set[int], label: str) -> Scenario:
    rng = random.Random(entries)  # noqa: S311 - a reproducible sample, not security
    picks = (rng.randrange(entries) for _ in range(min(_SAMPLE, entries * 2)))
    sample = [prompt(index, _TAG) for index in picks if index not in failed]
    size, lookup = len(sample), subject.cache.lookup
    misses = [0]

    def hit(i: int) -> None:
        # A busy node can time a lookup out (the cache then answers a miss): tolerated up to
        # 1 % of the calls, counted, and reported; more means the figures are not hits.
        if lookup(sample[i % size], LLM_STRING) is None:
            misses[0] += 1
            if misses[0] > max(5, i // 100):
                raise ExpectationError(f"{misses[0]} stored entries missed in the scale run")

    return Scenario(f"{OURS} @ {entries:,}", HIT, label, sync_op=hit)


def run_scale(
    node: Node,
    options: BenchOptions,
    loop: asyncio.AbstractEventLoop,
    build: Callable[[str], CacheSubject],
) -> dict[str, Any]:
    """Fill both tables, measure interleaved hits, return the report's ``scale`` part."""
    try:
        return _run_scale(node, options, loop, build)
    except Exception as error:  # noqa: BLE001 - the rest of the report still gets written
        progress(f"scale run failed: {type(error).__name__}: {error}")
        return {"note": f"The scale run failed: {type(error).__name__}: {str(error)[:200]}"}


def _run_scale(
    node: Node,
    options: BenchOptions,
    loop: asyncio.AbstractEventLoop,
    build: Callable[[str], CacheSubject],
) -> dict[str, Any]:
    """Fill both tables, measure interleaved hits, return the report's ``scale`` part."""
    payload = chat_payload(2 * 1024)
    sizes = {"baseline": options.scale_baseline, "large": options.scale_entries}
    subjects = {name: build(f"scale_{name}") for name in sizes}
    reached: dict[str, int] = {}
    failures: dict[str, set[int]] = {}
    fill_report: dict[str, Any] = {}
    for name, entries in sizes.items():
        progress(f"scale: filling {entries:,} entries ({name})")
        began = time.monotonic()
        deadline = began + options.scale_time_limit
        reached[name], failures[name] = loop.run_until_complete(
            _fill(subjects[name], payload, entries, deadline)
        )
        seconds = time.monotonic() - began
        if name == "large":
            fill_report = {
                "entries": reached[name],
                "seconds": seconds,
                "rate": reached[name] / seconds,
                "concurrency": _FILL_IN_FLIGHT,
                "how": "this cache's aupdate",
                "failed": len(failures[name]),
            }
    tables = [table for subject in subjects.values() for table in subject.tables]
    flush_wait = options.scale_flush_wait
    if flush_wait > 0:
        progress(f"scale: flushing memtables for {flush_wait:.0f} s")
        _flush(node, tables, flush_wait)
    settled = _settle(node)
    scenarios = [
        _hit_scenario(subjects[name], reached[name], failures[name], payload.label)
        for name in sizes
    ]
    runner = Runner.from_options(loop, options)
    results = runner.measure(scenarios, options.repetitions)
    part: dict[str, Any] = {"payload": payload.label, "fill": fill_report}
    for name, result in zip(sizes, results, strict=True):
        part[name] = {"entries": reached[name], **result.as_dict()}
    notes = [
        f"Both tables' memtables were flushed before the lookups "
        f"({flush_wait:.0f} s of periodic flushing), so both sizes are read from SSTables."
        if flush_wait > 0
        else "Memtables were not flushed: the smaller table may be read from memory.",
        f"Compactions settled {settled:.0f} s after the fill.",
    ]
    if reached["large"] < sizes["large"]:
        notes.append(
            f"The fill stopped at its time limit ({options.scale_time_limit:.0f} s) with "
            f"{reached['large']:,} of {sizes['large']:,} entries."
        )
    part["note"] = " ".join(notes)
    if not options.keep_tables:
        for table in tables:
            node.drop(table)
    return part
