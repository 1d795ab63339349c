"""Token ranges for a parallel full-table scan, and the checkpoint of a resumable export (pure).

The Murmur3 partitioner (Cassandra's default, and Astra DB's) hashes every partition key to a
64-bit token. The ring ``(-2**63, 2**63 - 1]`` is cut into equal ranges; each is read with
``WHERE token(<partition key>) > start AND token(<partition key>) <= end``, so ranges can be read
in parallel and each one is either done or not: a checkpoint is the set of finished ranges.
No partition has the token ``-2**63`` (the partitioner maps it to ``2**63 - 1``), so the first
range's exclusive start loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

MIN_TOKEN: Final = -(2**63)
MAX_TOKEN: Final = 2**63 - 1
MAX_SPLITS: Final = 1 << 16


@dataclass(frozen=True)
class TokenRange:
    """Tokens ``start < t <= end``; ``index`` is its position on the ring."""

    index: int
    start: int
    end: int


def split_ring(count: int) -> list[TokenRange]:
    """The whole ring as ``count`` contiguous ranges of (nearly) equal width."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SPLITS:
        msg = f"the number of token ranges must be between 1 and {MAX_SPLITS}, got {count!r}"
        raise ValueError(msg)
    width = MAX_TOKEN - MIN_TOKEN
    bounds = [MIN_TOKEN + (width * i) // count for i in range(count)] + [MAX_TOKEN]
    return [TokenRange(i, bounds[i], bounds[i + 1]) for i in range(count)]


def range_of(token: int, count: int) -> int:
    """The index of the range that holds ``token`` when the ring is cut into ``count``."""
    for token_range in split_ring(count):
        if token_range.start < token <= token_range.end:
            return token_range.index
    return 0  # MIN_TOKEN itself: never a partition's token


@dataclass
class ExportCheckpoint:
    """Which token ranges of an export are finished (their part files are complete)."""

    source: str
    """``keyspace.table`` being exported."""
    splits: int
    done: set[int] = field(default_factory=set)
    entries: int = 0
    """Entries written by the finished ranges."""

    KIND: Final = "cassandra-llm-cache-export-checkpoint"

    def matches(self, source: str, splits: int) -> bool:
        return self.source == source and self.splits == splits

    def finish(self, index: int, entries: int) -> None:
        if index not in self.done:
            self.done.add(index)
            self.entries += entries

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.KIND,
            "source": self.source,
            "splits": self.splits,
            "done": sorted(self.done),
            "entries": self.entries,
        }

    @classmethod
    def from_json(cls, data: Any) -> ExportCheckpoint:
        if type(data) is not dict or data.get("kind") != cls.KIND:
            raise ValueError("not an export checkpoint")
        source, splits, done, entries = (
            data.get("source"),
            data.get("splits"),
            data.get("done"),
            data.get("entries", 0),
        )
        if (
            type(source) is not str
            or type(splits) is not int
            or type(done) is not list
            or type(entries) is not int
            or not all(type(i) is int and 0 <= i < splits for i in done)
        ):
            raise ValueError("malformed export checkpoint")
        return cls(source=source, splits=splits, done=set(done), entries=entries)


@dataclass
class ImportCheckpoint:
    """How many lines of an import file are known to be written (all lines before it)."""

    source: str
    """The file being imported (its resolved path)."""
    lines_done: int = 0

    KIND: Final = "cassandra-llm-cache-import-checkpoint"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.KIND, "source": self.source, "lines_done": self.lines_done}

    @classmethod
    def from_json(cls, data: Any) -> ImportCheckpoint:
        if type(data) is not dict or data.get("kind") != cls.KIND:
            raise ValueError("not an import checkpoint")
        source, lines = data.get("source"), data.get("lines_done")
        if type(source) is not str or type(lines) is not int or lines < 0:
            raise ValueError("malformed import checkpoint")
        return cls(source=source, lines_done=lines)
