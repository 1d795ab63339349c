"""``CassandraCache``: the exact-match LLM cache, a drop-in for LangChain's.

A thin shell: keys (``_values.keys``), values (``_values.codec``/``_storage.legacy``), statements
(``_storage.cql``) and setup (``_storage.setup``) are built elsewhere; the sync and async methods
differ only in the driver call, made through ``_storage.store``.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any, Final

from cassandra.cluster import EXEC_PROFILE_DEFAULT
from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from typing_extensions import override

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache._policy import telemetry as _telemetry
from cassandra_llm_cache._policy.arguments import (
    UNSET,
    TtlValue,
    Unset,
    check_layout,
    check_namespace,
    check_ttl,
    clear_target,
    options_suffix,
    valid_text,
)
from cassandra_llm_cache._policy.resilience import (
    DEFAULT_MAX_VALUE_BYTES,
    DEFAULT_READ_CONSISTENCY,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_WRITE_CONSISTENCY,
    CircuitBreaker,
    ErrorPolicy,
    ShouldCache,
    check_generations,
    resilience,
)
from cassandra_llm_cache._policy.stats import CacheStats, StatsRecorder, bound_size, tokens_of
from cassandra_llm_cache._storage.connection import cache_profile, resolve_session
from cassandra_llm_cache._storage.cql import (
    Layout,
    TableInfo,
    create_keyspace_cql,
    detect_exact_layout,
    epoch_statements,
    epochs_table_cql,
    exact_statements,
    exact_table_cql,
    identifier,
    legacy_statements,
    legacy_table_cql,
    select_with_ttl,
    uses_md5_keys,
)
from cassandra_llm_cache._storage.legacy import LegacyLayout
from cassandra_llm_cache._storage.rows import first_value, row_values
from cassandra_llm_cache._storage.setup import Ready, Setup, SetupMode, resolve_setup_mode
from cassandra_llm_cache._storage.store import ClearPlan, Store
from cassandra_llm_cache._values import codec as _codec
from cassandra_llm_cache._values.codec import DecodeError, EncodeError
from cassandra_llm_cache._values.keys import langchain_cache_key, md5_key, sha256_key
from cassandra_llm_cache.near import (
    NearCache,
    adopt_epochs,
    epochs_table_exists,
    near_option,
    near_parts,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from cassandra.cluster import Session
    from cassandra.query import PreparedStatement
    from langchain_core.language_models import BaseLanguageModel, LanguageModelInput
    from langchain_core.outputs import Generation
    from langchain_core.runnables import RunnableBinding

    from cassandra_llm_cache._policy.telemetry import TelemetryOption
    from cassandra_llm_cache.near import Kept

_log = logging.getLogger(__name__)

DEFAULT_TABLE_NAME: Final = "langchain_llm_cache"


class CassandraCache(BaseCache):
    """An exact-match LLM cache in an Apache Cassandra (or Astra DB) table.

    Arguments, names, defaults and positions are those of
    ``langchain_community.cache.CassandraCache``; the options after them are keyword-only.

    Args:
        session: an open ``cassandra.cluster.Session``; default: the one set with
            :func:`cassandra_llm_cache.init` (or ``cassio.init``).
        keyspace: the keyspace of the table; default: from ``init``, then the session's own.
        table_name: the table. If it exists with the legacy layout (written by
            ``langchain_community``'s class) it is served in place, both ways compatible.
        ttl_seconds: entries expire this many seconds after being written (``None``: no TTL
            of their own; the table's ``default_time_to_live`` applies, as in the legacy class).
            ``update``/``aupdate`` take a per-call ``ttl_seconds`` too.
        skip_provisioning: deprecated; ``True`` means ``setup_mode=SetupMode.OFF``.
        setup_mode: ``SYNC`` creates the table (``IF NOT EXISTS``) before returning; ``ASYNC``
            does it in the background, never blocking (calls wait for it); ``OFF`` runs no DDL.
        namespace: entries of different namespaces never see each other (it is part of the
            partition key). ``clear()`` empties only this namespace, unless it is ``""``.
        store_plaintext: also store the prompt and llm_string in plain text, for inspection
            (off: only their SHA-256 digests are stored).
        layout: the table's layout. ``"auto"`` (default): an existing table is served in the
            layout it has, a missing one is created in this package's. ``"legacy"``: a missing
            table is created in langchain_community's (cassio) layout, so that instances of the
            old class can share it during a rollout (no namespaces, no plaintext). ``"exact"``:
            this package's layout only. An existing table of the other layout is an error, and is
            left untouched.
        keyspace_replication: if the keyspace does not exist, create it with this replication
            map, e.g. ``{"class": "NetworkTopologyStrategy", "dc1": 3}``. Without it, a missing
            keyspace is an error.
        execution_profile: the session's execution profile (name or object) the cache copies
            for its requests (consistency, timeouts, load balancing); default: the default one.
        telemetry: OpenTelemetry metrics and spans (``docs/metrics.md``). ``None`` (default):
            through the global providers if ``opentelemetry-api`` is installed; ``False``: off;
            ``True`` or a :class:`Telemetry` (with its own providers): on, and an error if the
            package is missing.
        on_error: ``"miss"`` (default): a failed lookup is a miss and a failed update a no-op,
            logged without content and counted in ``stats()``; ``"raise"``: they raise
            :class:`CacheOperationError` (and a failed ASYNC/OFF setup :class:`SetupError`).
        request_timeout: seconds each lookup, update or delete may take (default 1.0).
        circuit_breaker: ``True`` (default: 5 consecutive failures open it for 5 s), ``False``,
            or a :class:`CircuitBreaker` (tuned, or shared by caches of one cluster).
        read_consistency, write_consistency: consistency levels of lookups and of updates and
            deletes (default ``"LOCAL_ONE"`` and ``"LOCAL_QUORUM"``; see
            ``docs/resilience.md``).
        max_value_bytes: a write larger than this (the encoded, compressed value plus its keys)
            is not stored: a warning and ``stats().oversized`` (default 4 MiB; ``None``: no
            limit).
        should_cache: ``should_cache(generations) -> bool`` decides what is stored (default:
            not empty outputs, nor outputs cut short or filtered); declined outputs are counted
            in ``stats().not_cached``.
        near_cache: keep hits in this process's memory too (:class:`NearCache`; ``True``: its
            defaults, 64 MiB and 1 s). Off by default: with it, a delete or clear made by another
            process takes effect here only after up to ``refresh_seconds``
            (``docs/near-cache.md``).

    Errors: bad arguments raise :class:`ConfigurationError` (a ``ValueError``) and a
    ``return_val`` that is not a list of Generations a :class:`TypeError`. In SYNC mode a failed
    setup raises from the constructor. Under the default ``on_error="miss"`` no database failure
    reaches ``lookup``/``update`` (nor an LLM call): a failed ASYNC/OFF setup makes them misses
    and no-ops and is retried after a back-off. ``delete`` and ``clear`` always raise
    :class:`CacheOperationError` (or :class:`SetupError`). A stored value that cannot be read is
    a miss.
    """

    def __init__(  # noqa: PLR0917 - the legacy class's positional signature, kept for drop-in
        self,
        session: Session | None = None,
        keyspace: str | None = None,
        table_name: str = DEFAULT_TABLE_NAME,
        ttl_seconds: int | None = None,
        skip_provisioning: bool = False,
        setup_mode: SetupMode | Any = SetupMode.SYNC,
        *,
        namespace: str = "",
        store_plaintext: bool = False,
        layout: str = "auto",
        keyspace_replication: Mapping[str, object] | None = None,
        execution_profile: object = EXEC_PROFILE_DEFAULT,
        telemetry: TelemetryOption = None,
        on_error: ErrorPolicy | str = ErrorPolicy.MISS,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        circuit_breaker: CircuitBreaker | bool = True,
        read_consistency: str | int = DEFAULT_READ_CONSISTENCY,
        write_consistency: str | int = DEFAULT_WRITE_CONSISTENCY,
        max_value_bytes: int | None = DEFAULT_MAX_VALUE_BYTES,
        should_cache: ShouldCache | None = None,
        near_cache: NearCache | bool | None = None,
    ) -> None:
        near_options = near_option(near_cache)
        self._policy = resilience(
            on_error,
            request_timeout,
            circuit_breaker,
            read_consistency,
            write_consistency,
            max_value_bytes,
            should_cache,
        )
        self._should_cache = self._policy.should_cache
        self._table_name = identifier(table_name, "table name")
        self._ttl_seconds = ttl_seconds
        self._ttl = check_ttl(ttl_seconds)
        self._namespace = check_namespace(namespace)
        self._store_plaintext = bool(store_plaintext)
        self._layout = check_layout(
            layout, namespace=self._namespace, store_plaintext=self._store_plaintext
        )
        self._mode = resolve_setup_mode(setup_mode, skip_provisioning)
        session, self._keyspace = resolve_session(session, keyspace)
        self._where = f"{self._keyspace}.{self._table_name}"
        self._stats = StatsRecorder(
            _telemetry.create(self._keyspace, self._table_name, option=telemetry)
        )
        self._reported: set[str] = set()
        profile = cache_profile(session, execution_profile)
        self._store = Store(
            session,
            profile,
            where=self._where,
            policy=self._policy,
            on_error=self._stats.error,
            on_skipped=self._stats.skipped,
            on_oversized=self._stats.oversized,
            observe=self._stats.observe,
        )
        self._near_options, self._near, self._bumps = near_parts(
            near_options,
            self._store,
            keyspace=self._keyspace,
            table=self._table_name,
            namespace=self._namespace,
        )
        self._active: _ExactLayout | LegacyLayout | None = None
        self._setup = Setup(
            session,
            self._keyspace,
            self._table_name,
            _ExactTableSpec(
                self._keyspace,
                self._table_name,
                self._namespace,
                self._store_plaintext,
                required=None if self._layout == "auto" else Layout(self._layout),
                epochs_missing=(
                    functools.partial(_epochs_missing, session, self._keyspace)
                    if near_options is not None
                    else None
                ),
            ),
            self._mode,
            profile=profile,
            keyspace_replication=keyspace_replication,
        )
        if self._mode is SetupMode.SYNC:
            self._activate(self._setup.wait_first())
            if self._near is not None:
                self._near.wait_ready(self._policy.request_timeout)

    # --- BaseCache --------------------------------------------------------------------------------

    @override
    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """The generations cached for ``prompt`` and ``llm_string``, or ``None``."""
        layout = self._active or self._ready()
        if layout is None:
            self._stats.miss()
            return None
        statement, values = layout.select(prompt, llm_string)
        near = self._near
        if near is None:
            return self._found(
                layout, self._store.execute(statement, values, operation="lookup").rows
            )
        kept = near.get(values)
        if kept is not None:
            return self._near_found(values, kept)
        ticket = near.ticket()
        rows = self._store.execute(statement, values, operation="lookup").rows
        found = self._found(layout, rows)
        if found is not None:
            near.keep(values, rows[0], found, ticket, rebuild=layout.near_rebuild)
        return found

    @override
    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Async :meth:`lookup`; never blocks the event loop."""
        layout = self._active or await self._aready()
        if layout is None:
            self._stats.miss()
            return None
        statement, values = layout.select(prompt, llm_string)
        near = self._near
        if near is None:
            page = await self._store.aexecute(statement, values, operation="lookup")
            return self._found(layout, page.rows)
        kept = near.get(values)
        if kept is not None:
            return self._near_found(values, kept)
        ticket = near.ticket()
        rows = (await self._store.aexecute(statement, values, operation="lookup")).rows
        found = self._found(layout, rows)
        if found is not None:
            near.keep(values, rows[0], found, ticket, rebuild=layout.near_rebuild)
        return found

    @override
    def update(
        self,
        prompt: str,
        llm_string: str,
        return_val: RETURN_VAL_TYPE,
        *,
        ttl_seconds: int | Unset | None = UNSET,
    ) -> None:
        """Cache ``return_val``; ``ttl_seconds`` overrides the cache's TTL for this entry.

        A value that cannot be stored faithfully (e.g. a non-JSON object in ``generation_info``)
        is not cached: it is logged (without content) and counted as an error. Outputs
        ``should_cache`` declines and values over ``max_value_bytes`` are not stored either.
        """
        check_generations(return_val)
        if not self._should_cache(return_val):
            self._stats.not_cached()
            return
        layout = self._active or self._ready()
        if layout is None:
            return
        write = self._write(layout, prompt, llm_string, return_val, ttl_seconds)
        if write is not None and not self._store.execute(*write, operation="update").failed:
            self._stats.write(nbytes=bound_size(write[1]))
        if self._near is not None:
            self._near.discard(layout.select(prompt, llm_string)[1])

    @override
    async def aupdate(
        self,
        prompt: str,
        llm_string: str,
        return_val: RETURN_VAL_TYPE,
        *,
        ttl_seconds: int | Unset | None = UNSET,
    ) -> None:
        """Async :meth:`update`."""
        check_generations(return_val)
        if not self._should_cache(return_val):
            self._stats.not_cached()
            return
        layout = self._active or await self._aready()
        if layout is None:
            return
        write = self._write(layout, prompt, llm_string, return_val, ttl_seconds)
        if write is not None:
            page = await self._store.aexecute(*write, operation="update")
            if not page.failed:
                self._stats.write(nbytes=bound_size(write[1]))
        if self._near is not None:
            self._near.discard(layout.select(prompt, llm_string)[1])

    @override
    def clear(self, **kwargs: Any) -> None:
        """Empty the cache; ``clear(llm_string=...)`` removes only that model's entries.

        With no arguments: ``TRUNCATE`` (every model, as the legacy class) when the namespace is
        ``""``, else only this namespace's entries. Per-model and per-namespace clears scan the
        table's keys on the server and delete what matches: no TRUNCATE, no index.
        """
        layout = self._active or self._activate(self._setup.wait())
        plan = layout.clear_plan(clear_target(kwargs))
        self._store.clear(plan)
        if self._near is not None:
            self._near.clear()
        self._bumps.bump(whole_table=plan.truncate is not None)

    @override
    async def aclear(self, **kwargs: Any) -> None:
        """Async :meth:`clear`."""
        layout = self._active or self._activate(await self._setup.wait_async())
        plan = layout.clear_plan(clear_target(kwargs))
        await self._store.aclear(plan)
        if self._near is not None:
            self._near.clear()
        await self._bumps.abump(whole_table=plan.truncate is not None)

    # --- deletes ----------------------------------------------------------------------------------

    def delete(self, prompt: str, llm_string: str) -> None:
        """Remove the entry for ``prompt`` and ``llm_string``, if there is one."""
        layout = self._active or self._activate(self._setup.wait())
        statement, key = layout.delete(prompt, llm_string)
        self._store.execute(statement, key, operation="delete")
        if self._near is not None:
            self._near.discard(key)
        self._bumps.bump(whole_table=False)

    async def adelete(self, prompt: str, llm_string: str) -> None:
        """Async :meth:`delete`."""
        layout = self._active or self._activate(await self._setup.wait_async())
        statement, key = layout.delete(prompt, llm_string)
        await self._store.aexecute(statement, key, operation="delete")
        if self._near is not None:
            self._near.discard(key)
        await self._bumps.abump(whole_table=False)

    def delete_through_llm(
        self,
        prompt: LanguageModelInput,
        llm: BaseLanguageModel[Any] | RunnableBinding[Any, Any],
        stop: list[str] | None = None,
        **invoke_kwargs: Any,
    ) -> None:
        """Remove the entry ``llm.invoke(prompt, stop=stop, **invoke_kwargs)`` would hit.

        ``prompt`` is what was passed to ``invoke``: for a chat model a string (sent as one
        human message), a list of messages (or message-like tuples/dicts) or a PromptValue; for
        an LLM, a string. ``stop`` and ``invoke_kwargs`` must match the call's (chat models key
        their entries on the call's arguments too). Works for LLMs and chat models alike.
        """
        prompt_string, llm_string = langchain_cache_key(prompt, llm, stop, **invoke_kwargs)
        self.delete(prompt_string, llm_string)

    async def adelete_through_llm(
        self,
        prompt: LanguageModelInput,
        llm: BaseLanguageModel[Any] | RunnableBinding[Any, Any],
        stop: list[str] | None = None,
        **invoke_kwargs: Any,
    ) -> None:
        """Async :meth:`delete_through_llm`."""
        prompt_string, llm_string = langchain_cache_key(prompt, llm, stop, **invoke_kwargs)
        await self.adelete(prompt_string, llm_string)

    # --- introspection --------------------------------------------------------------------------

    def stats(self) -> CacheStats:
        """What this object did since it was created: hits, misses, writes, errors, timeouts,
        bytes, tokens saved and per-operation latencies (see ``docs/metrics.md``)."""
        breaker = self._policy.breaker
        return self._stats.snapshot(breaker=breaker.state.value if breaker is not None else None)

    @staticmethod
    def schema_cql(
        keyspace: str,
        table_name: str = DEFAULT_TABLE_NAME,
        *,
        keyspace_replication: Mapping[str, object] | None = None,
        layout: str = "auto",
    ) -> str:
        """The DDL a SYNC/ASYNC cache would run, for review or to run by hand (then use OFF).

        ``layout="legacy"`` gives the table langchain_community's class creates.
        """
        keyspace = identifier(keyspace, "keyspace name")
        table = identifier(table_name, "table name")
        if check_layout(layout) == "legacy":
            statements = [legacy_table_cql(keyspace, table)]
        else:
            statements = [exact_table_cql(keyspace, table)]
        if keyspace_replication is not None:
            statements.insert(0, create_keyspace_cql(keyspace, keyspace_replication))
        return ";\n\n".join(statements) + ";\n"

    def __repr__(self) -> str:
        layout = f", layout={self._layout!r}" if self._layout != "auto" else ""
        return (
            f"CassandraCache(keyspace={self._keyspace!r}, table_name={self._table_name!r}, "
            f"namespace={self._namespace!r}, ttl_seconds={self._ttl_seconds!r}, "
            f"setup_mode=SetupMode.{self._mode.name}{layout}"
            f"{options_suffix(self._policy.describe())}{_near_suffix(self._near_options)})"
        )

    # --- shared by the sync and async paths -----------------------------------------------------

    def _ready(self) -> _ExactLayout | LegacyLayout | None:
        """The layout once setup is done; ``None`` if it failed and the policy is fail-open."""
        ready = self._store.ready(self._setup)
        return self._activate(ready) if ready is not None else None

    async def _aready(self) -> _ExactLayout | LegacyLayout | None:
        ready = await self._store.aready(self._setup)
        return self._activate(ready) if ready is not None else None

    def _activate(self, ready: Ready) -> _ExactLayout | LegacyLayout:
        active = self._active
        if active is None:
            self._store.adopt(ready.statements)
            adopt_epochs(
                self._bumps,
                self._near,
                ready.statements,
                consistency=self._policy.write_consistency,
            )
            layout = detect_exact_layout(ready.table, where=self._where)
            if layout is Layout.LEGACY:
                active = LegacyLayout(ready.statements)
            else:
                active = _ExactLayout(
                    ready.statements,
                    self._namespace,
                    self._store_plaintext,
                    md5_keys=uses_md5_keys(ready.table),
                )
            self._active = active
        return active

    def _found(
        self, layout: _ExactLayout | LegacyLayout, rows: Sequence[Any]
    ) -> list[Generation] | None:
        if not rows:
            self._stats.miss()
            return None
        try:
            generations = layout.decode(rows[0])
        except DecodeError as exc:
            self._stats.miss(error=True)
            self._report(f"unreadable cache value in {self._where}, counted as a miss: {exc}")
            return None
        self._stats.hit(nbytes=bound_size(row_values(rows[0])), tokens=tokens_of(generations))
        return generations

    def _near_found(self, key: tuple[object, ...], kept: Kept) -> list[Generation] | None:
        # Rebuilt on every hit: each caller gets its own objects, and memory holds only bytes.
        try:
            generations = kept.rebuild(kept.data)
        except DecodeError:  # pragma: no cover - the same bytes decoded when they were kept
            assert self._near is not None
            self._near.discard(key)
            self._stats.miss(error=True)
            return None
        self._stats.hit(nbytes=kept.nbytes, tokens=kept.tokens, near=True)
        return generations

    def _write(
        self,
        layout: _ExactLayout | LegacyLayout,
        prompt: str,
        llm_string: str,
        return_val: RETURN_VAL_TYPE,
        ttl_seconds: int | Unset | None,
    ) -> tuple[PreparedStatement, tuple[object, ...]] | None:
        ttl = self._ttl if isinstance(ttl_seconds, Unset) else check_ttl(ttl_seconds)
        try:
            return layout.insert(prompt, llm_string, return_val, ttl)
        except EncodeError as exc:
            self._stats.error()
            self._report(f"a value was not cached in {self._where}: {exc}")
            return None

    def _report(self, message: str) -> None:
        # Each distinct problem is logged once at WARNING, then at DEBUG (messages carry no
        # content: no prompt, no response).
        if message in self._reported:
            _log.debug(message)
            return
        self._reported.add(message)
        _log.warning("%s (further occurrences are logged at DEBUG)", message)


def _epochs_missing(session: Session, keyspace: str) -> bool:
    return not epochs_table_exists(session, keyspace)


def _near_suffix(options: NearCache | None) -> str:
    return f", near_cache={options!r}" if options is not None else ""


class _ExactTableSpec:
    """What the setup routine needs to know about an exact cache's table.

    ``required`` is the layout the caller insists on (``None``: whichever the table has). It is
    checked against an existing table before any statement is prepared and no DDL ever runs on
    an existing table, so a mismatch fails setup and leaves the table as it was.
    """

    def __init__(
        self,
        keyspace: str,
        table: str,
        namespace: str,
        store_plaintext: bool,
        *,
        required: Layout | None = None,
        epochs_missing: Callable[[], bool] | None = None,
    ) -> None:
        self._keyspace = keyspace
        self._table = table
        self._where = f"{keyspace}.{table}"
        self._namespace = namespace
        self._store_plaintext = store_plaintext
        self._required = required
        # Set when the cache has a near cache: it needs the epochs table and their statements.
        self._epochs_missing = epochs_missing

    def ddl(self, table: TableInfo | None) -> Sequence[str]:
        ddl = []
        if table is None:
            if self._required is Layout.LEGACY:
                ddl.append(legacy_table_cql(self._keyspace, self._table))
            else:
                ddl.append(exact_table_cql(self._keyspace, self._table))
        if self._epochs_missing is not None and self._epochs_missing():
            ddl.append(epochs_table_cql(self._keyspace))
        return ddl

    def statements(self, table: TableInfo) -> Mapping[str, str]:
        statements = dict(self._table_statements(table))
        if self._epochs_missing is not None:
            statements["select"] = select_with_ttl(statements["select"])
            statements.update(epoch_statements(self._keyspace))
        return statements

    def _table_statements(self, table: TableInfo) -> Mapping[str, str]:
        found = detect_exact_layout(table, where=self._where)
        if self._required is not None and found is not self._required:
            raise ConfigurationError(self._mismatch(found))
        if found is Layout.LEGACY:
            if self._namespace:
                msg = (
                    f"table {self._where} has the legacy (langchain_community) layout, which has "
                    "no namespaces: use namespace='' or another table"
                )
                raise ConfigurationError(msg)
            if self._store_plaintext:
                msg = f"table {self._where} has the legacy layout: store_plaintext is unavailable"
                raise ConfigurationError(msg)
            return legacy_statements(self._keyspace, self._table)
        statements = exact_statements(self._keyspace, self._table)
        if not self._store_plaintext:
            del statements["insert_plaintext"]
        elif any(table.columns.get(name) != "text" for name in ("prompt", "llm_string")):
            msg = f"table {self._where} has no plaintext columns: store_plaintext is unavailable"
            raise ConfigurationError(msg)
        return statements

    def _mismatch(self, found: Layout) -> str:
        if found is Layout.EXACT:
            return (
                f"table {self._where} has this package's exact layout, which "
                "langchain_community's CassandraCache cannot use, not the legacy one "
                "layout='legacy' asks for; it was left unchanged: use layout='auto' to serve it, "
                "or another table_name to create a legacy-layout table"
            )
        return (
            f"table {self._where} has the legacy (langchain_community) layout, not the exact one "
            "layout='exact' asks for; it was left unchanged: use layout='auto' to serve it in "
            "place, or copy it into a new table with `cassandra-llm-cache migrate` and use that"
        )


class _ExactLayout:
    """Keys, values and statements for this package's table layout (bind values only; no I/O)."""

    __slots__ = (
        "_delete",
        "_digest",
        "_insert",
        "_llm_memo",
        "_namespace",
        "_plaintext",
        "_scan_model",
        "_scan_namespace",
        "_select",
        "_truncate",
    )

    near_rebuild: Final = None
    """The near cache keeps this format's values as their payload (see ``near.Kept``)."""

    def __init__(
        self,
        statements: Mapping[str, PreparedStatement],
        namespace: str,
        plaintext: bool,
        *,
        md5_keys: bool = False,
    ) -> None:
        # Tables filled by migrating legacy entries keep their md5 keys (see _cql.MD5_KEYS_MARK).
        self._digest = md5_key if md5_keys else sha256_key
        self._namespace = namespace
        self._plaintext = plaintext
        self._select = statements["select"]
        self._insert = statements["insert_plaintext" if plaintext else "insert"]
        self._delete = statements["delete"]
        self._truncate = statements["truncate"]
        self._scan_namespace = statements["scan_namespace"]
        self._scan_model = statements["scan_model"]
        # The last model string and its digest: an application sends the same llm_string again
        # and again, so most calls hash only the prompt. One tuple, read and replaced whole,
        # so threads never see a string paired with another string's digest.
        self._llm_memo: tuple[str, bytes] = ("", self._digest(""))

    def _key(self, prompt: str, llm_string: str) -> tuple[str, bytes, bytes]:
        memo = self._llm_memo
        if llm_string == memo[0]:
            llm_key = memo[1]
        else:
            llm_key = self._digest(llm_string)
            self._llm_memo = (llm_string, llm_key)
        return self._namespace, llm_key, self._digest(prompt)

    def select(self, prompt: str, llm_string: str) -> tuple[PreparedStatement, tuple[object, ...]]:
        return self._select, self._key(prompt, llm_string)

    def insert(
        self, prompt: str, llm_string: str, generations: Sequence[Generation], ttl: TtlValue
    ) -> tuple[PreparedStatement, tuple[object, ...]]:
        body = _codec.encode(generations)
        key = self._key(prompt, llm_string)
        if self._plaintext:
            return self._insert, (*key, body, valid_text(llm_string), valid_text(prompt), ttl)
        return self._insert, (*key, body, ttl)

    def delete(self, prompt: str, llm_string: str) -> tuple[PreparedStatement, tuple[object, ...]]:
        return self._delete, self._key(prompt, llm_string)

    def decode(self, row: Any) -> list[Generation]:
        return _codec.decode(first_value(row))

    def clear_plan(self, llm_string: str | None) -> ClearPlan:
        namespace = self._namespace
        if llm_string is None:
            if not namespace:
                return ClearPlan(truncate=self._truncate)
            return ClearPlan(
                scan=self._scan_namespace,
                scan_values=(namespace,),
                delete=self._delete,
                to_delete=lambda rows: [(namespace, *row_values(row)) for row in rows],
            )
        llm_key = self._digest(llm_string)
        return ClearPlan(
            scan=self._scan_model,
            scan_values=(namespace, llm_key),
            delete=self._delete,
            to_delete=lambda rows: [(namespace, llm_key, first_value(row)) for row in rows],
        )
