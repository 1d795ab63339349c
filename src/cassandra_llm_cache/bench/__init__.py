"""``cassandra-llm-cache bench``: the side-by-side benchmark (optional extra ``bench``).

Measures the raw driver floor, this project's caches and their peers with identical payloads and
writes ``docs/benchmarks.md``, ``docs/benchmarks.json`` and ``docs/benchmarks.png``. Importing this
package is cheap; the benchmark itself loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cassandra_llm_cache.bench._options import BenchOptions, build_parser, from_namespace

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

__all__ = ["BenchOptions", "main", "run_command"]


def run_command(args: argparse.Namespace) -> int:
    """Run the benchmark from parsed arguments (the CLI's ``bench`` subcommand)."""
    from cassandra_llm_cache.bench._run import run

    options = from_namespace(args)
    document = run(options)
    if options.only:  # every section asked for came out
        return (
            0
            if all("failed" not in document.get(s, {"failed": ""}) for s in options.sections)
            else 1
        )
    return 0 if any("median" in result for result in document["results"]) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """``cassandra-llm-cache bench [options]``: returns the exit code (0 when numbers came out)."""
    return run_command(build_parser().parse_args(argv))
