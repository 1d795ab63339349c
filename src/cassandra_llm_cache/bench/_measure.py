"""Running scenarios: a warm-up each, then repetitions interleaved across all scenarios.

Interleaving (rep 1 of every scenario, then rep 2, ...) spreads the machine's background noise
over every system alike, so the ratios between them stay meaningful on a shared machine.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cassandra_llm_cache.bench._node import progress
from cassandra_llm_cache.bench._stats import Sample, Summary, median_summary, spread, summarize
from cassandra_llm_cache.bench._timing import time_async, time_sync

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from cassandra_llm_cache.bench._options import BenchOptions
    from cassandra_llm_cache.bench._scenario import Scenario


@dataclass
class Result:
    scenario: Scenario
    repetitions: list[Summary] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> Summary:
        return median_summary(self.repetitions)

    def as_dict(self) -> dict[str, Any]:
        scenario = self.scenario
        data: dict[str, Any] = {
            "system": scenario.system,
            "operation": scenario.operation,
            "payload": scenario.payload,
            "mode": scenario.mode,
            "concurrency": scenario.concurrency,
            "note": scenario.note,
        }
        if self.error is not None:
            data["error"] = self.error
        if self.repetitions:
            data["median"] = self.median.as_dict()
            data["spread_p50"] = round(spread([s.p50_us for s in self.repetitions]), 3)
            data["spread_throughput"] = round(spread([s.throughput for s in self.repetitions]), 3)
            data["repetitions"] = [s.as_dict() for s in self.repetitions]
        return data


class Runner:
    """Runs scenarios on one event loop; every call of an op gets a fresh index."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        sync_ops: int,
        async_ops: int,
        warmup_sync_ops: int,
        warmup_async_ops: int,
        report: Callable[[str], None] = progress,
    ) -> None:
        self._loop = loop
        self._sync_ops = sync_ops
        self._async_ops = async_ops
        self._warmup_sync_ops = warmup_sync_ops
        self._warmup_async_ops = warmup_async_ops
        self._next_index: dict[str, int] = {}
        self._report = report

    @classmethod
    def from_options(cls, loop: asyncio.AbstractEventLoop, options: BenchOptions) -> Runner:
        """A runner with the operation counts of ``options``."""
        return cls(
            loop,
            sync_ops=options.sync_ops,
            async_ops=options.async_ops,
            warmup_sync_ops=options.warmup_sync_ops,
            warmup_async_ops=options.warmup_async_ops,
        )

    def _ops(self, scenario: Scenario, *, warmup: bool) -> int:
        one_at_a_time = scenario.concurrency == 1
        if warmup:
            return self._warmup_sync_ops if one_at_a_time else self._warmup_async_ops
        return self._sync_ops if one_at_a_time else self._async_ops

    def run_once(self, scenario: Scenario, ops: int) -> Sample:
        start = self._next_index.get(scenario.key, 0)
        self._next_index[scenario.key] = start + ops
        indices = range(start, start + ops)
        if scenario.sync_op is not None:
            return time_sync(scenario.sync_op, indices)
        assert scenario.async_op is not None
        return self._loop.run_until_complete(
            time_async(scenario.async_op, indices, scenario.concurrency)
        )

    def measure(self, scenarios: list[Scenario], repetitions: int) -> list[Result]:
        results = [Result(scenario) for scenario in scenarios]
        for result in results:
            self._attempt(result, warmup=True)
        for repetition in range(1, repetitions + 1):
            self._report(f"repetition {repetition}/{repetitions}")
            # Once per round, not per scenario: a full collection takes ~0.5 s on this heap.
            gc.collect()
            for result in results:
                if result.error is None:
                    self._attempt(result, warmup=False)
        for result in results:
            if result.repetitions:
                m = result.median
                self._report(
                    f"  {result.scenario.key}: p50 {m.p50_us:.0f} us, p99 {m.p99_us:.0f} us, "
                    f"{m.throughput:.0f} ops/s, CPU {m.cpu_us_per_op:.0f} us/op"
                )
        return results

    def _attempt(self, result: Result, *, warmup: bool) -> None:
        try:
            sample = self.run_once(result.scenario, self._ops(result.scenario, warmup=warmup))
        except Exception as error:  # noqa: BLE001 - one broken system must not end the run
            result.error = f"{type(error).__name__}: {str(error)[:200]}"
            self._report(f"  {result.scenario.key} failed: {result.error}")
            return
        if not warmup:
            result.repetitions.append(summarize(sample))
