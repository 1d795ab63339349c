"""The ``cassandra-llm-cache`` command line.

Exit codes: 0 success, 1 failure, 2 usage error. Every subcommand imports its module lazily, so
``--help`` and the server commands start fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cassandra_llm_cache._errors import CassandraLLMCacheError
from cassandra_llm_cache._version import __version__

Handler = Callable[[argparse.Namespace], int]


def _lazy(target: str) -> Handler:
    """A handler that imports ``module:function`` only when the command runs."""

    def run(args: argparse.Namespace) -> int:
        module_name, _, function_name = target.partition(":")
        function: Handler = getattr(importlib.import_module(module_name), function_name)
        return function(args)

    return run


# -- server ------------------------------------------------------------------------------------
def _cluster(args: argparse.Namespace) -> Any:
    from cassandra_llm_cache.server import LocalCluster

    return LocalCluster(
        args.dir,
        nodes=getattr(args, "nodes", None),
        native_port=getattr(args, "native_port", None),
        storage_port=getattr(args, "storage_port", None),
        heap=getattr(args, "heap", None),
        password_auth=getattr(args, "password_auth", None) or None,
    )


def _server_fetch(args: argparse.Namespace) -> int:
    from cassandra_llm_cache.server import resolve_jars

    jars = resolve_jars(args.version) if args.version else resolve_jars()
    print(
        f"Cassandra {jars.version}: {len(jars.jars)} jars, {jars.total_bytes / 1e6:.1f} MB "
        f"in {jars.lib_dir}"
    )
    return 0


def _server_start(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    if args.node is not None:
        if cluster.is_running(args.node):
            print(f"node {args.node} is already running (pid {cluster.pid(args.node)})")
            return 0
        seconds = cluster.start_node(args.node, timeout=args.timeout)
        print(f"node {args.node} ready on {cluster.node(args.node).address} in {seconds:.1f} s")
        return 0
    running = [status.index for status in cluster.status() if status.running]
    if len(running) == cluster.settings.node_count:
        points = ",".join(cluster.contact_points)
        print(f"already running: {points} port {cluster.settings.native_port}")
        return 0
    seconds = cluster.start(timeout=args.timeout)
    points = ",".join(cluster.contact_points)
    print(
        f"Cassandra {cluster.settings.version} ready on {points} port "
        f"{cluster.settings.native_port} in {seconds:.1f} s (data: {cluster.base_dir})"
    )
    return 0


def _server_stop(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    if args.node is not None:
        stopped = [args.node] if cluster.stop_node(args.node) else []
    else:
        stopped = cluster.stop()
    if not args.quiet:
        print(f"stopped node(s) {stopped}" if stopped else "not running")
    return 0


def _server_kill(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    cluster.kill_node(args.node)
    print(f"killed node {args.node}")
    return 0


def _server_status(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    statuses = cluster.status()
    if args.json:
        print(json.dumps([asdict(status) for status in statuses], indent=2))
    else:
        for status in statuses:
            state = f"running pid {status.pid}" if status.running else "stopped"
            print(
                f"node {status.index}: {state}, Cassandra {status.version}, "
                f"{status.address}:{status.native_port}, data {status.data_dir}"
            )
    return 0 if all(status.running for status in statuses) else 1


def _server_logs(args: argparse.Namespace) -> int:
    print(_cluster(args).logs(args.node or 1, args.lines))
    return 0


def _add_server(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    server = commands.add_parser(
        "server",
        help="run a local Cassandra 5.0 node or cluster from Maven Central jars",
        description="A local Apache Cassandra 5.0 node (or a cluster on 127.0.0.1..N) for "
        "development and tests. Needs JDK 17 and Maven; data and logs live in --dir.",
    )
    actions = server.add_subparsers(dest="action", required=True, metavar="ACTION")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text, description=help_text)
        parser.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="directory for data and logs (default: $CASSANDRA_LLM_CACHE_DATA or "
            "~/.local/share/cassandra-llm-cache/local)",
        )
        parser.set_defaults(handler=handler)
        return parser

    fetch = add("fetch", _server_fetch, "download the server jars once (needs network)")
    fetch.add_argument("--version", default=None, help="cassandra-all version to resolve")
    start = add("start", _server_start, "start the node(s) and wait until CQL is ready")
    start.add_argument("--nodes", type=int, default=None, help="number of nodes (default 1)")
    start.add_argument("--node", type=int, default=None, help="start only this node")
    start.add_argument("--native-port", type=int, default=None, help="CQL port (default 9042)")
    start.add_argument("--storage-port", type=int, default=None, help="gossip port (7000)")
    start.add_argument("--heap", default=None, help="JVM heap per node (1G; 512M for clusters)")
    start.add_argument("--password-auth", action="store_true", help="enable PasswordAuthenticator")
    start.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for CQL")
    stop = add("stop", _server_stop, "stop the node(s): TERM, wait, then KILL")
    stop.add_argument("--node", type=int, default=None, help="stop only this node")
    stop.add_argument("--quiet", action="store_true", help="print nothing")
    kill = add("kill", _server_kill, "SIGKILL one node, as a crash would")
    kill.add_argument("--node", type=int, required=True, help="the node to kill")
    status = add("status", _server_status, "show pid, version, address and data dir")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    logs = add("logs", _server_logs, "print the last lines of a node's system.log")
    logs.add_argument("--node", type=int, default=None, help="node (default 1)")
    logs.add_argument("-n", "--lines", type=int, default=50, help="how many lines")


# -- bench -------------------------------------------------------------------------------------
def _add_bench(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # bench._options imports only argparse; the benchmark itself loads when the command runs.
    from cassandra_llm_cache.bench._options import add_arguments

    bench = commands.add_parser(
        "bench",
        help="side-by-side benchmark against the raw driver and the peer caches",
        description="Measure the raw driver floor, this project's caches and the peers with "
        "identical payloads; write docs/benchmarks.md, .json and .png.",
    )
    add_arguments(bench)
    bench.set_defaults(handler=_lazy("cassandra_llm_cache.bench:run_command"))


# -- data commands (admin/) ----------------------------------------------------------------------
# admin._options imports only argparse; each command's code loads when it runs.
_ADMIN = "cassandra_llm_cache.admin._commands"


def _admin(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    description: str,
) -> Any:
    parser = commands.add_parser(
        name, help=help_text, description=f"{help_text[0].upper()}{help_text[1:]}. {description}"
    )
    parser.set_defaults(handler=_lazy(f"{_ADMIN}:run_{name}"))
    return parser


def _add_schema(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from cassandra_llm_cache.admin._options import add_schema

    add_schema(
        _admin(
            commands,
            "schema",
            "print the DDL of a cache table",
            "Nothing is run; no connection is needed.",
        )
    )


def _add_stats(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from cassandra_llm_cache.admin._options import add_stats

    add_stats(
        _admin(
            commands,
            "stats",
            "entries, size on disk, TTLs and options of a table",
            "Small tables are counted exactly; big ones estimated by the nodes.",
        )
    )


def _add_inspect(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from cassandra_llm_cache.admin._options import add_inspect

    add_inspect(
        _admin(
            commands,
            "inspect",
            "show one entry, by id or by prompt and llm_string",
            "Exit 1 if there is no such entry.",
        )
    )


def _add_delete(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from cassandra_llm_cache.admin._options import add_delete

    add_delete(
        _admin(
            commands,
            "delete",
            "delete one entry, by id or by prompt and llm_string",
            "Says whether it existed.",
        )
    )


def _add_clear(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from cassandra_llm_cache.admin._options import add_clear

    add_clear(
        _admin(
            commands,
            "clear",
            "delete every entry, or one model's or namespace's",
            "Asks for confirmation unless --yes.",
        )
    )


def _add_export(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from cassandra_llm_cache.admin._options import add_export

    add_export(
        _admin(
            commands,
            "export",
            "write a table's entries to a JSON Lines file",
            "Reads token ranges in parallel; resumable with --resume.",
        )
    )


def _add_import(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from cassandra_llm_cache.admin._options import add_import

    add_import(
        _admin(
            commands,
            "import",
            "write the entries of a JSON Lines file into a table",
            "Creates the table if missing; resumable with --resume.",
        )
    )


def _add_migrate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from cassandra_llm_cache.admin._options import add_migrate

    add_migrate(
        _admin(
            commands,
            "migrate",
            "copy a table's entries into another table",
            "E.g. a langchain_community table into this package's layout, or back.",
        )
    )


# -- eval-semantic -----------------------------------------------------------------------------
def _add_eval_semantic(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # eval._options imports only argparse; the model and the driver load when the command runs.
    from cassandra_llm_cache.eval._options import add_arguments

    command = commands.add_parser(
        "eval-semantic",
        help="measure the semantic cache's hit quality (precision, recall, false hits)",
        description="Run the paraphrase pairs and the written hard negatives through "
        "CassandraSemanticCache with LocalEmbeddings on a real node; write "
        "docs/semantic-quality.md and .png.",
    )
    add_arguments(command)
    command.set_defaults(handler=_lazy("cassandra_llm_cache.eval._command:run_command"))


def _add_calibrate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from cassandra_llm_cache.eval._options import add_calibrate_arguments

    command = commands.add_parser(
        "calibrate",
        help="choose the semantic threshold with the most hits under a wrong-answer bound",
        description="Score labelled pairs with LocalEmbeddings and the guard, choose the lowest "
        "threshold whose wrong-answer rate (its Wilson upper bound) is within --max-wrong, print "
        "the expected figures and, with --store, store the threshold in the table.",
    )
    add_calibrate_arguments(command)
    command.set_defaults(handler=_lazy("cassandra_llm_cache.eval._calibrate:run_command"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cassandra-llm-cache",
        description="LLM response caches on Apache Cassandra: local server, tools and checks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_server(commands)
    for add in (
        _add_schema,
        _add_stats,
        _add_inspect,
        _add_delete,
        _add_clear,
        _add_export,
        _add_import,
        _add_migrate,
    ):
        add(commands)
    _add_bench(commands)
    _add_eval_semantic(commands)
    _add_calibrate(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CassandraLLMCacheError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
