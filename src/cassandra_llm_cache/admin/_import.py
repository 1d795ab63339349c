"""Import a JSON Lines export into a cache table, resumably.

Lines are parsed and written in file order with many writes in flight; the count of leading
lines whose writes are all acknowledged is saved to a checkpoint file every few seconds, and
``resume=True`` skips that many lines. Writes are idempotent, so lines written twice after a
crash change nothing. A malformed line is reported by its number (never its content), skipped,
and makes the import end with a failure once the rest is written.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache.admin._export import save_json_atomically
from cassandra_llm_cache.admin._ranges import ImportCheckpoint
from cassandra_llm_cache.admin._records import EntryRecord, RecordError, from_line

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from cassandra_llm_cache.admin._progress import Progress
    from cassandra_llm_cache.admin._writer import EntryWriter

CHECKPOINT_SECONDS: Final = 2.0
SHOWN_BAD_LINES: Final = 5


@dataclass
class ImportCounts:
    lines: int = 0
    resumed_lines: int = 0
    malformed: list[int] = field(default_factory=list)
    """Numbers (1-based) of the lines that are not valid entries."""


def checkpoint_path(source: Path, keyspace: str, table: str) -> Path:
    return source.with_name(f"{source.name}.{keyspace}.{table}.import-checkpoint")


def first_record(source: Path) -> EntryRecord | None:
    """The first valid entry of a file (to choose how to create a missing target table)."""
    for _, line in _lines(source):
        record = _parsed(line)
        if record is not None:
            return record
    return None


def _parsed(line: bytes) -> EntryRecord | None:
    try:
        return from_line(line)
    except RecordError:
        return None


def _lines(source: Path) -> Iterator[tuple[int, bytes]]:
    with source.open("rb") as handle:
        yield from enumerate(handle, start=1)


def _resume_point(source: Path, checkpoint_file: Path, *, resume: bool) -> int:
    """Lines already written by an interrupted import of ``source`` (0 for a fresh one)."""
    if not checkpoint_file.exists():
        return 0
    if not resume:
        msg = (
            f"an unfinished import of {source} exists ({checkpoint_file}): add --resume to "
            "continue it, or remove that file to start over"
        )
        raise ConfigurationError(msg)
    try:
        checkpoint = ImportCheckpoint.from_json(
            json.loads(checkpoint_file.read_text(encoding="utf-8"))
        )
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {checkpoint_file}: {exc}") from None
    if checkpoint.source != str(source.resolve()):
        raise ConfigurationError(f"{checkpoint_file} is the checkpoint of {checkpoint.source}")
    return checkpoint.lines_done


def import_file(
    source: Path,
    writer: EntryWriter,
    *,
    checkpoint_file: Path,
    resume: bool = False,
    progress: Progress | None = None,
) -> ImportCounts:
    """Write every entry of ``source`` through ``writer``."""
    counts = ImportCounts()
    resolved = str(source.resolve())
    skip = counts.resumed_lines = _resume_point(source, checkpoint_file, resume=resume)
    saved_at = time.monotonic()
    for number, line in _lines(source):
        counts.lines = number
        if progress is not None:
            progress.advance(len(line))
        if number <= skip:
            continue
        if not line.strip():
            writer.skip("blank line")
            continue
        record = _parsed(line)
        if record is None:
            counts.malformed.append(number)
            writer.skip("malformed")
        else:
            writer.submit(record)
        if time.monotonic() - saved_at >= CHECKPOINT_SECONDS:
            save_json_atomically(
                checkpoint_file, ImportCheckpoint(resolved, skip + writer.acknowledged).to_json()
            )
            saved_at = time.monotonic()
    writer.flush()
    checkpoint_file.unlink(missing_ok=True)
    return counts


def malformed_message(counts: ImportCounts) -> str:
    shown = ", ".join(str(number) for number in counts.malformed[:SHOWN_BAD_LINES])
    more = "" if len(counts.malformed) <= SHOWN_BAD_LINES else ", ..."
    return f"{len(counts.malformed)} malformed line(s) were skipped (line {shown}{more})"
