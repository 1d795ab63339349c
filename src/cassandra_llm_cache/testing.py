"""A pytest plugin (and helpers) for testing code that uses cassandra-llm-cache on a real node.

Installed as the ``cassandra_llm_cache`` pytest plugin. Fixtures:

- ``cassandra_contact``: where Cassandra is. ``CASSANDRA_CONTACT_POINTS`` (with ``CASSANDRA_PORT``,
  ``CASSANDRA_USERNAME``, ``CASSANDRA_PASSWORD``) names an existing cluster; otherwise a local node
  is started once per test session (from Maven Central jars) and stopped at the end.
  ``CASSANDRA_LLM_CACHE_TEST_DATA`` chooses its directory; ``CASSANDRA_LLM_CACHE_TEST_NATIVE_PORT``
  and ``CASSANDRA_LLM_CACHE_TEST_STORAGE_PORT`` its ports (default 9042 and 7000).
- ``cassandra_session``: a driver ``Session`` connected to it (session-scoped).
- ``cassandra_keyspace``: a keyspace for the tests (``CASSANDRA_KEYSPACE`` or ``llm_cache_tests``).
- ``table_name``: a fresh, unique table name for each test, so tests never see each other's data.

Helpers: ``DeterministicEmbeddings`` (a predictable, counting LangChain ``Embeddings`` for
semantic-cache tests), ``unit_vector_with_cosine`` and ``basis_vector`` to place its vectors.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

# Public helpers for semantic-cache tests, re-exported here (see the module docstring).
from cassandra_llm_cache._semantic.fake_embeddings import (  # noqa: F401 - re-exported public helpers
    DeterministicEmbeddings,
    EmbeddingFailedError,
    basis_vector,
    unit_vector_with_cosine,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cassandra.cluster import Session

    from cassandra_llm_cache.server import LocalCluster

DEFAULT_TEST_KEYSPACE = "llm_cache_tests"


@dataclass(frozen=True)
class CassandraContact:
    """How to reach the Cassandra used by a test session."""

    contact_points: list[str]
    port: int = 9042
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    local_cluster: LocalCluster | None = None

    def cluster_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``cassandra.cluster.Cluster``."""
        kwargs: dict[str, Any] = {
            "contact_points": self.contact_points,
            "port": self.port,
            "protocol_version": 5,
        }
        if self.username is not None:
            from cassandra.auth import PlainTextAuthProvider

            kwargs["auth_provider"] = PlainTextAuthProvider(self.username, self.password or "")
        return kwargs


def contact_from_env() -> CassandraContact | None:
    """The cluster named by ``CASSANDRA_CONTACT_POINTS``, if any."""
    points = os.environ.get("CASSANDRA_CONTACT_POINTS", "").strip()
    if not points:
        return None
    return CassandraContact(
        contact_points=[p.strip() for p in points.split(",") if p.strip()],
        port=int(os.environ.get("CASSANDRA_PORT", "9042")),
        username=os.environ.get("CASSANDRA_USERNAME") or None,
        password=os.environ.get("CASSANDRA_PASSWORD") or None,
    )


def unique_table_name(hint: str = "t") -> str:
    """A valid, unique CQL table name (at most 48 characters) derived from ``hint``."""
    stem = re.sub(r"[^a-z0-9_]", "_", hint.lower()).strip("_")[:30] or "t"
    if not stem[0].isalpha():
        stem = "t_" + stem
    return f"{stem}_{uuid.uuid4().hex[:12]}"[:48]


@pytest.fixture(scope="session")
def cassandra_contact() -> Iterator[CassandraContact]:
    existing = contact_from_env()
    if existing is not None:
        yield existing
        return
    from cassandra_llm_cache.server import LocalCluster

    base_dir = os.environ.get("CASSANDRA_LLM_CACHE_TEST_DATA")
    native_port = os.environ.get("CASSANDRA_LLM_CACHE_TEST_NATIVE_PORT")
    storage_port = os.environ.get("CASSANDRA_LLM_CACHE_TEST_STORAGE_PORT")
    cluster = LocalCluster(
        base_dir,
        nodes=1,
        native_port=int(native_port) if native_port else None,
        storage_port=int(storage_port) if storage_port else None,
    )
    already_running = cluster.is_running(1)
    try:
        cluster.start()
        yield CassandraContact(
            contact_points=cluster.contact_points,
            port=cluster.settings.native_port,
            local_cluster=cluster,
        )
    finally:
        if not already_running:
            cluster.stop()


@pytest.fixture(scope="session")
def cassandra_session(cassandra_contact: CassandraContact) -> Iterator[Session]:
    from cassandra.cluster import Cluster

    cluster = Cluster(**cassandra_contact.cluster_kwargs())
    session = cluster.connect()
    try:
        yield session
    finally:
        cluster.shutdown()


@pytest.fixture(scope="session")
def cassandra_keyspace(cassandra_session: Session) -> str:
    keyspace = os.environ.get("CASSANDRA_KEYSPACE") or DEFAULT_TEST_KEYSPACE
    cassandra_session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    return keyspace


@pytest.fixture
def table_name(request: pytest.FixtureRequest) -> str:
    return unique_table_name(request.node.name)
