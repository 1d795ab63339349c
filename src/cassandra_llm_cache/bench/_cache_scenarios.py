"""The same hit / miss / update measurements for any LangChain ``BaseCache``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cassandra_llm_cache.bench._payloads import (
    LLM_STRING,
    Payload,
    missing_prompt,
    new_prompt,
    prompt,
)
from cassandra_llm_cache.bench._scenario import HIT, MISS, UPDATE, ExpectationError, Scenario

if TYPE_CHECKING:
    from langchain_core.caches import BaseCache


@dataclass
class CacheSubject:
    """A cache under test. ``concurrencies`` are the in-flight levels of its async measurements."""

    system: str
    cache: BaseCache
    concurrencies: tuple[int, ...] = ()
    async_operations: tuple[str, ...] = (HIT, UPDATE)
    note: str = ""
    close: Callable[[], None] | None = field(default=None, repr=False)
    # Filled in by ``fill``: whether a hit returned exactly what was stored, per payload label.
    fidelity: dict[str, bool] = field(default_factory=dict)


def fill(subject: CacheSubject, payload: Payload, count: int) -> None:
    """Store ``count`` entries and check the first one reads back equal."""
    cache, generations, tag = subject.cache, payload.generations, payload.label
    for index in range(count):
        cache.update(prompt(index, tag), LLM_STRING, generations)
    subject.fidelity[tag] = cache.lookup(prompt(0, tag), LLM_STRING) == generations


def scenarios(subject: CacheSubject, payload: Payload, count: int) -> list[Scenario]:
    cache, generations, tag, llm = subject.cache, payload.generations, payload.label, LLM_STRING
    stored = [prompt(index, tag) for index in range(count)]
    lookup, alookup, update, aupdate = cache.lookup, cache.alookup, cache.update, cache.aupdate

    def hit(i: int) -> None:
        if lookup(stored[i % count], llm) is None:
            raise ExpectationError(f"{subject.system}: a stored entry missed")

    def miss(i: int) -> None:
        if lookup(missing_prompt(i, tag), llm) is not None:
            raise ExpectationError(f"{subject.system}: an absent entry hit")

    def write(i: int) -> None:
        update(new_prompt(i, tag), llm, generations)

    async def ahit(i: int) -> None:
        if await alookup(stored[i % count], llm) is None:
            raise ExpectationError(f"{subject.system}: a stored entry missed")

    async def amiss(i: int) -> None:
        if await alookup(missing_prompt(i, tag), llm) is not None:
            raise ExpectationError(f"{subject.system}: an absent entry hit")

    async def awrite(i: int) -> None:
        await aupdate(new_prompt(i, tag), llm, generations)

    system, label = subject.system, payload.label
    found = [
        Scenario(system, HIT, label, sync_op=hit, note=subject.note),
        Scenario(system, MISS, label, sync_op=miss, note=subject.note),
        Scenario(system, UPDATE, label, sync_op=write, note=subject.note),
    ]
    async_ops = {HIT: ahit, MISS: amiss, UPDATE: awrite}
    for concurrency in subject.concurrencies:
        found.extend(
            Scenario(system, operation, label, concurrency, async_op=async_ops[operation])
            for operation in subject.async_operations
        )
    return found
