"""The same hit / miss / update measurements for any LangChain ``BaseCache``."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cassandra_llm_cache.bench._node import retrying
from cassandra_llm_cache.bench._payloads import (
    LLM_STRING,
    Payload,
    missing_prompt,
    new_prompt,
    prompt,
)
from cassandra_llm_cache.bench._scenario import HIT, MISS, UPDATE, ExpectationError, Scenario

if TYPE_CHECKING:
    from collections.abc import Callable

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
    # Database tables the subject created (dropped at the end unless --keep-tables).
    tables: tuple[str, ...] = ()
    # The semantic cache's memoised embedding (a VectorBook), to register vectors with.
    book: Any = None
    # Filled in by ``fill``: whether a hit returned exactly what was stored, per payload label.
    fidelity: dict[str, bool] = field(default_factory=dict)


def fill(subject: CacheSubject, payload: Payload, count: int) -> None:
    """Store ``count`` entries and check the first one reads back equal."""
    cache, generations, tag = subject.cache, payload.generations, payload.label
    for index in range(count):
        retrying(functools.partial(cache.update, prompt(index, tag), LLM_STRING, generations))
    subject.fidelity[tag] = cache.lookup(prompt(0, tag), LLM_STRING) == generations


def _sync_scenarios(subject: CacheSubject, payload: Payload, count: int) -> list[Scenario]:
    cache, generations, tag, llm = subject.cache, payload.generations, payload.label, LLM_STRING
    stored = [prompt(index, tag) for index in range(count)]
    lookup, update = cache.lookup, cache.update

    def hit(i: int) -> None:
        if lookup(stored[i % count], llm) is None:
            raise ExpectationError(f"{subject.system}: a stored entry missed")

    def miss(i: int) -> None:
        if lookup(missing_prompt(i, tag), llm) is not None:
            raise ExpectationError(f"{subject.system}: an absent entry hit")

    def write(i: int) -> None:
        update(new_prompt(i, tag), llm, generations)

    system, label, note = subject.system, payload.label, subject.note
    return [
        Scenario(system, HIT, label, sync_op=hit, note=note),
        Scenario(system, MISS, label, sync_op=miss, note=note),
        Scenario(system, UPDATE, label, sync_op=write, note=note),
    ]


def _async_scenarios(subject: CacheSubject, payload: Payload, count: int) -> list[Scenario]:
    cache, generations, tag, llm = subject.cache, payload.generations, payload.label, LLM_STRING
    stored = [prompt(index, tag) for index in range(count)]
    alookup, aupdate = cache.alookup, cache.aupdate

    async def ahit(i: int) -> None:
        if await alookup(stored[i % count], llm) is None:
            raise ExpectationError(f"{subject.system}: a stored entry missed")

    async def amiss(i: int) -> None:
        if await alookup(missing_prompt(i, tag), llm) is not None:
            raise ExpectationError(f"{subject.system}: an absent entry hit")

    async def awrite(i: int) -> None:
        await aupdate(new_prompt(i, tag), llm, generations)

    operations = {HIT: ahit, MISS: amiss, UPDATE: awrite}
    return [
        Scenario(
            subject.system, operation, payload.label, concurrency, async_op=operations[operation]
        )
        for concurrency in subject.concurrencies
        for operation in subject.async_operations
    ]


def scenarios(subject: CacheSubject, payload: Payload, count: int) -> list[Scenario]:
    """Sync hit, miss and update, then the async operations at each in-flight level."""
    return _sync_scenarios(subject, payload, count) + _async_scenarios(subject, payload, count)
