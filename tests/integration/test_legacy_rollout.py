"""Rolling out in either order: ``layout="legacy"`` creates the table the old class can share.

When the new version starts first, ``CassandraCache(layout="legacy")`` creates the table in
langchain_community's (cassio) layout, so instances still on the old class keep reading and
writing it; ``layout="auto"`` keeps creating this package's layout. A layout that contradicts the
existing table is a clear error that leaves the table as it was. On the real node, with the real
legacy packages.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from typing import Any

import pytest
from cache_helpers import rows, table_exists
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from cassandra_llm_cache import CassandraCache, ConfigurationError, SetupError, SetupMode
from cassandra_llm_cache._storage.cql import EXACT_COLUMNS, LEGACY_COLUMNS
from cassandra_llm_cache.testing import unique_table_name

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from langchain_community.cache import CassandraCache as LegacyCassandraCache
    from langchain_community.utilities.cassandra import SetupMode as LegacySetupMode

CHAT = [
    ChatGeneration(
        message=AIMessage(
            content="Calling a tool.",
            id="m-1",
            tool_calls=[{"name": "lookup", "args": {"q": "x"}, "id": "call-1"}],
            usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
        ),
        generation_info={"finish_reason": "tool_calls"},
    ),
    Generation(text="second generation", generation_info={"i": 2}),
]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def old_class(session, keyspace, table, **options) -> LegacyCassandraCache:
    # Session and keyspace passed explicitly: no cassio.init, so no cassio globals to reset.
    return LegacyCassandraCache(session=session, keyspace=keyspace, table_name=table, **options)


def legacy_lookup(cache: LegacyCassandraCache, prompt: str, llm_string: str) -> Any:
    # The old class calls langchain_core.load.loads without an allow-list, which warns.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cache.lookup(prompt, llm_string)


def columns(session, keyspace, table) -> list[tuple[Any, ...]]:
    found = session.execute(
        "SELECT column_name, kind, position, type, clustering_order FROM system_schema.columns "
        "WHERE keyspace_name = %s AND table_name = %s",
        (keyspace, table),
    )
    return sorted(tuple(row) for row in found)


def options(session, keyspace, table) -> dict[str, Any]:
    row = session.execute(
        "SELECT * FROM system_schema.tables WHERE keyspace_name = %s AND table_name = %s",
        (keyspace, table),
    ).one()
    return {k: v for k, v in row._asdict().items() if k not in {"keyspace_name", "table_name"}}


def test_the_old_class_shares_a_legacy_table_we_created(
    cassandra_session, cassandra_keyspace, table_name
):
    new = CassandraCache(cassandra_session, cassandra_keyspace, table_name, layout="legacy")
    assert "layout='legacy'" in repr(new)
    new.update("from new", "llm", CHAT)
    # Before the fix, the old class failed here with "Undefined column name body_blob".
    old = old_class(cassandra_session, cassandra_keyspace, table_name)
    assert legacy_lookup(old, "from new", "llm") == CHAT
    old.update("from old", "llm", [Generation(text="old answer")])
    assert new.lookup("from old", "llm") == [Generation(text="old answer")]
    stored = rows(cassandra_session, cassandra_keyspace, table_name)
    assert {row.key_desc for row in stored} == {'["llm_string","prompt"]'}
    assert sorted(json.loads(row.key_vals) for row in stored) == sorted(
        [[md5("llm"), md5("from new")], [md5("llm"), md5("from old")]]
    )
    # Through real models: each class is served what the other stored.
    # (The responses are part of a fake model's llm_string: both get the same.)
    old_llm = FakeListLLM(responses=["cached by the old version"], cache=old)
    assert old_llm.invoke("q") == "cached by the old version"
    new_llm = FakeListLLM(responses=["cached by the old version"], cache=new)
    assert new_llm.invoke("q") == "cached by the old version"
    assert new_llm.i == 0  # served from the old version's entry: the model was not called
    # A later instance on the default layout="auto" serves the same table in place.
    auto = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    assert auto.lookup("from old", "llm") == [Generation(text="old answer")]


def test_the_legacy_table_is_exactly_the_one_cassio_creates(
    cassandra_session, cassandra_keyspace, table_name
):
    by_cassio = unique_table_name("by_cassio")
    try:
        old_class(cassandra_session, cassandra_keyspace, by_cassio)
        CassandraCache(cassandra_session, cassandra_keyspace, table_name, layout="legacy")
        ours = columns(cassandra_session, cassandra_keyspace, table_name)
        assert ours == columns(cassandra_session, cassandra_keyspace, by_cassio)
        assert {name: cql_type for name, _, _, cql_type, _ in ours} == LEGACY_COLUMNS
        assert [(name, kind, position) for name, kind, position, _, _ in ours] == [
            ("body_blob", "regular", -1),
            ("key_desc", "partition_key", 0),
            ("key_vals", "partition_key", 1),
        ]
        ours_options = options(cassandra_session, cassandra_keyspace, table_name)
        cassio_options = options(cassandra_session, cassandra_keyspace, by_cassio)
        del ours_options["id"], cassio_options["id"]
        assert ours_options == cassio_options  # no table options of ours: cassio sets none
    finally:
        cassandra_session.execute(
            f"DROP TABLE IF EXISTS {cassandra_keyspace}.{by_cassio}", timeout=60
        )


@pytest.mark.parametrize("layout", ["auto", "exact"])
def test_auto_and_exact_create_this_packages_layout(
    cassandra_session, cassandra_keyspace, table_name, layout
):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name, layout=layout)
    created = columns(cassandra_session, cassandra_keyspace, table_name)
    assert {name: cql_type for name, _, _, cql_type, _ in created} == EXACT_COLUMNS
    cache.update("p", "l", [Generation(text="x")])
    assert cache.lookup("p", "l") == [Generation(text="x")]


@pytest.mark.parametrize("layout", ["native", "", None, "LEGACY_V1"])
def test_a_bad_layout_is_refused_before_any_ddl(
    cassandra_session, cassandra_keyspace, table_name, layout
):
    with pytest.raises(ConfigurationError, match="layout must be 'auto', 'exact' or 'legacy'"):
        CassandraCache(cassandra_session, cassandra_keyspace, table_name, layout=layout)
    with pytest.raises(ConfigurationError, match="no namespace"):
        CassandraCache(
            cassandra_session, cassandra_keyspace, table_name, layout="legacy", namespace="t"
        )
    assert not table_exists(cassandra_session, cassandra_keyspace, table_name)


def test_legacy_on_an_exact_table_is_refused_and_leaves_it_untouched(
    cassandra_session, cassandra_keyspace, table_name
):
    exact = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    exact.update("p", "l", [Generation(text="kept")])
    schema = columns(cassandra_session, cassandra_keyspace, table_name)
    stored = rows(cassandra_session, cassandra_keyspace, table_name)
    with pytest.raises(ConfigurationError, match="exact layout") as info:
        CassandraCache(cassandra_session, cassandra_keyspace, table_name, layout="legacy")
    assert "layout='auto'" in str(info.value)
    assert "left unchanged" in str(info.value)
    deferred = CassandraCache(
        cassandra_session,
        cassandra_keyspace,
        table_name,
        layout="legacy",
        setup_mode=SetupMode.ASYNC,
        on_error="raise",
    )
    with pytest.raises(SetupError, match="layout='legacy' asks for"):
        deferred.lookup("p", "l")
    failing_open = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, layout="legacy", setup_mode="off"
    )
    assert failing_open.lookup("p", "l") is None  # a miss, not a wrong answer nor a write
    failing_open.update("p", "l", [Generation(text="never written")])
    assert columns(cassandra_session, cassandra_keyspace, table_name) == schema
    assert rows(cassandra_session, cassandra_keyspace, table_name) == stored
    assert exact.lookup("p", "l") == [Generation(text="kept")]


def test_exact_on_a_legacy_table_is_refused_and_leaves_it_untouched(
    cassandra_session, cassandra_keyspace, table_name
):
    old = old_class(cassandra_session, cassandra_keyspace, table_name)
    old.update("p", "l", [Generation(text="kept")])
    schema = columns(cassandra_session, cassandra_keyspace, table_name)
    stored = rows(cassandra_session, cassandra_keyspace, table_name)
    with pytest.raises(ConfigurationError, match="legacy") as info:
        CassandraCache(cassandra_session, cassandra_keyspace, table_name, layout="exact")
    assert "cassandra-llm-cache migrate" in str(info.value)
    assert columns(cassandra_session, cassandra_keyspace, table_name) == schema
    assert rows(cassandra_session, cassandra_keyspace, table_name) == stored
    assert legacy_lookup(old, "p", "l") == [Generation(text="kept")]


def test_off_never_creates_the_legacy_table_but_serves_one_made_from_schema_cql(
    cassandra_session, cassandra_keyspace, table_name
):
    def off() -> CassandraCache:
        return CassandraCache(
            cassandra_session,
            cassandra_keyspace,
            table_name,
            setup_mode=SetupMode.OFF,
            layout="legacy",
            on_error="raise",
        )

    with pytest.raises(SetupError, match="does not exist"):
        off().lookup("p", "l")
    assert not table_exists(cassandra_session, cassandra_keyspace, table_name)
    ddl = CassandraCache.schema_cql(cassandra_keyspace, table_name, layout="legacy")
    cassandra_session.execute(ddl.rstrip().rstrip(";"), timeout=60)
    cache = off()
    cache.update("p", "l", [Generation(text="by hand")])
    old = old_class(
        cassandra_session, cassandra_keyspace, table_name, setup_mode=LegacySetupMode.OFF
    )
    assert legacy_lookup(old, "p", "l") == [Generation(text="by hand")]


@pytest.mark.asyncio
async def test_async_path_on_a_legacy_table_we_created(
    cassandra_session, cassandra_keyspace, table_name
):
    new = CassandraCache(
        cassandra_session,
        cassandra_keyspace,
        table_name,
        layout="legacy",
        setup_mode=SetupMode.ASYNC,
        ttl_seconds=600,
    )
    await new.aupdate("from new", "llm", CHAT)
    assert await new.alookup("from new", "llm") == CHAT
    old = old_class(cassandra_session, cassandra_keyspace, table_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert await old.alookup("from new", "llm") == CHAT
    await old.aupdate("from old", "llm", [Generation(text="old")])
    assert await new.alookup("from old", "llm") == [Generation(text="old")]
    ttl = cassandra_session.execute(
        f"SELECT TTL(body_blob) FROM {cassandra_keyspace}.{table_name} "
        "WHERE key_desc = %s AND key_vals = %s",
        (
            '["llm_string","prompt"]',
            json.dumps([md5("llm"), md5("from new")], separators=(",", ":")),
        ),
    ).one()
    assert 0 < ttl[0] <= 600
    await new.adelete("from new", "llm")
    assert await new.alookup("from new", "llm") is None
    await new.aclear()
    assert rows(cassandra_session, cassandra_keyspace, table_name) == []


def test_delete_and_clear_on_a_legacy_table_we_created(
    cassandra_session, cassandra_keyspace, table_name
):
    new = CassandraCache(cassandra_session, cassandra_keyspace, table_name, layout="legacy")
    old = old_class(cassandra_session, cassandra_keyspace, table_name)
    for i in range(4):
        new.update(f"p{i}", "model-a", [Generation(text="a")])
        old.update(f"p{i}", "model-b", [Generation(text="b")])
    new.delete("p0", "model-b")
    assert legacy_lookup(old, "p0", "model-b") is None
    new.clear(llm_string="model-a")
    assert legacy_lookup(old, "p1", "model-a") is None
    assert new.lookup("p1", "model-b") == [Generation(text="b")]
    assert len(rows(cassandra_session, cassandra_keyspace, table_name)) == 3
    new.clear()
    assert rows(cassandra_session, cassandra_keyspace, table_name) == []
    old.update("after clear", "model-a", [Generation(text="still shared")])  # table kept
    assert new.lookup("after clear", "model-a") == [Generation(text="still shared")]
