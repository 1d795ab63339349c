"""Benchmark options: the argparse definition (shared with the CLI) and the validated settings.

Importing this module is cheap (argparse only), so the CLI can build its parser without loading
the benchmark.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SYSTEMS = ("raw", "ours", "semantic", "legacy", "redis", "memory", "sqlite", "e2e")
SECTIONS = ("streaming", "zipf")
"""Parts with a report section of their own, which ``--only`` can run and rewrite alone."""


@dataclass(frozen=True)
class BenchOptions:
    sizes_kb: tuple[int, ...] = (2, 20)
    repetitions: int = 5
    sync_ops: int = 2000
    async_ops: int = 6000
    keys: int = 1000
    concurrencies: tuple[int, ...] = (32, 128)
    systems: tuple[str, ...] = SYSTEMS
    ttl_seconds: int = 86400
    output_dir: Path | None = Path("docs")
    contact_points: tuple[str, ...] = ()
    port: int = 9042
    node_dir: Path | None = None
    storage_port: int | None = None
    heap: str | None = None
    keyspace: str = "llm_cache_bench"
    scale_entries: int = 0
    scale_baseline: int = 10_000
    scale_time_limit: float = 1200.0
    scale_flush_wait: float = 30.0
    semantic_scale_entries: int = 0
    semantic_time_limit: float = 900.0
    keep_tables: bool = False
    profile: bool = False
    quick: bool = False
    sections: tuple[str, ...] = SECTIONS
    only: bool = False
    zipf_keys: int = 100_000
    zipf_requests: int = 20_000
    zipf_processes: int = 2
    zipf_seed: int = 20_261_127
    staleness_trials: int = 100

    def __post_init__(self) -> None:
        if self.repetitions < 1 or self.sync_ops < 1 or self.async_ops < 1 or self.keys < 1:
            raise ValueError("repetitions, ops and keys must be positive")
        if not self.sizes_kb or min(self.sizes_kb) < 1:
            raise ValueError("payload sizes are whole kilobytes, at least 1")
        if any(c < 1 for c in self.concurrencies):
            raise ValueError("concurrency levels must be positive")
        unknown = set(self.systems) - set(SYSTEMS)
        if unknown:
            raise ValueError(f"unknown systems {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
        if not self.keyspace.isidentifier() or not self.keyspace.isascii():
            raise ValueError("keyspace must be a plain CQL identifier")
        unknown = set(self.sections) - set(SECTIONS)
        if unknown:
            raise ValueError(
                f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}"
            )
        if self.only and not self.sections:
            raise ValueError("--only needs at least one section")
        if min(self.zipf_keys, self.zipf_requests, self.zipf_processes) < 1:
            raise ValueError("Zipf keys, requests and processes must be positive")
        if self.staleness_trials < 0:
            raise ValueError("staleness trials cannot be negative")

    @property
    def warmup_sync_ops(self) -> int:
        return max(20, self.sync_ops // 4)

    @property
    def warmup_async_ops(self) -> int:
        return max(2 * max(self.concurrencies, default=1), self.async_ops // 4)

    def wants(self, system: str) -> bool:
        return system in self.systems

    def runs(self, section: str) -> bool:
        """Whether this run measures ``section`` (every section measures this cache)."""
        return section in self.sections and (self.only or self.wants("ours"))


QUICK: dict[str, Any] = {
    "sizes_kb": (2,),
    "repetitions": 2,
    "sync_ops": 200,
    "async_ops": 600,
    "keys": 100,
    "zipf_requests": 4000,
    "staleness_trials": 20,
}


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.replace(",", " ").split())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("empty list")
    return values


def _name_list(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.replace(",", " ").split() if part)


def _sections(text: str) -> tuple[str, ...]:
    names = _name_list(text)
    return () if names == ("none",) else names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    default = BenchOptions()
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run (2 KB only, 2 repetitions, few operations) to check that it works",
    )
    parser.add_argument("--sizes", type=_int_list, help="payload sizes in KB (default 2,20)")
    parser.add_argument("--reps", type=int, help=f"repetitions (default {default.repetitions})")
    parser.add_argument(
        "--sync-ops", type=int, help=f"operations per sync repetition ({default.sync_ops})"
    )
    parser.add_argument(
        "--async-ops", type=int, help=f"operations per async repetition ({default.async_ops})"
    )
    parser.add_argument("--keys", type=int, help=f"entries stored per cache ({default.keys})")
    parser.add_argument(
        "--concurrency", type=_int_list, help="async in-flight levels (default 32,128)"
    )
    parser.add_argument(
        "--systems",
        type=_name_list,
        help=f"what to measure (default all): {','.join(SYSTEMS)}",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=default.output_dir,
        help="where benchmarks.md, benchmarks.json and benchmarks.png go (default docs)",
    )
    parser.add_argument(
        "--no-report", action="store_true", help="print the summary only, write no files"
    )
    parser.add_argument(
        "--contact-points",
        type=_name_list,
        help="Cassandra to use (default: $CASSANDRA_CONTACT_POINTS, a node on 127.0.0.1, or a "
        "local node started for the run)",
    )
    parser.add_argument("--port", type=int, default=default.port, help="CQL port (9042)")
    parser.add_argument(
        "--node-dir",
        type=Path,
        help="run against a dedicated local node in this directory (started if needed and "
        "stopped at the end); use with --port and --storage-port to keep it apart",
    )
    parser.add_argument("--storage-port", type=int, help="that node's storage port (7000)")
    parser.add_argument(
        "--heap", help="JVM heap of a node the benchmark starts (launcher default: 1G)"
    )
    parser.add_argument("--keyspace", default=default.keyspace, help="keyspace for bench tables")
    parser.add_argument(
        "--scale",
        type=int,
        default=0,
        metavar="N",
        help="also fill N entries (e.g. 1000000) and compare hit latency with --scale-baseline",
    )
    parser.add_argument(
        "--scale-baseline", type=int, default=default.scale_baseline, help="entries (10000)"
    )
    parser.add_argument(
        "--scale-time-limit",
        type=float,
        default=default.scale_time_limit,
        help="seconds allowed for the scale fill (default 1200); the reached count is reported",
    )
    parser.add_argument(
        "--scale-flush-wait",
        type=float,
        default=default.scale_flush_wait,
        metavar="SECONDS",
        help="seconds of periodic memtable flushing before the scale lookups, so that both "
        "sizes are read from SSTables (default 30; 0: no flush)",
    )
    parser.add_argument(
        "--semantic-scale",
        type=int,
        default=0,
        metavar="N",
        help="also fill N semantic entries and measure ANN p50/p99 and recall@1",
    )
    parser.add_argument(
        "--semantic-time-limit",
        type=float,
        default=default.semantic_time_limit,
        help="seconds allowed for the semantic fill (default 900); the reached count is reported",
    )
    parser.add_argument(
        "--only",
        type=_sections,
        metavar="SECTIONS",
        help=f"run only these sections ({','.join(SECTIONS)}) and rewrite only their parts of "
        "benchmarks.md and benchmarks.json, keeping every other figure",
    )
    parser.add_argument(
        "--sections",
        type=_sections,
        help=f"sections a full run includes (default {','.join(SECTIONS)}; 'none' for none)",
    )
    parser.add_argument(
        "--zipf-keys", type=int, help=f"Zipf key space (default {default.zipf_keys:,})"
    )
    parser.add_argument(
        "--zipf-requests",
        type=int,
        help=f"Zipf requests per process and repetition (default {default.zipf_requests:,})",
    )
    parser.add_argument(
        "--processes",
        type=int,
        help=f"OS processes in the Zipf workload (default {default.zipf_processes})",
    )
    parser.add_argument(
        "--staleness-trials",
        type=int,
        help=f"near-cache staleness trials (default {default.staleness_trials}; 0: skip)",
    )
    parser.add_argument(
        "--keep-tables", action="store_true", help="do not drop the bench tables at the end"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the hit paths (pyinstrument) into OUTPUT_DIR/profiles/",
    )


def from_namespace(args: argparse.Namespace) -> BenchOptions:
    settings: dict[str, Any] = dict(QUICK, quick=True) if args.quick else {}
    chosen = {
        "sizes_kb": args.sizes,
        "repetitions": args.reps,
        "sync_ops": args.sync_ops,
        "async_ops": args.async_ops,
        "keys": args.keys,
        "concurrencies": args.concurrency,
        "systems": args.systems,
        "contact_points": args.contact_points,
        "sections": args.only if args.only is not None else args.sections,
        "zipf_keys": args.zipf_keys,
        "zipf_requests": args.zipf_requests,
        "zipf_processes": args.processes,
        "staleness_trials": args.staleness_trials,
    }
    settings.update({name: value for name, value in chosen.items() if value is not None})
    settings.update(
        output_dir=None if args.no_report else args.output_dir,
        port=args.port,
        node_dir=args.node_dir,
        storage_port=args.storage_port,
        heap=args.heap,
        keyspace=args.keyspace,
        scale_entries=args.scale,
        scale_baseline=args.scale_baseline,
        scale_time_limit=args.scale_time_limit,
        scale_flush_wait=args.scale_flush_wait,
        semantic_scale_entries=args.semantic_scale,
        semantic_time_limit=args.semantic_time_limit,
        keep_tables=args.keep_tables,
        profile=args.profile,
        only=args.only is not None,
    )
    return BenchOptions(**settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cassandra-llm-cache bench",
        description="Side-by-side benchmark: the raw driver floor, this cache, and its peers.",
    )
    add_arguments(parser)
    return parser
