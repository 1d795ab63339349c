"""The physical floor: the raw driver doing a prepared point read and a prepared TTL'd insert."""

from __future__ import annotations

import functools
from typing import Any

from cassandra_llm_cache.bench._node import TUPLES_PROFILE, Node, retrying
from cassandra_llm_cache.bench._payloads import Payload, raw_key, raw_new_key
from cassandra_llm_cache.bench._raw_bridge import execute_aio
from cassandra_llm_cache.bench._scenario import INSERT, RAW, READ, ExpectationError, Scenario


class RawFloor:
    """A ``(key blob PRIMARY KEY, value blob)`` table and its two prepared statements."""

    def __init__(self, node: Node, *, ttl_seconds: int, table_options: str = "") -> None:
        self._session = node.session
        self._ttl = ttl_seconds
        table = node.table("raw")
        with_clause = f" WITH {table_options}" if table_options else ""
        self._session.execute(f"DROP TABLE IF EXISTS {table}")
        self._session.execute(
            f"CREATE TABLE {table} (key blob PRIMARY KEY, value blob){with_clause}"
        )
        self.table = table
        # The keyspace is validated as an identifier by the options; the table name is fixed.
        self._select = self._session.prepare(
            f"SELECT value FROM {table} WHERE key = ?"  # noqa: S608 - identifiers are ours
        )
        self._insert = self._session.prepare(
            f"INSERT INTO {table} (key, value) VALUES (?, ?) USING TTL ?"  # noqa: S608 - same
        )

    def fill(self, payload: Payload, space: int, count: int) -> None:
        """Store ``count`` rows, one request at a time (a busy node may refuse bursts)."""
        for i in range(count):
            values = (raw_key(i, space), payload.serialized, self._ttl)
            retrying(functools.partial(self._session.execute, self._insert, values))

    def scenarios(
        self, payload: Payload, space: int, count: int, concurrencies: tuple[int, ...]
    ) -> list[Scenario]:
        session, select, insert, ttl = self._session, self._select, self._insert, self._ttl
        value = payload.serialized
        keys = [(raw_key(i, space),) for i in range(count)]

        def read(i: int) -> None:
            if (
                session.execute(select, keys[i % count], execution_profile=TUPLES_PROFILE).one()
                is None
            ):
                raise ExpectationError("raw read found no row")

        def write(i: int) -> None:
            session.execute(
                insert, (raw_new_key(i, space), value, ttl), execution_profile=TUPLES_PROFILE
            )

        async def aread(i: int) -> None:
            rows: Any = await execute_aio(session, select, keys[i % count], TUPLES_PROFILE)
            if not rows:
                raise ExpectationError("raw async read found no row")

        async def awrite(i: int) -> None:
            await execute_aio(session, insert, (raw_new_key(i, space), value, ttl), TUPLES_PROFILE)

        label = payload.label
        found = [
            Scenario(RAW, READ, label, sync_op=read),
            Scenario(RAW, INSERT, label, sync_op=write),
        ]
        for concurrency in concurrencies:
            found.append(Scenario(RAW, READ, label, concurrency, async_op=aread))
            found.append(Scenario(RAW, INSERT, label, concurrency, async_op=awrite))
        return found

    def drop(self) -> None:
        self._session.execute(f"DROP TABLE IF EXISTS {self.table}")
