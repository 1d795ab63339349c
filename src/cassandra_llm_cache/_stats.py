"""In-process counters of what a cache did since it was created (cheap, thread-safe)."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class CacheStats:
    """A snapshot of a cache's counters.

    ``hits + misses`` is the number of lookups. A stored value that cannot be read counts as both
    a miss and an error; ``errors`` also counts failed database calls and values that could not
    be stored.
    """

    hits: int = 0
    misses: int = 0
    writes: int = 0
    errors: int = 0

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        """Hits per lookup (0.0 before the first lookup)."""
        return self.hits / self.lookups if self.lookups else 0.0


class StatsRecorder:
    """Mutable counters behind :class:`CacheStats`; each update holds a lock for a few ns."""

    __slots__ = ("_errors", "_hits", "_lock", "_misses", "_writes")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._writes = 0
        self._errors = 0

    def hit(self) -> None:
        with self._lock:
            self._hits += 1

    def miss(self, *, error: bool = False) -> None:
        with self._lock:
            self._misses += 1
            if error:
                self._errors += 1

    def write(self) -> None:
        with self._lock:
            self._writes += 1

    def error(self) -> None:
        with self._lock:
            self._errors += 1

    def snapshot(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, self._writes, self._errors)
