"""What one measurement is: a system doing one operation on one payload, sync or N in flight."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cassandra_llm_cache.bench._timing import AsyncOp, SyncOp

# Systems, in report order.
RAW = "raw driver"
OURS = "cassandra-llm-cache"
OURS_SEMANTIC = "cassandra-llm-cache semantic"
LEGACY = "legacy CassandraCache"
REDIS = "RedisCache"
IN_MEMORY = "InMemoryCache"
SQLITE = "SQLiteCache"
NO_CACHE = "no cache"
SYSTEM_ORDER = (RAW, OURS, OURS_SEMANTIC, LEGACY, REDIS, IN_MEMORY, SQLITE, NO_CACHE)

# Operations.
READ = "read"
INSERT = "insert"
HIT = "hit"
HIT_SIMILAR = "hit (similar prompt)"
MISS = "miss"
UPDATE = "update"
INVOKE_HIT = "invoke hit"
AINVOKE_HIT = "ainvoke hit"
OPERATION_ORDER = (
    READ,
    HIT,
    HIT_SIMILAR,
    MISS,
    INSERT,
    UPDATE,
    INVOKE_HIT,
    "invoke",
    AINVOKE_HIT,
    "ainvoke",
)


@dataclass(frozen=True)
class Scenario:
    """One measured thing. Exactly one of ``sync_op`` / ``async_op`` is set.

    ``op(i)`` is called with ever-increasing indices; it maps them onto its own keys and raises
    if the outcome is not the expected one (a hit that misses must not be timed as a hit).
    """

    system: str
    operation: str
    payload: str
    concurrency: int = 1
    sync_op: SyncOp | None = None
    async_op: AsyncOp | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if (self.sync_op is None) == (self.async_op is None):
            raise ValueError("a scenario needs exactly one of sync_op and async_op")
        if self.concurrency < 1 or (self.sync_op is not None and self.concurrency != 1):
            raise ValueError("sync scenarios run one at a time; async ones need concurrency >= 1")

    @property
    def mode(self) -> str:
        if self.sync_op is not None:
            return "sync"
        return f"async x{self.concurrency}"

    @property
    def key(self) -> str:
        return f"{self.system} | {self.operation} | {self.payload} | {self.mode}"


class ExpectationError(AssertionError):
    """A measured operation did not do what it claims (e.g. a hit returned nothing)."""
