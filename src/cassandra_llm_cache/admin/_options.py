"""Arguments of the data commands (argparse only: building the parser imports no driver)."""

from __future__ import annotations

import argparse

from cassandra_llm_cache.admin._connect import add_connection_arguments

EXACT_TABLE = "langchain_llm_cache"
SEMANTIC_TABLE = "langchain_llm_semantic_cache"


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _ttl(text: str) -> object:
    from cassandra_llm_cache.admin._records import TtlPolicy

    try:
        return TtlPolicy.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _entry(parser: argparse.ArgumentParser) -> None:
    which = parser.add_argument_group(
        "the entry", "by --id, or by the prompt and llm_string LangChain keyed it with"
    )
    which.add_argument("--id", help="'<prompt key>-<model key>' in hex, as export/inspect show")
    which.add_argument("--prompt", help="the prompt (for chat models: the serialized messages)")
    which.add_argument("--prompt-file", metavar="FILE", help="read the prompt from a file")
    which.add_argument("--llm-string", help="the model string LangChain keyed the entry with")
    which.add_argument("--llm-string-file", metavar="FILE", help="read the llm_string from a file")
    which.add_argument(
        "-n", "--namespace", default="", help="the entry's namespace (default: none)"
    )


def add_schema(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", "--keyspace", help="the keyspace (default: $CASSANDRA_KEYSPACE)")
    parser.add_argument("-t", "--table", help="the table (default: the cache's default name)")
    parser.add_argument(
        "--semantic", action="store_true", help="the semantic cache's table and indexes"
    )
    parser.add_argument("--dimension", type=_positive, help="vector length (with --semantic)")
    parser.add_argument(
        "--similarity",
        default="cos",
        choices=("cos", "dot", "l2"),
        help="similarity measure (with --semantic; default cos)",
    )
    parser.add_argument(
        "--max-wrong-rate",
        type=float,
        metavar="DELTA",
        help="the cache's max_wrong_rate (with --semantic): also its observations table",
    )
    parser.add_argument(
        "--replication",
        metavar="JSON",
        help="also print CREATE KEYSPACE with this replication, e.g. "
        '\'{"class": "NetworkTopologyStrategy", "dc1": 3}\'',
    )
    _json_flag(parser)


def add_stats(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser, table_default=EXACT_TABLE)
    parser.add_argument(
        "--count",
        action="store_true",
        help="count entries exactly even in a big table (default: only below 200,000)",
    )
    parser.add_argument("--concurrency", type=_positive, default=8, help="parallel range reads")
    _json_flag(parser)


def add_inspect(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser, table_default=EXACT_TABLE)
    _entry(parser)
    _json_flag(parser)


def add_delete(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser, table_default=EXACT_TABLE)
    _entry(parser)
    _json_flag(parser)


def add_clear(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser, table_default=EXACT_TABLE)
    parser.add_argument("--llm-string", help="only this model's entries")
    parser.add_argument(
        "-n", "--namespace", help="only this namespace's entries (default: every namespace)"
    )
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


def _transfer(parser: argparse.ArgumentParser, *, concurrency: int = 8) -> None:
    parser.add_argument(
        "--concurrency",
        type=_positive,
        default=concurrency,
        help=f"requests in flight (default {concurrency})",
    )
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _json_flag(parser)


def _writing(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("writing")
    group.add_argument(
        "--layout",
        choices=("exact", "legacy"),
        default="exact",
        help="layout of a target table that does not exist yet: this package's (default) or "
        "langchain_community's (to roll back)",
    )
    group.add_argument(
        "--key-hash",
        choices=("auto", "sha256", "md5"),
        default="auto",
        help="keys of a new target table (exact layout): auto = those of the entries (md5 for "
        "entries from a legacy table, which can only keep their md5 keys)",
    )
    group.add_argument(
        "--ttl",
        type=_ttl,
        default="keep",
        help="'keep' each entry's remaining TTL (default; expired entries are skipped), "
        "'none', or a number of seconds for all",
    )
    group.add_argument(
        "--preserve-writetime",
        action="store_true",
        help="write with the entries' original write times (default: now; an older write time "
        "loses to a newer delete of the same entry)",
    )
    group.add_argument(
        "--to-namespace", help="put every entry in this namespace (default: each its own)"
    )


def add_export(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser, table_default=EXACT_TABLE)
    parser.add_argument("-o", "--output", required=True, help="the JSON Lines file to write")
    parser.add_argument("-n", "--namespace", help="only this namespace's entries")
    parser.add_argument(
        "--splits",
        type=_positive,
        help="token ranges to read in parallel and checkpoint (default: by table size, >= 16)",
    )
    _transfer(parser)


def add_import(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser, table_default=EXACT_TABLE)
    parser.add_argument("-i", "--input", required=True, help="the JSON Lines file to read")
    parser.add_argument(
        "--no-create",
        dest="create",
        action="store_false",
        help="fail if the target table does not exist (default: create it)",
    )
    _writing(parser)
    _transfer(parser, concurrency=32)


def add_migrate(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser, table_default=EXACT_TABLE)
    parser.add_argument("--to-table", required=True, help="the target table")
    parser.add_argument("--to-keyspace", help="the target keyspace (default: the source's)")
    parser.add_argument("-n", "--namespace", help="only this namespace's entries")
    parser.add_argument(
        "--splits", type=_positive, help="token ranges (default: by table size, >= 16)"
    )
    parser.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="where to keep the resume point (default: migrate-<source>-to-<target>.checkpoint)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="read and check every entry and print what would be migrated; create and write "
        "nothing",
    )
    _writing(parser)
    semantic = parser.add_argument_group(
        "from langchain_community's semantic cache",
        "Detected from the source table's columns. The target is this package's semantic layout "
        "keyed with md5 (the legacy table keeps only the md5 of each model string).",
    )
    semantic.add_argument(
        "--embedding",
        metavar="SPEC",
        help="the embedding the application uses: 'local' (LocalEmbeddings) or "
        "'module:factory' (called without arguments). Stored vectors of the target's length are "
        "reused; other prompts are embedded with it (without it they are skipped)",
    )
    semantic.add_argument(
        "--similarity",
        default="cos",
        choices=("cos", "dot", "l2"),
        help="similarity measure of a new target's vector index (default cos)",
    )
    _transfer(parser)
