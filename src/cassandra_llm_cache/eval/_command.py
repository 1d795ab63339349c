"""``cassandra-llm-cache eval-semantic``: run the evaluation, write the report."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from cassandra_llm_cache.eval._runner import RunResult


def run_command(args: argparse.Namespace) -> int:
    """Evaluate on the node, write ``semantic-quality.md``/``.png`` to ``args.output``."""
    from cassandra_llm_cache.embeddings import LOCAL_EMBEDDINGS_SCORE_THRESHOLD
    from cassandra_llm_cache.eval import _public_report, _report, _results

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"eval-semantic: {message}", file=sys.stderr, flush=True)

    if args.from_results is not None:
        result = _results.load(args.from_results)
    else:
        result = _run(args, progress)
        if args.save_results is not None:
            _results.save(
                result, args.save_results, limit=args.limit, limit_per_kind=args.limit_per_kind
            )
    outcomes, chosen = _report.analyse(result)
    print(summary(result, chosen, LOCAL_EMBEDDINGS_SCORE_THRESHOLD))
    if not args.no_write:
        args.output.mkdir(parents=True, exist_ok=True)
        markdown = args.output / "semantic-quality.md"
        picture = args.output / "semantic-quality.png"
        default = LOCAL_EMBEDDINGS_SCORE_THRESHOLD
        public_picture = args.output / "semantic-quality-public.png"
        markdown.write_text(
            _report.render(
                result,
                outcomes,
                chosen,
                default=default,
                plot_name=picture.name,
                public_plot_name=public_picture.name,
                max_wrong=args.max_wrong,
            ),
            encoding="utf-8",
        )
        _report.plot(outcomes, picture, default=default)
        if result.public:
            _public_report.plot(result, public_picture, default=default)
        print(f"wrote {markdown}, {picture} and {public_picture}")
    return 0


def _run(args: argparse.Namespace, progress: Callable[[str], None]) -> RunResult:
    from cassandra_llm_cache._storage.cql import identifier
    from cassandra_llm_cache.embeddings import LocalEmbeddings
    from cassandra_llm_cache.eval import _public, _runner
    from cassandra_llm_cache.eval._node import session_for

    points = [p.strip() for p in args.contact_points.split(",")] if args.contact_points else None
    public = [_public.sts2016()]
    if args.quora is not None:
        public.append(_public.quora(args.quora, limit=args.quora_limit))
    if args.askubuntu is not None:
        public.append(_public.askubuntu(args.askubuntu))
    keyspace = identifier(args.keyspace, "keyspace name")
    embedding = LocalEmbeddings()
    try:
        with session_for(points, args.port, keyspace, progress) as session:
            return _runner.run(
                session,
                keyspace,
                embedding,
                limit=args.limit,
                limit_per_kind=args.limit_per_kind,
                candidates=args.candidates,
                latency_samples=args.latency_samples,
                keep_table=args.keep_table,
                public=public,
                adaptive_requests=args.adaptive_requests,
                progress=progress,
            )
    finally:
        embedding.close()


def summary(result: RunResult, chosen: float | None, default: float) -> str:
    """A few lines for the terminal."""
    from cassandra_llm_cache.eval._metrics import outcome

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    lines = [f"threshold {default:.3f} (recommended by this run: {chosen})"]
    for guard in (False, True):
        para = outcome(result.probes, "paraphrase", default, guard=guard)
        negatives = outcome(result.probes, "hard-negative", default, guard=guard)
        holdout = outcome(result.probes, "holdout-hard-negative", default, guard=guard)
        lines.append(
            f"  guard {'on ' if guard else 'off'}: paraphrase P {pct(para.precision)} "
            f"R {pct(para.recall)}; hard-negative false hits {pct(negatives.false_hit_rate)} "
            f"(hold-out {pct(holdout.false_hit_rate)})"
        )
    cold, warm = result.lookup_with_embedding, result.lookup_from_memo
    lines.append(
        f"  embedding {result.embeddings_per_second:.1f}/s; lookup p50/p99 "
        f"{1000 * cold.p50:.1f}/{1000 * cold.p99:.1f} ms "
        f"(from memo {1000 * warm.p50:.1f}/{1000 * warm.p99:.1f} ms)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m cassandra_llm_cache.eval``."""
    import argparse

    from cassandra_llm_cache.eval._options import add_arguments

    parser = argparse.ArgumentParser(prog="cassandra-llm-cache eval-semantic")
    add_arguments(parser)
    return run_command(parser.parse_args(argv))
