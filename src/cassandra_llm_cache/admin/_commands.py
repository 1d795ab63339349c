"""The data commands of the CLI: schema, stats, inspect, clear, delete, export, import, migrate.

Each ``run_<command>(args)`` returns the exit code (0 success, 1 failure); errors are raised as
:class:`CassandraLLMCacheError` and printed by ``cli.main``. Data goes to stdout (``--json`` for
machine-readable output); progress and summaries go to stderr.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cassandra_llm_cache._errors import CacheOperationError, ConfigurationError
from cassandra_llm_cache.admin._connect import connected, keyspace_and_table

if TYPE_CHECKING:
    import argparse

    from cassandra.cluster import Session

    from cassandra_llm_cache.admin._legacy_semantic import LegacyVectors
    from cassandra_llm_cache.admin._records import EntryRecord
    from cassandra_llm_cache.admin._tables import TableDescription
    from cassandra_llm_cache.admin._writer import EntryWriter

EXACT_COUNT_LIMIT = 200_000
"""Tables estimated below this many entries are counted exactly by ``stats``."""


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False))


def _stderr(text: str) -> None:
    print(text, file=sys.stderr)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="seconds")


def _read_text(value: str | None, path: str | None, what: str) -> str | None:
    if path is not None:
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"cannot read the {what} file: {exc}") from None
    return value


# --- schema -----------------------------------------------------------------------------------


def run_schema(args: argparse.Namespace) -> int:
    from cassandra_llm_cache import CassandraCache
    from cassandra_llm_cache.admin._options import EXACT_TABLE, SEMANTIC_TABLE

    args.table = args.table or (SEMANTIC_TABLE if args.semantic else EXACT_TABLE)
    keyspace, table = keyspace_and_table(args)
    replication = _replication(args.replication)
    if args.max_wrong_rate is not None and not args.semantic:
        raise ConfigurationError(
            "--max-wrong-rate is an option of the semantic cache: add --semantic"
        )
    if args.semantic:
        from cassandra_llm_cache import CassandraSemanticCache

        if args.dimension is None:
            raise ConfigurationError("--semantic needs --dimension (the embedding's vector length)")
        ddl = CassandraSemanticCache.schema_cql(
            keyspace,
            table,
            embedding_dimension=args.dimension,
            similarity_measure=args.similarity,
            keyspace_replication=replication,
            max_wrong_rate=args.max_wrong_rate,
        )
    else:
        ddl = CassandraCache.schema_cql(keyspace, table, keyspace_replication=replication)
    if args.json:
        statements = [part.strip() for part in ddl.split(";") if part.strip()]
        _print_json({"keyspace": keyspace, "table": table, "statements": statements})
    else:
        print(ddl, end="")
    return 0


def _replication(text: str | None) -> dict[str, object] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise ConfigurationError(
            '--replication must be JSON, e.g. \'{"class": "SimpleStrategy", '
            '"replication_factor": 1}\''
        ) from None
    if not isinstance(value, dict):
        raise ConfigurationError("--replication must be a JSON object")
    return value


# --- stats ------------------------------------------------------------------------------------


def run_stats(args: argparse.Namespace) -> int:
    from cassandra_llm_cache.admin import _tables

    keyspace, table = keyspace_and_table(args)
    with connected(args) as session:
        description = _tables.describe(session, keyspace, table)
        size = _tables.size_estimate(session, keyspace, table)
        ttls = _tables.ttl_sample(description, session)
        exact = None
        if args.count or size.partitions < EXACT_COUNT_LIMIT:
            exact = _tables.count_entries(session, description, concurrency=args.concurrency)
    report = {
        "keyspace": keyspace,
        "table": table,
        "kind": description.kind.value,
        "key_hash": description.key_hash.value,
        "entries": exact if exact is not None else size.partitions,
        "entries_counted": exact is not None,
        "entries_estimate": size.partitions,
        "mean_entry_bytes": size.mean_partition_bytes,
        "disk_bytes": size.disk_bytes,
        "disk_bytes_per_entry": _per_entry(size.disk_bytes, exact or size.partitions),
        "ttl_sample": asdict(ttls),
        "options": description.options,
    }
    if args.json:
        _print_json(report)
    else:
        _print_stats(report)
    return 0


def _per_entry(disk_bytes: int | None, entries: int) -> int | None:
    return round(disk_bytes / entries) if disk_bytes and entries else None


def _megabytes(size: int | None) -> str:
    return "unavailable" if size is None else f"{size / 1e6:,.1f} MB"


_DAY = 86_400
_HOUR = 3600


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= _DAY:
        return f"{seconds / _DAY:.1f} d"
    if seconds >= _HOUR:
        return f"{seconds / _HOUR:.1f} h"
    return f"{seconds} s"


def _print_stats(report: dict[str, Any]) -> None:
    counted = "counted" if report["entries_counted"] else "estimated by the nodes"
    estimate = report["entries_estimate"]
    if report["entries_counted"]:
        counted += f"; the nodes estimate {estimate:,}" if estimate else "; no node estimate yet"
    per_entry = report["disk_bytes_per_entry"]
    mean = report["mean_entry_bytes"]
    sample = report["ttl_sample"]
    options = report["options"]
    default_ttl = options.get("default_time_to_live") or 0
    lines = [
        f"table        {report['keyspace']}.{report['table']}",
        f"kind         {report['kind']} cache ({report['key_hash']} keys)",
        f"entries      {report['entries']:,} ({counted})",
        (
            f"disk         {_megabytes(report['disk_bytes'])} (SSTables of all replicas; recent "
            "writes still in memory are not counted)"
        ),
        "per entry    "
        + (f"{per_entry:,} bytes on disk" if per_entry else "-")
        + (f"; mean partition {mean:,} bytes (nodes' estimate)" if mean else ""),
        (
            f"TTL          {sample['with_ttl']} of {sample['sampled']} sampled entries expire; "
            f"remaining min {_duration(sample['min_seconds'])}, median "
            f"{_duration(sample['median_seconds'])}, max {_duration(sample['max_seconds'])}"
        ),
        f"table TTL    default_time_to_live = {default_ttl} (the caches set a TTL per entry)",
        "options",
    ]
    lines += [f"  {name} = {json.dumps(value)}" for name, value in options.items()]
    print("\n".join(lines))


# --- inspect and delete -----------------------------------------------------------------------


def _entry_keys(args: argparse.Namespace, description: TableDescription) -> tuple[bytes, bytes]:
    """(llm_key, prompt_key) from --id or from the prompt and model string."""
    if args.id is not None:
        prompt_hex, _, llm_hex = args.id.partition("-")
        size = description.key_hash.digest_size
        try:
            prompt_key, llm_key = bytes.fromhex(prompt_hex), bytes.fromhex(llm_hex)
        except ValueError:
            prompt_key = llm_key = b""
        if len(prompt_key) != size or len(llm_key) != size:
            msg = (
                f"--id must be '<prompt key>-<model key>': two {description.key_hash.value} "
                f"digests of {size * 2} hex digits (as `export` and `inspect` show them)"
            )
            raise ConfigurationError(msg)
        return llm_key, prompt_key
    prompt = _read_text(args.prompt, args.prompt_file, "prompt")
    llm_string = _read_text(args.llm_string, args.llm_string_file, "llm_string")
    if prompt is None or llm_string is None:
        raise ConfigurationError("give --id, or a prompt and an llm_string (text or file)")
    digest = description.key_hash.digest
    return digest(llm_string), digest(prompt)


def _point_read(
    session: Session, description: TableDescription, namespace: str, keys: tuple[bytes, bytes]
) -> EntryRecord | None:
    from cassandra_llm_cache.admin._rows import (
        UnreadableRowError,
        point_cql,
        point_values,
        record_from_row,
    )

    rows = list(
        session.execute(
            session.prepare(point_cql(description)),
            point_values(description, namespace, *keys),
            timeout=20,
        )
    )
    if not rows:
        return None
    try:
        return record_from_row(description, rows[0], int(time.time()))
    except UnreadableRowError as exc:
        raise CacheOperationError(f"the entry exists but cannot be read: {exc}") from None


def _check_namespace(description: TableDescription, namespace: str) -> None:
    from cassandra_llm_cache.admin._tables import TableKind

    if namespace and description.kind is TableKind.LEGACY:
        raise ConfigurationError("a legacy (langchain_community) table has no namespaces")


def run_inspect(args: argparse.Namespace) -> int:
    from cassandra_llm_cache.admin import _tables

    keyspace, table = keyspace_and_table(args)
    with connected(args) as session:
        description = _tables.describe(session, keyspace, table)
        description.require_entries("inspect")
        _check_namespace(description, args.namespace)
        keys = _entry_keys(args, description)
        record = _point_read(session, description, args.namespace, keys)
    if record is None:
        _stderr(f"no entry with these keys in {keyspace}.{table} (namespace {args.namespace!r})")
        return 1
    if args.json:
        _print_json(record.to_json())
        return 0
    _print_entry(record)
    return 0


def _print_entry(record: EntryRecord) -> None:
    expires = (
        "never"
        if record.expires_at is None
        else f"{_iso(record.expires_at)} (in {_duration(int(record.expires_at - time.time()))})"
    )
    written = "-" if record.written_at is None else _iso(record.written_at / 1e6)
    lines = [
        f"id           {record.prompt_key.hex()}-{record.llm_key.hex()}",
        f"namespace    {record.namespace!r}",
        f"keys         {record.key_hash.value}",
        f"written      {written}",
        f"expires      {expires}",
    ]
    if record.llm_string is not None:
        lines.append(f"llm_string   {record.llm_string}")
    if record.prompt is not None:
        lines.append(f"prompt       {record.prompt}")
    if record.embedding is not None:
        lines.append(f"embedding    {len(record.embedding)} dimensions")
    lines.append(f"generations  {len(record.value)}")
    print("\n".join(lines))
    print(json.dumps(record.value, indent=2, ensure_ascii=False))


def run_delete(args: argparse.Namespace) -> int:
    from cassandra_llm_cache._semantic.cql import document_id
    from cassandra_llm_cache.admin import _tables
    from cassandra_llm_cache.admin._rows import delete_cql, point_values
    from cassandra_llm_cache.admin._tables import TableKind

    keyspace, table = keyspace_and_table(args)
    with connected(args) as session:
        description = _tables.describe(session, keyspace, table)
        description.require_entries("delete")
        _check_namespace(description, args.namespace)
        keys = _entry_keys(args, description)
        existed = _point_read(session, description, args.namespace, keys) is not None
        if existed and description.kind is TableKind.SEMANTIC:
            # Through the cache: the entry's max_wrong_rate observations, if any, go with it.
            llm_key, prompt_key = keys
            cache = _cache_for(session, description, args.namespace)
            cache.delete_by_document_id(document_id(prompt_key, llm_key))
        elif existed:
            session.execute(
                session.prepare(delete_cql(description)),
                point_values(description, args.namespace, *keys),
                timeout=20,
            )
    if args.json:
        _print_json({"deleted": existed})
    else:
        print("deleted 1 entry" if existed else "no such entry: nothing deleted")
    return 0


# --- clear ------------------------------------------------------------------------------------


def _confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        answer = ""
    return answer.strip().lower() in {"y", "yes"}


def run_clear(args: argparse.Namespace) -> int:
    from cassandra_llm_cache.admin import _tables

    keyspace, table = keyspace_and_table(args)
    if args.namespace is not None and not args.namespace:
        raise ConfigurationError("--namespace must not be empty (omit it to clear everything)")
    with connected(args) as session:
        description = _tables.describe(session, keyspace, table)
        description.require_entries("clear")
        _check_namespace(description, args.namespace or "")
        if args.llm_string is not None:
            what = f"the entries of one model in {description.where}"
            if args.namespace:
                what += f", namespace {args.namespace!r}"
        elif args.namespace:
            what = f"every entry of namespace {args.namespace!r} in {description.where}"
        else:
            what = f"every entry of {description.where} (TRUNCATE)"
        if not _confirm(f"Delete {what}?", args.yes):
            _stderr("aborted: nothing deleted")
            return 1
        cache = _cache_for(session, description, args.namespace or "")
        if args.llm_string is not None:
            cache.clear(llm_string=args.llm_string)
        else:
            cache.clear()
    _stderr(f"deleted {what}")
    return 0


def _cache_for(session: Session, description: TableDescription, namespace: str) -> Any:
    """A cache object over the existing table (no DDL), to reuse its clears."""
    from cassandra_llm_cache import CassandraCache, SetupMode
    from cassandra_llm_cache.admin._tables import TableKind

    if description.kind is TableKind.SEMANTIC:
        from cassandra_llm_cache import CassandraSemanticCache
        from cassandra_llm_cache._semantic.cql import table_dimension

        return CassandraSemanticCache(
            session,
            description.keyspace,
            _no_embeddings(),
            description.table,
            setup_mode=SetupMode.OFF,
            embedding_dimension=table_dimension(description.info, where=description.where),
            namespace=namespace,
        )
    return CassandraCache(
        session,
        description.keyspace,
        description.table,
        setup_mode=SetupMode.OFF,
        namespace=namespace,
    )


def _no_embeddings() -> Any:
    """An embedding that refuses to embed: the CLI's semantic-cache objects only clear."""
    from langchain_core.embeddings import Embeddings

    class NoEmbeddings(Embeddings):
        def embed_query(self, text: str) -> list[float]:
            raise CacheOperationError(f"the CLI does not embed ({len(text)} characters)")

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise CacheOperationError(f"the CLI does not embed ({len(texts)} texts)")

    return NoEmbeddings()


# --- export, import, migrate ------------------------------------------------------------------


def _progress(
    label: str, total: float | None, unit: str, quiet: bool, *, vectors: LegacyVectors | None = None
) -> Any:
    from cassandra_llm_cache.admin._progress import Progress

    def describe(done: float, seconds: float) -> str:
        if unit == "bytes":
            rate = done / seconds / 1e6 if seconds > 0 else 0.0
            return f"{done / 1e6:,.1f} MB read, {rate:,.1f} MB/s"
        if vectors is not None:  # re-embedding is what takes the time: show it
            return (
                f"{done:,.0f}/{total:,.0f} token ranges, {vectors.reused:,} vectors reused, "
                f"{vectors.embedded:,} embedded, {seconds:.1f} s"
            )
        return f"{done:,.0f}/{total:,.0f} token ranges, {seconds:.1f} s"

    return Progress(label, total, describe=describe, enabled=not quiet)


def run_export(args: argparse.Namespace) -> int:
    from cassandra_llm_cache.admin import _export, _tables

    keyspace, table = keyspace_and_table(args)
    output = Path(args.output)
    began = time.monotonic()
    with connected(args) as session:
        description = _tables.describe(session, keyspace, table)
        description.require_entries("export")
        splits = args.splits or _export.default_splits(
            _tables.size_estimate(session, keyspace, table).partitions
        )
        progress = _progress("export", splits, "ranges", args.quiet)
        counts = _export.export_table(
            session,
            description,
            output,
            splits=splits,
            concurrency=args.concurrency,
            resume=args.resume,
            namespace=args.namespace,
            progress=progress,
        )
    seconds = time.monotonic() - began
    summary = f"{counts.exported:,} entries exported to {output} in {seconds:.1f} s"
    if counts.unreadable:
        summary += f"; {counts.unreadable:,} unreadable entries skipped"
    progress.close(summary)
    if args.json:
        _print_json({**asdict(counts), "output": str(output), "seconds": round(seconds, 3)})
    return 0


def _target(
    session: Session,
    keyspace: str,
    table: str,
    *,
    create: bool,
    layout: str,
    key_hash: str,
    sample: EntryRecord | None,
) -> TableDescription:
    """The target table, created (with the layout and key hash asked for) if missing."""
    from cassandra_llm_cache.admin import _tables

    try:
        found = _tables.describe(session, keyspace, table)
    except ConfigurationError as exc:
        if not create or "does not exist" not in str(exc) or "keyspace" in str(exc).split()[0]:
            raise
    else:
        found.require_entries("writing")
        return found
    if layout == "legacy":
        key_hash = "md5"  # the only keys the legacy layout has
    elif key_hash == "auto":
        key_hash = sample.key_hash.value if sample is not None else "sha256"
    for statement in _tables.create_table_cql(keyspace, table, layout=layout, key_hash=key_hash):
        session.execute(statement, timeout=60)
    _stderr(f"created {keyspace}.{table} ({layout} layout, {key_hash} keys)")
    return _tables.describe(session, keyspace, table)


def _writer(session: Session, target: TableDescription, args: argparse.Namespace) -> EntryWriter:
    from cassandra_llm_cache._storage.connection import cache_profile
    from cassandra_llm_cache.admin._writer import EntryWriter

    return EntryWriter(
        session,
        target,
        profile=cache_profile(session),
        ttl=args.ttl,
        namespace=args.to_namespace,
        preserve_writetime=args.preserve_writetime,
        concurrency=args.concurrency,
    )


def run_import(args: argparse.Namespace) -> int:
    from cassandra_llm_cache.admin import _import

    keyspace, table = keyspace_and_table(args)
    source = Path(args.input)
    if not source.is_file():
        raise ConfigurationError(f"no such file: {source}")
    began = time.monotonic()
    with connected(args) as session:
        target = _target(
            session,
            keyspace,
            table,
            create=args.create,
            layout=args.layout,
            key_hash=args.key_hash,
            sample=_import.first_record(source),
        )
        writer = _writer(session, target, args)
        progress = _progress("import", source.stat().st_size, "bytes", args.quiet)
        counts = _import.import_file(
            source,
            writer,
            checkpoint_file=_import.checkpoint_path(source, keyspace, table),
            resume=args.resume,
            progress=progress,
        )
    seconds = time.monotonic() - began
    progress.close(f"{writer.counts.summary()} in {seconds:.1f} s")
    if args.json:
        _print_json(
            {
                "written": writer.counts.written,
                "skipped": dict(writer.counts.skipped),
                "lines": counts.lines,
                "resumed_lines": counts.resumed_lines,
                "malformed_lines": counts.malformed,
                "seconds": round(seconds, 3),
            }
        )
    if writer.counts.skipped.get("needs texts"):
        _stderr(
            "some entries are keyed with another hash than the target table and carry no "
            "plaintext prompt to re-key them: import them into a table with the same key hash "
            "(--key-hash)"
        )
    if counts.malformed:
        _stderr(f"error: {_import.malformed_message(counts)}")
        return 1
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    from cassandra_llm_cache._storage.cql import identifier
    from cassandra_llm_cache.admin import _tables

    keyspace, table = keyspace_and_table(args)
    to_keyspace = identifier(args.to_keyspace or keyspace, "keyspace name")
    to_table = identifier(args.to_table, "table name")
    if (to_keyspace, to_table) == (keyspace, table):
        raise ConfigurationError("the target table must differ from the source table")
    plan = _MigrationPlan(
        args,
        to_keyspace,
        to_table,
        Path(
            args.checkpoint or f"migrate-{keyspace}.{table}-to-{to_keyspace}.{to_table}.checkpoint"
        ),
    )
    with connected(args) as session:
        source = _tables.describe(session, keyspace, table)
        if source.kind is _tables.TableKind.LEGACY_SEMANTIC:
            return _migrate_legacy_semantic(session, source, plan)
        if args.embedding is not None:
            raise ConfigurationError(
                "--embedding is for a table of langchain_community's semantic cache only"
            )
        if args.dry_run:
            return _dry_run(session, source, plan)
        target = _target(
            session,
            to_keyspace,
            to_table,
            create=True,
            layout=args.layout,
            key_hash=args.key_hash,
            sample=None if args.key_hash != "auto" else _sample_of(source),
        )
        return _migrate(session, source, target, plan)


@dataclass(frozen=True)
class _MigrationPlan:
    """What ``migrate`` was asked to do, shared by its variants."""

    args: argparse.Namespace
    to_keyspace: str
    to_table: str
    checkpoint: Path
    began: float = field(default_factory=time.monotonic)


def _splits(session: Session, source: TableDescription, args: argparse.Namespace) -> int:
    from cassandra_llm_cache.admin import _export, _tables

    return int(
        args.splits
        or _export.default_splits(
            _tables.size_estimate(session, source.keyspace, source.table).partitions
        )
    )


def _migrate(
    session: Session,
    source: TableDescription,
    target: TableDescription,
    plan: _MigrationPlan,
    *,
    vectors: LegacyVectors | None = None,
) -> int:
    from cassandra_llm_cache.admin import _export

    args = plan.args
    writer = _writer(session, target, args)
    splits = _splits(session, source, args)
    progress = _progress("migrate", splits, "ranges", args.quiet, vectors=vectors)
    counts = _export.migrate_table(
        session,
        source,
        writer,
        splits=splits,
        checkpoint_file=plan.checkpoint,
        concurrency=args.concurrency,
        resume=args.resume,
        namespace=args.namespace,
        progress=progress,
        adapt=vectors,
    )
    seconds = time.monotonic() - plan.began
    summary = writer.counts.summary()
    if vectors is not None:
        summary += f"; vectors: {vectors.reused:,} reused, {vectors.embedded:,} embedded"
    progress.close(f"{summary} in {seconds:.1f} s")
    if counts.unreadable:
        _stderr(f"{counts.unreadable:,} unreadable entries of {source.where} were not migrated")
    if writer.counts.skipped.get("needs embedding"):
        _stderr(
            "some prompts need embedding (a chat prompt, or no stored vector of the target's "
            "length): pass --embedding with the application's embedding"
        )
    if args.json:
        report: dict[str, Any] = {
            "source": source.where,
            "target": target.where,
            "written": writer.counts.written,
            "skipped": dict(writer.counts.skipped),
            "unreadable": counts.unreadable,
            "seconds": round(seconds, 3),
        }
        if vectors is not None:
            report |= {"vectors_reused": vectors.reused, "vectors_embedded": vectors.embedded}
        _print_json(report)
    return 0


def _dry_run(
    session: Session,
    source: TableDescription,
    plan: _MigrationPlan,
    *,
    vectors: LegacyVectors | None = None,
) -> int:
    """Read and check every entry like ``migrate``; print the counts; write nothing."""
    from cassandra_llm_cache.admin import _export

    args = plan.args
    splits = _splits(session, source, args)
    progress = _progress("dry run", splits, "ranges", args.quiet, vectors=vectors)
    counts = _export.survey_table(
        session,
        source,
        splits=splits,
        ttl=args.ttl,
        concurrency=args.concurrency,
        namespace=args.namespace,
        progress=progress,
        adapt=vectors,
    )
    target = f"{plan.to_keyspace}.{plan.to_table}"
    parts = [f"{counts.exported:,} entries of {source.where} would be migrated to {target}"]
    if vectors is not None:
        parts.append(f"{vectors.reused:,} vectors reused, {vectors.embedded:,} to embed")
    parts += [f"{n:,} skipped ({reason})" for reason, n in sorted(counts.skipped.items())]
    if counts.unreadable:
        parts.append(f"{counts.unreadable:,} unreadable")
    seconds = time.monotonic() - plan.began
    progress.close(f"dry run in {seconds:.1f} s")
    _stderr(f"dry run: {', '.join(parts)}; nothing was created or written")
    if args.json:
        report: dict[str, Any] = {
            "dry_run": True,
            "source": source.where,
            "target": target,
            "would_write": counts.exported,
            "skipped": dict(counts.skipped),
            "unreadable": counts.unreadable,
        }
        if vectors is not None:
            report |= {"vectors_reused": vectors.reused, "vectors_to_embed": vectors.embedded}
        _print_json(report)
    return 0


def _migrate_legacy_semantic(
    session: Session, source: TableDescription, plan: _MigrationPlan
) -> int:
    """langchain_community's semantic cache table -> this package's semantic layout (md5 keys)."""
    from cassandra_llm_cache.admin import _legacy_semantic

    args = plan.args
    if args.layout != "exact" or args.key_hash == "sha256":
        msg = (
            "a table of langchain_community's semantic cache migrates into this package's "
            "semantic layout, keyed with md5 (drop --layout and --key-hash)"
        )
        raise ConfigurationError(msg)
    embedding = (
        _legacy_semantic.load_embedding(args.embedding) if args.embedding is not None else None
    )
    target, dimension = _legacy_semantic.target_dimension(
        session, source, plan.to_keyspace, plan.to_table, embedding=embedding
    )
    vectors = _legacy_semantic.LegacyVectors(
        dimension=dimension, embedding=embedding, dry_run=args.dry_run
    )
    if args.dry_run:
        return _dry_run(session, source, plan, vectors=vectors)
    if target is None:
        target = _legacy_semantic.create_target(
            session,
            plan.to_keyspace,
            plan.to_table,
            dimension=dimension,
            similarity=args.similarity,
        )
        _stderr(
            f"created {target.where} (semantic layout, {dimension} dimensions, "
            f"{args.similarity} similarity, md5 keys)"
        )
    return _migrate(session, source, target, plan, vectors=vectors)


def _sample_of(source: TableDescription) -> EntryRecord | None:
    """A stand-in record carrying only the source's key hash (to choose the target's)."""
    from cassandra_llm_cache.admin._records import EntryRecord

    return EntryRecord("", source.key_hash, b"", b"", [])
