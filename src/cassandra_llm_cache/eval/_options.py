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
    parser.add_argument(
        "--quora",
        type=Path,
        default=None,
        metavar="FILE",
        help="also simulate on Quora Question Pairs from this file (GPTCache's "
        "examples/benchmark/similiar_qqp_full.json.gz, or JSON/JSONL with text_a/text_b/label); "
        "Quora's terms allow non-commercial use only, so it is never shipped",
    )
    parser.add_argument(
        "--quora-limit",
        type=int,
        default=2000,
        help="Quora pairs to use, chosen by a hash of their texts (default 2000)",
    )
    parser.add_argument(
        "--askubuntu",
        type=Path,
        default=None,
        metavar="DIR",
        help="also simulate on AskUbuntu duplicate questions from a checkout of "
        "taolei87/askubuntu (text_tokenized.txt.gz and test.txt)",
    )
    parser.add_argument(
        "--adaptive-requests",
        type=int,
        default=None,
        metavar="N",
        help="requests of each public set's traffic for the max_wrong_rate section (default: "
        "3 per distinct question of the test half; 0: skip the section)",
    )
    parser.add_argument(
        "--max-wrong",
        type=float,
        default=0.02,
        help="the wrong-answer bound the calibrated threshold of each public set is chosen "
        "for, per served hit (default 0.02)",
    )


def add_calibrate_arguments(parser: argparse.ArgumentParser) -> None:
    """``cassandra-llm-cache calibrate``: the pairs, the bound, and where to store the result."""
    from cassandra_llm_cache.admin._connect import add_connection_arguments

    parser.add_argument(
        "--pairs",
        required=True,
        metavar="FILE",
        help="labelled pairs, JSON Lines: {'cached': ..., 'query': ..., 'same': true|false} "
        "(or question1/question2/is_duplicate, text_a/text_b/label)",
    )
    parser.add_argument(
        "--max-wrong",
        type=float,
        required=True,
        help="the most wrong answers allowed, as a rate, e.g. 0.02",
    )
    parser.add_argument(
        "--per",
        choices=("hit", "request"),
        default="hit",
        help="the rate's denominator: served hits (default) or all pairs",
    )
    parser.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="the bound must hold for the Wilson upper bound at this confidence (default "
        "0.95; 0 bounds the measured rate)",
    )
    parser.add_argument(
        "--no-guard", action="store_true", help="calibrate for a cache with guard=False"
    )
    parser.add_argument(
        "--store",
        action="store_true",
        help="store the threshold in the table (--keyspace/--table): every "
        "CassandraSemanticCache on it uses it unless given score_threshold",
    )
    add_connection_arguments(parser, table_default="langchain_llm_semantic_cache")
