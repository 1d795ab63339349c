"""Command-line options of ``cassandra-llm-cache eval-semantic`` (argparse only: loads fast)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

DEFAULT_KEYSPACE = "llm_cache_eval"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--contact-points",
        default=None,
        help="comma-separated Cassandra hosts (default: $CASSANDRA_CONTACT_POINTS, a node "
        "listening on 127.0.0.1, or a local node started for the run)",
    )
    parser.add_argument("--port", type=int, default=9042, help="CQL port (default 9042)")
    parser.add_argument(
        "--keyspace",
        default=DEFAULT_KEYSPACE,
        help="keyspace for the run's table, created with replication factor 1 if missing "
        f"(default {DEFAULT_KEYSPACE})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("docs"),
        help="directory for semantic-quality.md and .png (default: docs)",
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="use only the first N paraphrase pairs"
    )
    parser.add_argument(
        "--limit-per-kind", type=int, default=None, help="use only N written pairs of each kind"
    )
    parser.add_argument(
        "--candidates", type=int, default=4, help="nearest entries per lookup (default 4)"
    )
    parser.add_argument(
        "--latency-samples", type=int, default=200, help="lookups timed for p50/p99 (200)"
    )
    parser.add_argument("--keep-table", action="store_true", help="do not drop the run's table")
    parser.add_argument("--no-write", action="store_true", help="print the summary, write no files")
    parser.add_argument(
        "--save-results", type=Path, default=None, help="also write the raw results (JSON) here"
    )
    parser.add_argument(
        "--from-results",
        type=Path,
        default=None,
        help="render the report from saved results instead of running (no node needed)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
