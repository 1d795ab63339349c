"""The Cassandra node the benchmark runs against: found or started, connected, described."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from cassandra_llm_cache._errors import CacheOperationError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from cassandra.cluster import Session

logger = logging.getLogger(__name__)


def progress(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


T = TypeVar("T")

# The execution profile the raw floor reads with: plain tuples, the cheapest row factory.
TUPLES_PROFILE = "bench_tuples"

_REPORTED_SETTINGS = (
    "concurrent_reads",
    "concurrent_writes",
    "native_transport_max_threads",
    "memtable_allocation_type",
    "memtable_heap_space",
    "commitlog_sync",
    "commitlog_sync_period",
    "sstable.selected_format",
    "key_cache_size",
    "row_cache_size",
    "compaction_throughput",
    "disk_access_mode",
)


DROP_TIMEOUT = 300.0


@dataclass
class Node:
    """A connected node: the driver session plus what was started to get it."""

    session: Session
    contact_points: list[str]
    port: int
    origin: str
    keyspace: str
    # Table names carry it, so that two runs on one node never drop each other's tables.
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _shutdown: list[Any] = field(default_factory=list, repr=False)

    def table(self, stem: str) -> str:
        """The keyspace-qualified name of this run's table ``stem``."""
        return f"{self.keyspace}.{self.table_name(stem)}"

    def table_name(self, stem: str) -> str:
        return f"bench_{stem}_{self.run_id}"

    def drop(self, table: str) -> None:
        """Drop a benchmark table; a large one (SAI indexes, 100k+ rows) takes more than 10 s.

        A drop that fails is reported, not raised: a leftover table must not cost the figures
        measured on it.
        """
        try:
            self.session.execute(f"DROP TABLE IF EXISTS {table}", timeout=DROP_TIMEOUT)
        except Exception as error:  # noqa: BLE001 - any failure: the table is left behind
            progress(f"could not drop {table} (drop it by hand): {type(error).__name__}: {error}")

    def close(self) -> None:
        for stop in reversed(self._shutdown):
            with contextlib.suppress(Exception):
                stop()
        self._shutdown.clear()


def _answers(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((address, port)) == 0


@dataclass(frozen=True)
class Where:
    """Where to find (or start) the node."""

    contact_points: tuple[str, ...] = ()
    port: int = 9042
    node_dir: Path | None = None
    storage_port: int | None = None
    heap: str | None = None


def _start_local(where: Where) -> tuple[list[str], str, Any]:
    from cassandra_llm_cache.server import LocalCluster

    cluster = LocalCluster(
        where.node_dir,
        nodes=1,
        native_port=where.port,
        storage_port=where.storage_port,
        heap=where.heap,
    )
    heap = cluster.settings.heap
    if cluster.is_running(1):
        return cluster.contact_points, f"local node in {cluster.base_dir} (heap {heap})", None
    progress(f"starting a local Cassandra node in {cluster.base_dir}")
    seconds = cluster.start()
    origin = f"local node started by the benchmark in {seconds:.0f} s (heap {heap})"
    return cluster.contact_points, origin, cluster


def _locate(where: Where) -> tuple[list[str], str, Any]:
    """Where the node is: given, from the environment, already listening, or started here."""
    if where.node_dir is not None:
        return _start_local(where)
    if where.contact_points:
        return list(where.contact_points), "given on the command line", None
    env_points = os.environ.get("CASSANDRA_CONTACT_POINTS", "").strip()
    if env_points:
        points = [p.strip() for p in env_points.split(",") if p.strip()]
        return points, "CASSANDRA_CONTACT_POINTS", None
    if _answers("127.0.0.1", where.port):
        return ["127.0.0.1"], f"a node already listening on 127.0.0.1:{where.port}", None
    return _start_local(where)


def connect(where: Where, keyspace: str) -> Node:
    """Connect (starting a local node if nothing is configured) and create the bench keyspace."""
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
    from cassandra.query import named_tuple_factory, tuple_factory

    from cassandra_llm_cache._storage.connection import NO_DELAY_SOCKOPTS, PROTOCOL_VERSION
    from cassandra_llm_cache._storage.store import DRIVER_ERRORS

    points, origin, started = _locate(where)
    port = where.port
    shutdown: list[Any] = []
    if started is not None:
        shutdown.append(started.stop)

    def policy() -> TokenAwarePolicy:
        return TokenAwarePolicy(DCAwareRoundRobinPolicy())

    # The default profile keeps the driver's default row factory, as a user's session would (the
    # legacy cache relies on it); the raw floor uses the tuple profile.
    auth: dict[str, Any] = {}
    username = os.environ.get("CASSANDRA_USERNAME")
    if username:
        from cassandra.auth import PlainTextAuthProvider

        password = os.environ.get("CASSANDRA_PASSWORD", "")
        auth["auth_provider"] = PlainTextAuthProvider(username, password)
    # TCP_NODELAY and the protocol version as `cassandra_llm_cache.init()` sets them, for every
    # system alike.
    cluster = Cluster(
        **auth,
        contact_points=points,
        port=port,
        protocol_version=PROTOCOL_VERSION,
        sockopts=list(NO_DELAY_SOCKOPTS),
        execution_profiles={
            EXEC_PROFILE_DEFAULT: ExecutionProfile(
                load_balancing_policy=policy(), row_factory=named_tuple_factory
            ),
            TUPLES_PROFILE: ExecutionProfile(
                load_balancing_policy=policy(), row_factory=tuple_factory
            ),
        },
    )
    shutdown.append(cluster.shutdown)
    try:
        session = cluster.connect()
    except DRIVER_ERRORS as error:
        for stop in reversed(shutdown):
            with contextlib.suppress(Exception):
                stop()
        raise _unreachable(points, port, origin) from error
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    return Node(
        session=session,
        contact_points=points,
        port=port,
        origin=origin,
        keyspace=keyspace,
        _shutdown=shutdown,
    )


def _unreachable(points: list[str], port: int, origin: str) -> CacheOperationError:
    """The one line a user sees when nothing answers: the address tried, and the fix."""
    hosts = ", ".join(f"{point}:{port}" for point in points)
    return CacheOperationError(
        f"cannot connect to Cassandra at {hosts} ({origin}): start a node "
        "(`cassandra-llm-cache server start`) or point --contact-points and --port (or "
        "CASSANDRA_CONTACT_POINTS and CASSANDRA_PORT) at a running one"
    )


@contextlib.contextmanager
def connected(where: Where, keyspace: str) -> Iterator[Node]:
    node = connect(where, keyspace)
    try:
        yield node
    finally:
        node.close()


def describe(node: Node) -> dict[str, Any]:
    """Server version and the settings that matter for these numbers."""
    session = node.session
    local = session.execute("SELECT release_version, cluster_name FROM system.local").one()
    peers = list(session.execute("SELECT peer FROM system.peers"))
    settings: dict[str, str] = {}
    with contextlib.suppress(Exception):  # virtual tables exist from 4.0 on
        for row in session.execute("SELECT name, value FROM system_views.settings"):
            if row.name in _REPORTED_SETTINGS:
                settings[row.name] = row.value
    return {
        "release_version": local.release_version,
        "nodes": 1 + len(peers),
        "origin": node.origin,
        "contact_points": node.contact_points,
        "port": node.port,
        "settings": settings,
    }


def describe_tables(node: Node) -> dict[str, dict[str, str]]:
    """The options of this run's tables (compaction, bloom filter, compression, caching, TTL)."""
    rows = node.session.execute(
        "SELECT table_name, compaction, bloom_filter_fp_chance, compression, caching, "
        "gc_grace_seconds, default_time_to_live FROM system_schema.tables WHERE keyspace_name = %s",
        (node.keyspace,),
    )
    suffix = f"_{node.run_id}"
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        if not row.table_name.endswith(suffix):
            continue
        stem = row.table_name.removeprefix("bench_").removesuffix(suffix)
        found[stem] = {
            "compaction": str(row.compaction.get("class", "")).rsplit(".", 1)[-1],
            "bloom_filter_fp_chance": str(row.bloom_filter_fp_chance),
            "compression": str(row.compression.get("class", "")).rsplit(".", 1)[-1],
            "caching": str(dict(row.caching)),
            "gc_grace_seconds": str(row.gc_grace_seconds),
            "default_time_to_live": str(row.default_time_to_live),
        }
    return found


def retrying(call: Callable[[], T], attempts: int = 5) -> T:
    """``call()``, retried with a growing pause if it fails (a busy node refuses bursts).

    Used only to load data before measuring; measured operations are never retried.
    """
    for attempt in range(attempts - 1):
        with contextlib.suppress(Exception):
            return call()
        time.sleep(0.1 * 2**attempt)
    return call()
