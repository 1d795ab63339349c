"""The benchmark's table drops: a failed drop is reported and never loses measured figures."""

from __future__ import annotations

from cassandra import OperationTimedOut

from cassandra_llm_cache.bench._node import DROP_TIMEOUT, Node


class _Session:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, float]] = []
        self._error = error

    def execute(self, query: str, *, timeout: float) -> None:
        self.calls.append((query, timeout))
        if self._error is not None:
            raise self._error


def _node(session: _Session) -> Node:
    return Node(session=session, contact_points=[], port=9042, origin="", keyspace="ks")  # type: ignore[arg-type]


def test_drop_waits_for_large_tables():
    session = _Session()
    _node(session).drop("ks.bench_semantic_scale_1")
    assert session.calls == [("DROP TABLE IF EXISTS ks.bench_semantic_scale_1", DROP_TIMEOUT)]


def test_a_failed_drop_is_reported_not_raised(capsys):
    session = _Session(OperationTimedOut("timed out after 300 s"))
    _node(session).drop("ks.bench_scale_large_1")
    reported = capsys.readouterr().err
    assert "could not drop ks.bench_scale_large_1" in reported
    assert "OperationTimedOut" in reported
