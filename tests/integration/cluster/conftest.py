"""The project's own 3-node cluster (127.0.0.1-3, native port 9142, storage port 7100), RF=3.

Started once per test session, and only if a test marked ``cluster`` asks for it; stopped at the end
of the session even when tests fail (unless it was already running when the session began). It
lives beside the single dev/test node (127.0.0.1:9042/7000) without touching it.

Fault figures (operations, errors, p50/p99 per phase, time to recover) are collected by the
``fault_report`` fixture, printed in the terminal summary and written to
``.cassandra/fault-report.json``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cassandra_llm_cache.server import LocalCluster

if TYPE_CHECKING:
    from collections.abc import Iterator

NODES = 3
NATIVE_PORT = 9142
STORAGE_PORT = 7100
KEYSPACE = "llm_cache_faults"

_REPORT: list[dict[str, Any]] = []


def cluster_base_dir() -> Path:
    base = os.environ.get("CASSANDRA_LLM_CACHE_TEST_DATA") or str(
        Path(tempfile.gettempdir()) / "cassandra-llm-cache-test"
    )
    return Path(base + "-cluster")


@dataclass
class FaultCluster:
    """The running 3-node cluster and ways to connect to it and to put it back in shape."""

    local: LocalCluster
    keyspace: str = KEYSPACE
    _drivers: list[Any] = field(default_factory=list)

    @property
    def contact_points(self) -> list[str]:
        return self.local.contact_points

    @property
    def port(self) -> int:
        return self.local.settings.native_port

    def connect(
        self, *, profile_options: dict[str, Any] | None = None, **cluster_options: Any
    ) -> Any:
        """A new driver Session on the cluster (shut down with the fixture).

        ``profile_options`` go to the default execution profile (e.g. a speculative execution
        policy), ``cluster_options`` to ``Cluster``.
        """
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

        profile = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
            **(profile_options or {}),
        )
        options: dict[str, Any] = {
            "contact_points": self.contact_points,
            "port": self.port,
            "protocol_version": 5,
            "execution_profiles": {EXEC_PROFILE_DEFAULT: profile},
            **cluster_options,
        }
        driver = Cluster(**options)
        self._drivers.append(driver)
        return driver.connect()

    def shutdown_drivers(self) -> None:
        while self._drivers:
            self._drivers.pop().shutdown()

    def ensure_healthy(self, timeout: float = 180.0) -> None:
        """Resume paused nodes, start stopped ones, and wait until every node sees every other."""
        for index in range(1, NODES + 1):
            self.local.resume_node(index)
        for index in range(1, NODES + 1):
            if not self.local.is_running(index):
                self.local.start_node(index, timeout=timeout)
        self.local.wait_all_up(deadline=time.monotonic() + timeout)


@pytest.fixture(scope="session")
def _fault_cluster_session() -> Iterator[FaultCluster]:
    local = LocalCluster(
        cluster_base_dir(), nodes=NODES, native_port=NATIVE_PORT, storage_port=STORAGE_PORT
    )
    already_running = all(local.is_running(i) for i in range(1, NODES + 1))
    handle = FaultCluster(local)
    try:
        local.start()
        session = handle.connect()
        session.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = "
            "{'class': 'NetworkTopologyStrategy', 'datacenter1': 3}",
            timeout=60,
        )
        handle.shutdown_drivers()
        yield handle
    finally:
        handle.shutdown_drivers()
        if not already_running:
            local.stop()


@pytest.fixture
def fault_cluster(
    request: pytest.FixtureRequest, _fault_cluster_session: FaultCluster
) -> Iterator[FaultCluster]:
    """The 3-node cluster, made healthy before the test (only for ``cluster`` tests).

    A test that leaves a node down or frozen is cleaned up by the next one's fixture, or by the
    end of the session (which stops the cluster): the last test pays no restart.
    """
    if request.node.get_closest_marker("cluster") is None:
        pytest.fail("the 3-node cluster is only for tests marked @pytest.mark.cluster")
    _fault_cluster_session.ensure_healthy()
    try:
        yield _fault_cluster_session
    finally:
        _fault_cluster_session.shutdown_drivers()
        for index in range(1, NODES + 1):  # never leave a node frozen
            _fault_cluster_session.local.resume_node(index)


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A dict the test fills with its figures; printed and saved at the end of the session."""
    entry: dict[str, Any] = {"test": request.node.name}
    yield entry
    _REPORT.append(entry)
    path = Path(request.config.rootpath) / ".cassandra" / "fault-report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_REPORT, indent=2) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _REPORT:
        return
    terminalreporter.section("fault-test figures")
    for entry in _REPORT:
        terminalreporter.write_line(json.dumps(entry, separators=(",", ":")))
