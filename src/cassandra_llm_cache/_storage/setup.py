"""Setup modes, and the one setup routine every cache runs: keyspace, table, prepared statements.

Setup is a chain of non-blocking driver calls (``_storage.bridge``), started in the cache's
constructor:

1. the keyspace must exist (read from the driver's schema metadata, confirmed with a
   ``system_schema`` query only when the metadata says it is missing); it is created only when
   the caller passed a replication map;
2. the table is read the same way; the cache's :class:`TableSpec` says which DDL to run for
   what it found (``CREATE TABLE IF NOT EXISTS`` when missing). ``SetupMode.OFF`` runs none. DDL
   completes only after the driver has waited for schema agreement;
3. the spec names the statements to prepare for the table it now sees (which also detects its
   layout), and they are prepared in parallel, each once, without blocking.

``SetupMode.SYNC`` waits for the chain in the constructor; ``ASYNC`` and ``OFF`` do not (and
need no event loop: the chain runs on driver callbacks). Every call waits for it - a sync call on
a ``threading`` primitive, an async call on an awaitable that does not block the loop - and a
failed setup is raised by every call as :class:`SetupError`.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import warnings
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, Protocol

from cassandra.query import SimpleStatement

from cassandra_llm_cache._errors import CassandraLLMCacheError, ConfigurationError, SetupError
from cassandra_llm_cache._storage import bridge as _bridge
from cassandra_llm_cache._storage.cql import TableInfo, create_keyspace_cql, replication_cql
from cassandra_llm_cache._storage.rows import first_value, profile_for_call, row_values

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from cassandra.cluster import ExecutionProfile, ResponseFuture, Session
    from cassandra.query import PreparedStatement

_log = logging.getLogger(__name__)

DDL_TIMEOUT: Final = 60.0
"""Seconds a DDL request may take, schema agreement included."""


class SetupMode(Enum):
    """When a cache creates its table: SYNC (in the constructor), ASYNC (in the background), OFF.

    The values are those of ``langchain_community.utilities.cassandra.SetupMode``, whose members
    are accepted too.
    """

    SYNC = 1
    ASYNC = 2
    OFF = 3

    @classmethod
    def coerce(cls, value: object) -> SetupMode:
        """``value`` as a SetupMode: a member, or a legacy member/value/name (``"async"``)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, Enum):  # e.g. langchain_community's SetupMode
            value = value.name
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        msg = f"setup_mode must be SetupMode.SYNC, ASYNC or OFF, got {value!r}"
        raise ConfigurationError(msg)


def resolve_setup_mode(
    setup_mode: object, skip_provisioning: bool, *, stacklevel: int = 3
) -> SetupMode:
    """The effective mode; ``skip_provisioning=True`` means OFF (deprecated, warns)."""
    mode = SetupMode.coerce(setup_mode)
    if skip_provisioning:
        warnings.warn(
            "skip_provisioning=True is deprecated: use setup_mode=SetupMode.OFF",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        mode = SetupMode.OFF
    return mode


class TableSpec(Protocol):
    """What a cache tells the setup routine about its table."""

    def ddl(self, table: TableInfo | None) -> Sequence[str]:
        """DDL to run, in order, given the table found (``None``: it does not exist)."""
        ...

    def statements(self, table: TableInfo) -> Mapping[str, str]:
        """Statements to prepare, by name. Raise ``ConfigurationError`` if the table is unusable."""
        ...


@dataclass(frozen=True)
class Ready:
    """The outcome of a successful setup."""

    table: TableInfo
    statements: Mapping[str, PreparedStatement]


class Setup:
    """One run of the setup chain for one table; wait for it from sync or async code."""

    def __init__(
        self,
        session: Session,
        keyspace: str,
        table: str,
        spec: TableSpec,
        mode: SetupMode,
        *,
        profile: ExecutionProfile,
        keyspace_replication: Mapping[str, object] | None = None,
    ) -> None:
        if keyspace_replication is not None:
            if mode is SetupMode.OFF:
                msg = "keyspace_replication creates a keyspace, which setup_mode=OFF never does"
                raise ConfigurationError(msg)
            replication_cql(keyspace_replication)  # validated now, not in the background
        self._session = session
        self._keyspace = keyspace
        self._table = table
        self._where = f"{keyspace}.{table}"
        self._spec = spec
        self._mode = mode
        self._profile = profile
        self._replication = keyspace_replication
        self._future = self._start()
        if mode is not SetupMode.SYNC:
            self._future.add_done_callback(self._log_failure)

    @property
    def mode(self) -> SetupMode:
        return self._mode

    def done(self) -> bool:
        return self._future.done()

    def wait_first(self) -> Ready:
        """Wait (blocking); raise the original failure. For the constructor in SYNC mode."""
        return self._future.result()

    def wait(self) -> Ready:
        """Wait (blocking) for setup; a failure is raised as :class:`SetupError`."""
        future = self._future  # one run, even if a retry replaces it meanwhile
        concurrent.futures.wait([future])
        return self._outcome(future)

    async def wait_async(self) -> Ready:
        """Wait without blocking the event loop; a failure is raised as :class:`SetupError`."""
        future = self._future
        await _bridge.settled(future)
        return self._outcome(future)

    def retry(self) -> None:
        """Run the chain again, in the background, if it failed (the fail-open policy of
        ``_storage.store`` calls this after a back-off; callers serialise it)."""
        if self._future.done() and self._future.exception() is not None:
            self._future = self._start()
            self._future.add_done_callback(self._log_failure)

    def _outcome(self, future: concurrent.futures.Future[Ready]) -> Ready:
        # The stored error is never re-raised itself (each raise would grow its traceback):
        # every call raises a fresh SetupError caused by it.
        exc = future.exception()
        if exc is not None:
            msg = f"the cache on {self._where} is unusable: its setup failed: {exc}"
            raise SetupError(msg) from exc
        return future.result()

    def _log_failure(self, future: concurrent.futures.Future[Ready]) -> None:
        exc = future.exception()
        if exc is not None:
            _log.warning("background setup of %s failed: %s", self._where, exc)

    # --- the chain ------------------------------------------------------------------------------

    def _start(self) -> concurrent.futures.Future[Ready]:
        ready: concurrent.futures.Future[Ready]
        try:
            keyspace = self._ensure_keyspace()
            found = _bridge.chain(keyspace, self._read_table_unconfirmed)
            table = _bridge.chain(found, self._ensure_table)
            ready = _bridge.chain(table, self._prepare)
        except Exception as exc:  # noqa: BLE001 - a synchronous failure of the first step
            ready = concurrent.futures.Future()
            ready.set_exception(exc)
        return _bridge.then(_catch(ready), self._translate)

    def _translate(self, outcome: Ready | BaseException) -> Ready:
        if isinstance(outcome, Ready):
            return outcome
        if isinstance(outcome, CassandraLLMCacheError):
            raise outcome
        msg = f"setting up {self._where} failed: {type(outcome).__name__}: {outcome}"
        raise SetupError(msg) from outcome

    def _ensure_keyspace(self) -> concurrent.futures.Future[None]:
        def decide(exists: bool) -> concurrent.futures.Future[None]:
            if exists:
                return _bridge.completed(None)
            if self._replication is None:
                msg = (
                    f"keyspace {self._keyspace!r} does not exist: create it, or pass "
                    "keyspace_replication={'class': 'SimpleStrategy', 'replication_factor': 1} "
                    "(or your cluster's replication) to have it created"
                )
                raise SetupError(msg)
            return self._run_ddl(create_keyspace_cql(self._keyspace, self._replication))

        return _bridge.chain(self._keyspace_exists(), decide)

    def _keyspace_exists(self) -> concurrent.futures.Future[bool]:
        metadata = self._session.cluster.metadata
        if self._session.cluster.schema_metadata_enabled and self._keyspace in metadata.keyspaces:
            return _bridge.completed(True)  # noqa: FBT003
        rows = self._query(
            "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = %s",
            (self._keyspace,),
        )
        return _bridge.then(rows, lambda page: bool(page.rows))

    def _ensure_table(self, found: TableInfo | None) -> concurrent.futures.Future[TableInfo]:
        if self._mode is SetupMode.OFF:
            if found is None:
                msg = (
                    f"table {self._where} does not exist, and setup_mode=OFF never creates it: "
                    "create it (see CassandraCache.schema_cql()) or use SetupMode.SYNC/ASYNC"
                )
                raise SetupError(msg)
            return _bridge.completed(found)
        ddl = list(self._spec.ddl(found))
        if not ddl:
            assert found is not None
            return _bridge.completed(found)
        done = self._run_ddl(ddl[0])
        for cql in ddl[1:]:
            done = _bridge.chain(done, functools.partial(self._run_ddl_after, cql))

        def reread(_: None) -> concurrent.futures.Future[TableInfo]:
            return _bridge.then(self._read_table(confirm=True), self._require_table)

        return _bridge.chain(done, reread)

    def _require_table(self, table: TableInfo | None) -> TableInfo:
        if table is None:
            raise SetupError(f"table {self._where} is still missing after creating it")
        return table

    def _read_table_unconfirmed(self, _: None) -> concurrent.futures.Future[TableInfo | None]:
        return self._read_table(confirm=False)

    def _read_table(self, *, confirm: bool) -> concurrent.futures.Future[TableInfo | None]:
        """The table from driver metadata; from ``system_schema`` when that says "missing".

        With ``confirm=False`` a table missing from metadata is reported missing without a query
        when setup is going to run ``CREATE ... IF NOT EXISTS`` anyway.
        """
        cluster = self._session.cluster
        if cluster.schema_metadata_enabled:
            keyspace = cluster.metadata.keyspaces.get(self._keyspace)
            table = keyspace.tables.get(self._table) if keyspace is not None else None
            if table is not None:
                return _bridge.completed(_info_from_metadata(table))
            if not confirm and self._mode is not SetupMode.OFF:
                return _bridge.completed(None)
        columns = self._query(
            "SELECT column_name, kind, position, type FROM system_schema.columns "
            "WHERE keyspace_name = %s AND table_name = %s",
            (self._keyspace, self._table),
        )
        indexes = self._query(
            "SELECT index_name, options FROM system_schema.indexes "
            "WHERE keyspace_name = %s AND table_name = %s",
            (self._keyspace, self._table),
        )
        options = self._query(
            "SELECT comment FROM system_schema.tables WHERE keyspace_name = %s AND table_name = %s",
            (self._keyspace, self._table),
        )
        pages = _bridge.gather([columns, indexes, options])
        return _bridge.then(pages, _info_from_pages)

    def _prepare(self, table: TableInfo) -> concurrent.futures.Future[Ready]:
        wanted = dict(self._spec.statements(table))
        names = list(wanted)
        futures = [_bridge.prepare(self._session, wanted[name]) for name in names]

        def done(statements: list[PreparedStatement]) -> Ready:
            for statement in statements:
                statement.is_idempotent = True  # every cache statement is safe to retry
            return Ready(table, dict(zip(names, statements, strict=True)))

        return _bridge.then(_bridge.gather(futures), done)

    def _run_ddl_after(self, cql: str, _: None) -> concurrent.futures.Future[None]:
        return self._run_ddl(cql)

    def _run_ddl(self, cql: str) -> concurrent.futures.Future[None]:
        response_future = self._session.execute_async(
            SimpleStatement(cql), timeout=DDL_TIMEOUT, execution_profile=self._profile_for_call()
        )

        def check_agreement(_: object) -> None:
            if not response_future.is_schema_agreed:
                _log.warning("schema agreement not reached after DDL on %s", self._where)

        return _bridge.then(_bridge.to_concurrent(response_future), check_agreement)

    def _query(self, cql: str, values: tuple[str, ...]) -> concurrent.futures.Future[_bridge.Page]:
        response_future: ResponseFuture = self._session.execute_async(
            SimpleStatement(cql), values, execution_profile=self._profile_for_call()
        )
        return _bridge.to_concurrent(response_future)

    def _profile_for_call(self) -> object:
        return profile_for_call(self._session, self._profile)


def _catch(
    future: concurrent.futures.Future[Ready],
) -> concurrent.futures.Future[Ready | BaseException]:
    """A future that always succeeds, with ``future``'s result or its exception."""
    out: concurrent.futures.Future[Ready | BaseException] = concurrent.futures.Future()

    def settle(source: concurrent.futures.Future[Ready]) -> None:
        error = source.exception()
        out.set_result(error if error is not None else source.result())

    future.add_done_callback(settle)
    return out


def _info_from_metadata(table: Any) -> TableInfo:
    return TableInfo(
        columns={name: column.cql_type for name, column in table.columns.items()},
        partition_key=tuple(column.name for column in table.partition_key),
        clustering_key=tuple(column.name for column in table.clustering_key),
        indexes={
            name: str(index.index_options.get("target", ""))
            for name, index in table.indexes.items()
        },
        comment=str(table.options.get("comment") or ""),
    )


def _info_from_pages(pages: list[_bridge.Page]) -> TableInfo | None:
    columns, indexes, options = pages
    comment = str(first_value(options.rows[0]) or "") if options.rows else ""
    return _info_from_rows(columns.rows, indexes.rows, comment=comment)


def _info_from_rows(
    column_rows: list[Any], index_rows: list[Any], *, comment: str = ""
) -> TableInfo | None:
    if not column_rows:
        return None
    columns: dict[str, str] = {}
    keys: dict[str, list[tuple[int, str]]] = {"partition_key": [], "clustering": []}
    for row in column_rows:
        name, kind, position, cql_type = row_values(row)
        columns[name] = cql_type
        if kind in keys:
            keys[kind].append((position, name))
    indexes = {}
    for row in index_rows:
        name, options = row_values(row)
        indexes[name] = str((options or {}).get("target", ""))
    return TableInfo(
        columns=columns,
        partition_key=tuple(name for _, name in sorted(keys["partition_key"])),
        clustering_key=tuple(name for _, name in sorted(keys["clustering"])),
        indexes=indexes,
        comment=comment,
    )
