"""The node the evaluation runs on: the one named, one already listening, or one started here."""

from __future__ import annotations

import contextlib
import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from cassandra.cluster import Session


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def session_for(
    contact_points: list[str] | None,
    port: int,
    keyspace: str,
    progress: Callable[[str], None],
) -> Iterator[Session]:
    """A session with ``keyspace`` (created with replication factor 1 if it is missing)."""
    from cassandra_llm_cache._storage.connection import init, reset

    points = contact_points or [
        p.strip() for p in os.environ.get("CASSANDRA_CONTACT_POINTS", "").split(",") if p.strip()
    ]
    local = None
    if not points and not _listening(port):
        from cassandra_llm_cache.server import LocalCluster

        local = LocalCluster(None, nodes=1, native_port=port)
        progress(f"starting a local Cassandra node in {local.base_dir}")
        local.start()
    try:
        session = init(
            contact_points=points or ["127.0.0.1"],
            port=port,
            username=os.environ.get("CASSANDRA_USERNAME") or None,
            password=os.environ.get("CASSANDRA_PASSWORD") or None,
        )
        try:
            session.execute(
                f'CREATE KEYSPACE IF NOT EXISTS "{keyspace}" WITH replication = '
                "{'class': 'SimpleStrategy', 'replication_factor': 1}"
            )
            yield session
        finally:
            reset()
    finally:
        if local is not None:
            local.stop()
