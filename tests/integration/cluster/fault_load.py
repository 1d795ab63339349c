"""A steady, bounded mixed load of sync and async lookups and updates, for the fault tests.

Sync workers run in threads, async workers as tasks on an event loop in their own thread, all
against one :class:`LoadTarget`. Every operation's outcome and latency is recorded, and every write
that returned without an exception is remembered as acknowledged, so that a test can check after a
fault that none was lost. The load stops by itself after ``max_seconds`` or ``max_ops``.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.outputs import Generation

if TYPE_CHECKING:
    from typing_extensions import Self


class LoadTarget(Protocol):
    """What the load drives (a cache). Updates raise when not acknowledged."""

    def lookup(self, key: str) -> str | None: ...

    def update(self, key: str, value: str) -> None: ...

    async def alookup(self, key: str) -> str | None: ...

    async def aupdate(self, key: str, value: str) -> None: ...


@dataclass(frozen=True)
class Op:
    kind: str  # lookup | update | alookup | aupdate
    key: str
    started: float  # time.monotonic()
    latency: float  # seconds
    # hit: the acknowledged value; miss: nothing, as expected (a key never written);
    # stale: nothing for an acknowledged key; wrong: another value; ok: an acknowledged write.
    outcome: str
    error: str | None = None


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(fraction * 1000) - 1]


@dataclass
class LoadResult:
    ops: list[Op]
    phases: list[tuple[str, float]]
    acknowledged: dict[str, str]
    began: float
    ended: float

    def window(self, name: str) -> tuple[float, float]:
        names = [phase for phase, _ in self.phases]
        index = names.index(name)
        start = self.phases[index][1]
        end = self.phases[index + 1][1] if index + 1 < len(self.phases) else self.ended
        return start, end

    def ops_in(self, name: str) -> list[Op]:
        start, end = self.window(name)
        return [op for op in self.ops if start <= op.started < end]

    def errors(self, name: str | None = None) -> list[Op]:
        ops = self.ops if name is None else self.ops_in(name)
        return [op for op in ops if op.outcome == "error"]

    def wrong(self) -> list[Op]:
        return [op for op in self.ops if op.outcome == "wrong"]

    def summary(self, name: str | None = None) -> dict[str, object]:
        ops = self.ops if name is None else self.ops_in(name)
        start, end = (self.began, self.ended) if name is None else self.window(name)
        latencies = sorted(op.latency * 1000 for op in ops)
        counts: dict[str, int] = {}
        for op in ops:
            counts[op.outcome] = counts.get(op.outcome, 0) + 1
        error_types: dict[str, int] = {}
        for op in ops:
            if op.error:
                error_types[op.error] = error_types.get(op.error, 0) + 1
        return {
            "phase": name or "all",
            "seconds": round(end - start, 2),
            "ops": len(ops),
            "sync_ops": sum(1 for op in ops if not op.kind.startswith("a")),
            "async_ops": sum(1 for op in ops if op.kind.startswith("a")),
            "outcomes": counts,
            "errors": counts.get("error", 0),
            "error_types": error_types,
            "p50_ms": round(percentile(latencies, 0.50), 2) if latencies else None,
            "p99_ms": round(percentile(latencies, 0.99), 2) if latencies else None,
            "max_ms": round(latencies[-1], 2) if latencies else None,
        }


@dataclass
class MixedLoad:
    """Run ``target`` under a paced mix of sync and async lookups and updates."""

    target: LoadTarget
    sync_workers: int = 2
    async_workers: int = 4
    rate_per_worker: float = 15.0  # operations per second per worker
    write_ratio: float = 0.4
    max_seconds: float = 60.0
    max_ops: int = 50_000
    value_size: int = 600
    seed: int = 5
    _ops: list[Op] = field(default_factory=list, init=False)
    _acknowledged: dict[str, str] = field(default_factory=dict, init=False)
    _keys: list[str] = field(default_factory=list, init=False)
    _phases: list[tuple[str, float]] = field(default_factory=list, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)
    _counter: itertools.count[int] = field(default_factory=itertools.count, init=False)
    _began: float = field(default=0.0, init=False)

    # -- control ----------------------------------------------------------------------------
    def start(self) -> MixedLoad:
        self._began = time.monotonic()
        self._phases.append(("baseline", self._began))
        self._deadline = self._began + self.max_seconds
        for index in range(self.sync_workers):
            self._spawn(self._sync_worker, f"sync-{index}")
        self._spawn(self._async_main, "async-loop")
        return self

    def mark(self, phase: str) -> None:
        """Start a new phase; summaries and errors can be asked per phase."""
        with self._lock:
            self._phases.append((phase, time.monotonic()))

    def stop(self, join_timeout: float = 30.0) -> LoadResult:
        self._stop.set()
        for thread in self._threads:
            thread.join(join_timeout)
        hung = [thread.name for thread in self._threads if thread.is_alive()]
        if hung:
            raise AssertionError(f"load workers did not stop: {hung}")
        with self._lock:
            return LoadResult(
                ops=sorted(self._ops, key=lambda op: op.started),
                phases=list(self._phases),
                acknowledged=dict(self._acknowledged),
                began=self._began,
                ended=time.monotonic(),
            )

    def wait_ops(self, count: int, timeout: float) -> None:
        """Wait until at least ``count`` more operations were recorded (the load is running)."""
        with self._lock:
            target = len(self._ops) + count
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self._ops) >= target:
                    return
            time.sleep(0.05)
        raise AssertionError(f"the load did not make {count} operations in {timeout} s")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30.0)

    # -- workers ----------------------------------------------------------------------------
    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=f"load-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _running(self) -> bool:
        return (
            not self._stop.is_set()
            and time.monotonic() < self._deadline
            and next(self._counter) < self.max_ops
        )

    def _plan(self, rng: random.Random, worker: str, seq: int) -> tuple[str, str, str | None]:
        """The next operation: ('update', new key, value) or ('lookup', key, expected value)."""
        with self._lock:
            if self._keys and rng.random() >= self.write_ratio:
                if rng.random() < 0.2:  # a key nobody wrote: must miss
                    return "lookup", f"absent-{worker}-{seq}", None
                key = self._keys[rng.randrange(len(self._keys))]
                return "lookup", key, self._acknowledged[key]
        key = f"k-{worker}-{seq}"
        letters = "abcdefghijklmnopqrstuvwxyz "
        value = f"value-{key}-" + "".join(rng.choice(letters) for _ in range(self.value_size))
        return "update", key, value

    def _record(self, op: Op, value: str | None = None) -> None:
        with self._lock:
            self._ops.append(op)
            if op.kind.endswith("update") and op.outcome == "ok" and value is not None:
                self._acknowledged[op.key] = value
                self._keys.append(op.key)

    @staticmethod
    def _lookup_outcome(found: str | None, expected: str | None) -> str:
        if found is None:
            return "miss" if expected is None else "stale"
        return "hit" if found == expected else "wrong"

    def _sync_worker(self) -> None:
        worker = threading.current_thread().name.rsplit("-", 1)[-1]
        rng = random.Random(f"{self.seed}-sync-{worker}")
        interval = 1.0 / self.rate_per_worker
        next_at = time.monotonic()
        seq = 0
        while self._running():
            seq += 1
            kind, key, value = self._plan(rng, f"s{worker}", seq)
            began = time.monotonic()
            try:
                if kind == "update":
                    assert value is not None
                    self.target.update(key, value)
                    outcome = "ok"
                else:
                    outcome = self._lookup_outcome(self.target.lookup(key), value)
            except Exception as error:
                self._record(Op(kind, key, began, time.monotonic() - began, "error", _name(error)))
            else:
                self._record(Op(kind, key, began, time.monotonic() - began, outcome), value)
            next_at = max(next_at + interval, time.monotonic())
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _async_main(self) -> None:
        asyncio.run(self._async_workers())

    async def _async_workers(self) -> None:
        await asyncio.gather(*(self._async_worker(index) for index in range(self.async_workers)))

    async def _async_worker(self, index: int) -> None:
        rng = random.Random(f"{self.seed}-async-{index}")
        interval = 1.0 / self.rate_per_worker
        next_at = time.monotonic()
        seq = 0
        while self._running():
            seq += 1
            kind, key, value = self._plan(rng, f"a{index}", seq)
            kind = "a" + kind
            began = time.monotonic()
            try:
                if kind == "aupdate":
                    assert value is not None
                    await self.target.aupdate(key, value)
                    outcome = "ok"
                else:
                    outcome = self._lookup_outcome(await self.target.alookup(key), value)
            except Exception as error:
                self._record(Op(kind, key, began, time.monotonic() - began, "error", _name(error)))
            else:
                self._record(Op(kind, key, began, time.monotonic() - began, outcome), value)
            next_at = max(next_at + interval, time.monotonic())
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def _name(error: BaseException) -> str:
    return type(error).__name__


# -- the target ---------------------------------------------------------------------------------
class CacheTarget:
    """A cache (exact or semantic): one prompt per key, the value as the generation's text."""

    def __init__(self, cache: Any, llm_string: str = "fault-test-llm") -> None:
        self.cache = cache
        self.llm_string = llm_string

    @staticmethod
    def prompt(key: str) -> str:
        return f"prompt for {key}"

    @staticmethod
    def _text(generations: Any) -> str | None:
        return None if generations is None else generations[0].text

    def lookup(self, key: str) -> str | None:
        return self._text(self.cache.lookup(self.prompt(key), self.llm_string))

    def update(self, key: str, value: str) -> None:
        self.cache.update(self.prompt(key), self.llm_string, [Generation(text=value)])

    async def alookup(self, key: str) -> str | None:
        return self._text(await self.cache.alookup(self.prompt(key), self.llm_string))

    async def aupdate(self, key: str, value: str) -> None:
        await self.cache.aupdate(self.prompt(key), self.llm_string, [Generation(text=value)])
