"""The Cassandra node the benchmark runs against: found or started, connected, described."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cassandra.cluster import Session

logger = logging.getLogger(__name__)

# The execution profile the raw floor reads with: plain tuples, the cheapest row factory.
TUPLES_PROFILE = "bench_tuples"

_REPORTED_SETTINGS = (
    "concurrent_reads",
    "concurrent_writes",
    "memtable_allocation_type",
    "memtable_heap_space",
    "commitlog_sync",
    "commitlog_sync_period",
    "key_cache_size",
    "row_cache_size",
    "native_transport_max_threads",
    "sstable_format",
    "default_compaction",
    "storage_compatibility_mode",
)


@dataclass
class Node:
    """A connected node: the driver session plus what was started to get it."""

    session: Session
    contact_points: list[str]
    port: int
    origin: str
    keyspace: str
    _shutdown: list[Any] = field(default_factory=list, repr=False)

    def close(self) -> None:
        for stop in reversed(self._shutdown):
            with contextlib.suppress(Exception):
                stop()
        self._shutdown.clear()


def _answers(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((address, port)) == 0


def _locate(contact_points: list[str] | None, port: int) -> tuple[list[str], str, Any]:
    """Where the node is: given, from the environment, already listening, or started here."""
    if contact_points:
        return contact_points, "given on the command line", None
    env_points = os.environ.get("CASSANDRA_CONTACT_POINTS", "").strip()
    if env_points:
        points = [p.strip() for p in env_points.split(",") if p.strip()]
        return points, "CASSANDRA_CONTACT_POINTS", None
    if _answers("127.0.0.1", port):
        return ["127.0.0.1"], f"a node already listening on 127.0.0.1:{port}", None
    from cassandra_llm_cache.server import LocalCluster

    cluster = LocalCluster(None, nodes=1, native_port=port)
    logger.info("starting a local Cassandra node in %s", cluster.base_dir)
    seconds = cluster.start()
    return cluster.contact_points, f"local node started by the benchmark ({seconds:.0f} s)", cluster


def connect(contact_points: list[str] | None, port: int, keyspace: str) -> Node:
    """Connect (starting a local node if nothing is configured) and create the bench keyspace."""
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
    from cassandra.query import named_tuple_factory, tuple_factory

    points, origin, started = _locate(contact_points, port)
    shutdown: list[Any] = []
    if started is not None:
        shutdown.append(started.stop)

    def policy() -> TokenAwarePolicy:
        return TokenAwarePolicy(DCAwareRoundRobinPolicy())

    # The default profile keeps the driver's default row factory, as a user's session would (the
    # legacy cache relies on it); the raw floor uses the tuple profile.
    cluster = Cluster(
        contact_points=points,
        port=port,
        protocol_version=5,
        execution_profiles={
            EXEC_PROFILE_DEFAULT: ExecutionProfile(
                load_balancing_policy=policy(), row_factory=named_tuple_factory
            ),
            TUPLES_PROFILE: ExecutionProfile(
                load_balancing_policy=policy(), row_factory=tuple_factory
            ),
        },
    )
    session = cluster.connect()
    shutdown.append(cluster.shutdown)
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


@contextlib.contextmanager
def connected(contact_points: list[str] | None, port: int, keyspace: str) -> Iterator[Node]:
    node = connect(contact_points, port, keyspace)
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
