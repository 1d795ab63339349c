"""Export a cache table to JSON Lines, and migrate one table into another, resumably.

Both read the source in parallel token ranges (``_scan``). An export writes each range to its
own part file next to the output (``<output>.parts/``) and records finished ranges in a
checkpoint there; when every range is done the parts are joined, in ring order, into the output
and the directory is removed. ``resume=True`` continues an interrupted export with the ranges it
had not finished. A migration writes each page straight into the target table and checkpoints
finished ranges the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Final

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache._storage.connection import cache_profile
from cassandra_llm_cache.admin import _scan
from cassandra_llm_cache.admin._ranges import ExportCheckpoint, TokenRange, split_ring
from cassandra_llm_cache.admin._records import SkipRecordError, to_line
from cassandra_llm_cache.admin._rows import UnreadableRowError, record_from_row, scan_cql

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from cassandra.cluster import Session

    from cassandra_llm_cache.admin._progress import Progress
    from cassandra_llm_cache.admin._records import EntryRecord, TtlPolicy
    from cassandra_llm_cache.admin._tables import TableDescription
    from cassandra_llm_cache.admin._writer import EntryWriter

MIN_SPLITS: Final = 16
MAX_DEFAULT_SPLITS: Final = 4096
ENTRIES_PER_SPLIT: Final = 20_000


def default_splits(estimated_entries: int) -> int:
    """Enough ranges to spread the work and make resuming cheap; few for small tables."""
    return max(MIN_SPLITS, min(MAX_DEFAULT_SPLITS, estimated_entries // ENTRIES_PER_SPLIT))


@dataclass
class ScanCounts:
    exported: int = 0
    unreadable: int = 0
    filtered: int = 0
    resumed_ranges: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


def save_json_atomically(path: Path, data: Any) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(data), encoding="utf-8")
    partial.replace(path)


def load_checkpoint(path: Path) -> ExportCheckpoint:
    try:
        return ExportCheckpoint.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the checkpoint {path}: {exc}") from None


class _Converter:
    """Scanned rows -> records, with the namespace filter and the counters."""

    def __init__(self, source: TableDescription, counts: ScanCounts, namespace: str | None) -> None:
        self._source = source
        self._counts = counts
        self._namespace = namespace

    def records(self, rows: Sequence[Any]) -> list[Any]:
        now = int(time.time())
        out = []
        for row in rows:
            try:
                record = record_from_row(self._source, row, now)
            except UnreadableRowError:
                self._counts.unreadable += 1
                continue
            if self._namespace is not None and record.namespace != self._namespace:
                self._counts.filtered += 1
                continue
            out.append(record)
        return out


class _PartFiles:
    """The scan sink of an export: one part file per range, a checkpoint per finished range."""

    def __init__(
        self,
        parts: Path,
        checkpoint: ExportCheckpoint,
        converter: _Converter,
        counts: ScanCounts,
        progress: Progress | None,
    ) -> None:
        self._parts = parts
        self._checkpoint = checkpoint
        self._converter = converter
        self._counts = counts
        self._progress = progress
        self._open: dict[int, tuple[IO[bytes], int]] = {}

    def _partial(self, index: int) -> Path:
        return self._parts / f"{index:05d}.jsonl.partial"

    def page(self, token_range: TokenRange, rows: Sequence[Any]) -> None:
        records = self._converter.records(rows)
        handle, written = self._open.get(token_range.index) or (
            self._partial(token_range.index).open("wb"),
            0,
        )
        handle.write(b"".join(to_line(record) for record in records))
        self._open[token_range.index] = (handle, written + len(records))
        self._counts.exported += len(records)

    def finished(self, token_range: TokenRange) -> None:
        handle, written = self._open.pop(token_range.index, (None, 0))
        if handle is not None:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            self._partial(token_range.index).replace(self._parts / f"{token_range.index:05d}.jsonl")
        self._checkpoint.finish(token_range.index, written)
        save_json_atomically(self._parts / "checkpoint.json", self._checkpoint.to_json())
        if self._progress is not None:
            self._progress.advance()

    def close(self) -> None:
        for handle, _ in self._open.values():
            handle.close()
        self._open.clear()


def export_table(
    session: Session,
    source: TableDescription,
    output: Path,
    *,
    splits: int,
    concurrency: int = 8,
    resume: bool = False,
    namespace: str | None = None,
    progress: Progress | None = None,
) -> ScanCounts:
    """Write every entry of ``source`` (or of one ``namespace``) to ``output`` as JSON Lines."""
    parts = output.with_name(output.name + ".parts")
    checkpoint_file = parts / "checkpoint.json"
    counts = ScanCounts()
    if parts.exists():
        if not resume:
            msg = (
                f"an unfinished export to {output} exists ({parts}): add --resume to continue "
                "it, or remove that directory to start over"
            )
            raise ConfigurationError(msg)
        checkpoint = load_checkpoint(checkpoint_file)
        if checkpoint.source != source.where:
            msg = f"the unfinished export in {parts} is of {checkpoint.source}, not {source.where}"
            raise ConfigurationError(msg)
        splits = checkpoint.splits
        counts.exported = checkpoint.entries
        counts.resumed_ranges = len(checkpoint.done)
        for stale in parts.glob("*.partial"):
            stale.unlink()
    else:
        parts.mkdir(parents=True)
        checkpoint = ExportCheckpoint(source=source.where, splits=splits)
        save_json_atomically(checkpoint_file, checkpoint.to_json())
    if progress is not None:
        progress.advance(len(checkpoint.done))
    sink = _PartFiles(parts, checkpoint, _Converter(source, counts, namespace), counts, progress)
    statement = session.prepare(scan_cql(source))
    try:
        _scan.scan(
            session,
            statement,
            [r for r in split_ring(splits) if r.index not in checkpoint.done],
            sink,
            profile=cache_profile(session),
            concurrency=concurrency,
            where=source.where,
        )
    finally:
        sink.close()
    _join(parts, splits, output)
    return counts


def _join(parts: Path, splits: int, output: Path) -> None:
    partial = output.with_name(output.name + ".partial")
    with partial.open("wb") as joined:
        for index in range(splits):
            part = parts / f"{index:05d}.jsonl"
            if part.exists():
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, joined, 1 << 20)
        joined.flush()
        os.fsync(joined.fileno())
    partial.replace(output)
    shutil.rmtree(parts)


class _Migration:
    """The scan sink of a migration: each page written to the target before the next is read."""

    def __init__(
        self,
        writer: EntryWriter,
        converter: _Converter,
        checkpoint: ExportCheckpoint,
        *,
        checkpoint_file: Path,
        counts: ScanCounts,
        progress: Progress | None,
        adapt: Callable[[EntryRecord], EntryRecord] | None = None,
    ) -> None:
        self._writer = writer
        self._adapt = adapt
        self._converter = converter
        self._checkpoint = checkpoint
        self._checkpoint_file = checkpoint_file
        self._counts = counts
        self._progress = progress
        self._written: Counter[int] = Counter()

    def page(self, token_range: TokenRange, rows: Sequence[Any]) -> None:
        records = self._converter.records(rows)
        for record in records:
            if self._adapt is None:
                self._writer.submit(record)
                continue
            try:
                adapted = self._adapt(record)
            except SkipRecordError as skip:
                self._writer.skip(str(skip))
            else:
                self._writer.submit(adapted)
        self._writer.flush()
        self._written[token_range.index] += len(records)
        self._counts.exported += len(records)

    def finished(self, token_range: TokenRange) -> None:
        self._checkpoint.finish(token_range.index, self._written.pop(token_range.index, 0))
        save_json_atomically(self._checkpoint_file, self._checkpoint.to_json())
        if self._progress is not None:
            self._progress.advance()


def migrate_table(
    session: Session,
    source: TableDescription,
    writer: EntryWriter,
    *,
    splits: int,
    checkpoint_file: Path,
    concurrency: int = 8,
    resume: bool = False,
    namespace: str | None = None,
    progress: Progress | None = None,
    adapt: Callable[[EntryRecord], EntryRecord] | None = None,
) -> ScanCounts:
    """Copy every entry of ``source`` into the writer's table; resumable per token range.

    ``adapt`` turns each source record into what the target needs (e.g. a vector of the
    target's length); it raises :class:`SkipRecordError` with the reason to skip one.
    """
    counts = ScanCounts()
    key = f"{source.where} -> {writer.target.where}"
    if checkpoint_file.exists():
        if not resume:
            msg = (
                f"an unfinished migration checkpoint exists ({checkpoint_file}): add --resume "
                "to continue it, or remove it to start over"
            )
            raise ConfigurationError(msg)
        checkpoint = load_checkpoint(checkpoint_file)
        if checkpoint.source != key:
            raise ConfigurationError(f"{checkpoint_file} is the checkpoint of {checkpoint.source}")
        splits = checkpoint.splits
        counts.exported = checkpoint.entries
        counts.resumed_ranges = len(checkpoint.done)
    else:
        checkpoint = ExportCheckpoint(source=key, splits=splits)
        save_json_atomically(checkpoint_file, checkpoint.to_json())
    if progress is not None:
        progress.advance(len(checkpoint.done))
    sink = _Migration(
        writer,
        _Converter(source, counts, namespace),
        checkpoint,
        checkpoint_file=checkpoint_file,
        counts=counts,
        progress=progress,
        adapt=adapt,
    )
    _scan.scan(
        session,
        session.prepare(scan_cql(source)),
        [r for r in split_ring(splits) if r.index not in checkpoint.done],
        sink,
        profile=cache_profile(session),
        concurrency=concurrency,
        where=source.where,
    )
    counts.skipped = writer.counts.skipped
    checkpoint_file.unlink()
    return counts


class _Survey:
    """The scan sink of a dry run: each record converted and checked, counted, never written."""

    def __init__(
        self,
        converter: _Converter,
        counts: ScanCounts,
        *,
        ttl: TtlPolicy,
        adapt: Callable[[EntryRecord], EntryRecord] | None,
        progress: Progress | None,
    ) -> None:
        self._converter = converter
        self._counts = counts
        self._ttl = ttl
        self._adapt = adapt
        self._progress = progress

    def page(self, token_range: TokenRange, rows: Sequence[Any]) -> None:
        del token_range
        now = time.time()
        for record in self._converter.records(rows):
            if self._ttl.ttl_for(record, now) is None:
                self._counts.skipped["expired"] += 1
                continue
            try:
                if self._adapt is not None:
                    self._adapt(record)
            except SkipRecordError as skip:
                self._counts.skipped[str(skip)] += 1
            else:
                self._counts.exported += 1

    def finished(self, token_range: TokenRange) -> None:
        del token_range
        if self._progress is not None:
            self._progress.advance()


def survey_table(
    session: Session,
    source: TableDescription,
    *,
    splits: int,
    ttl: TtlPolicy,
    concurrency: int = 8,
    namespace: str | None = None,
    progress: Progress | None = None,
    adapt: Callable[[EntryRecord], EntryRecord] | None = None,
) -> ScanCounts:
    """A dry run of :func:`migrate_table`: read and check every entry, write nothing.

    ``exported`` counts the entries that would be written; ``skipped`` and ``unreadable`` the
    others. No checkpoint is kept: a dry run is cheap to repeat.
    """
    counts = ScanCounts()
    sink = _Survey(
        _Converter(source, counts, namespace), counts, ttl=ttl, adapt=adapt, progress=progress
    )
    _scan.scan(
        session,
        session.prepare(scan_cql(source)),
        split_ring(splits),
        sink,
        profile=cache_profile(session),
        concurrency=concurrency,
        where=source.where,
    )
    return counts
