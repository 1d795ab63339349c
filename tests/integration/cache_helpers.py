"""Helpers shared by the exact-cache integration tests (server-side checks, not mocks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cassandra.cluster import Session


def table_exists(session: Session, keyspace: str, table: str) -> bool:
    row = session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s AND table_name = %s",
        (keyspace, table),
    ).one()
    return row is not None


def keyspace_exists(session: Session, keyspace: str) -> bool:
    row = session.execute(
        "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = %s", (keyspace,)
    ).one()
    return row is not None


def table_options(session: Session, keyspace: str, table: str) -> Any:
    return session.execute(
        "SELECT * FROM system_schema.tables WHERE keyspace_name = %s AND table_name = %s",
        (keyspace, table),
    ).one()


def rows(session: Session, keyspace: str, table: str) -> list[Any]:
    return list(session.execute(f'SELECT * FROM "{keyspace}"."{table}"'))
