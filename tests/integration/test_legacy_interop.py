"""A table written by langchain_community's CassandraCache (via cassio) is served in place.

Both directions, on the real node, with the real legacy packages: what the old class wrote is a
hit for ours, and what ours writes is a hit for the old class; nothing is rewritten.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from typing import TYPE_CHECKING, Any

import pytest
from cache_helpers import rows
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from cassandra_llm_cache import CassandraCache, ConfigurationError, SetupError, SetupMode

if TYPE_CHECKING:
    from collections.abc import Iterator

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import cassio
    import cassio.config
    from langchain_community.cache import CassandraCache as LegacyCassandraCache


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def chat_generations() -> list[Generation]:
    message = AIMessage(
        content="Calling a tool.",
        id="m-1",
        tool_calls=[{"name": "lookup", "args": {"q": "x"}, "id": "call-1"}],
        usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
        response_metadata={"finish_reason": "tool_calls"},
    )
    return [
        ChatGeneration(message=message, generation_info={"finish_reason": "tool_calls"}),
        Generation(text="second generation", generation_info={"i": 2}),
    ]


@pytest.fixture
def cassio_session(cassandra_session, cassandra_keyspace) -> Iterator[Any]:
    saved = (cassio.config.default_session, cassio.config.default_keyspace)
    cassio.init(session=cassandra_session, keyspace=cassandra_keyspace)
    try:
        yield cassandra_session
    finally:
        cassio.config.default_session, cassio.config.default_keyspace = saved


@pytest.fixture
def legacy(cassio_session, table_name) -> LegacyCassandraCache:
    return LegacyCassandraCache(table_name=table_name)


def legacy_lookup(cache: LegacyCassandraCache, prompt: str, llm_string: str) -> Any:
    # The old class calls `loads` without an allow-list, which warns on every hit.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cache.lookup(prompt, llm_string)


def test_entries_written_by_the_legacy_class_are_hits(
    legacy, cassandra_session, cassandra_keyspace, table_name
):
    legacy.update("prompt", "llm", chat_generations())
    ours = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    assert ours.lookup("prompt", "llm") == chat_generations()
    assert ours.lookup("other", "llm") is None
    assert ours.stats().hits == 1


def test_entries_we_write_are_hits_for_the_legacy_class(
    legacy, cassandra_session, cassandra_keyspace, table_name
):
    ours = CassandraCache(cassandra_session, cassandra_keyspace, table_name, ttl_seconds=600)
    ours.update("prompt", "llm", chat_generations())
    assert legacy_lookup(legacy, "prompt", "llm") == chat_generations()
    (row,) = rows(cassandra_session, cassandra_keyspace, table_name)
    assert row.key_desc == '["llm_string","prompt"]'
    assert json.loads(row.key_vals) == [md5("llm"), md5("prompt")]
    ttl = cassandra_session.execute(f"SELECT TTL(body_blob) FROM {cassandra_keyspace}.{table_name}")
    assert 0 < ttl.one()[0] <= 600


@pytest.mark.asyncio
async def test_async_both_ways(legacy, cassandra_session, cassandra_keyspace, table_name):
    await legacy.aupdate("from legacy", "llm", [Generation(text="old")])
    ours = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, setup_mode=SetupMode.ASYNC
    )
    assert await ours.alookup("from legacy", "llm") == [Generation(text="old")]
    await ours.aupdate("from ours", "llm", [Generation(text="new")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert await legacy.alookup("from ours", "llm") == [Generation(text="new")]


def test_real_models_share_entries_across_the_two_classes(
    legacy, cassandra_session, cassandra_keyspace, table_name
):
    old_llm = FakeListLLM(responses=["legacy answer"], cache=legacy)
    assert old_llm.invoke("q") == "legacy answer"
    ours = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    new_llm = FakeListLLM(responses=["legacy answer"], cache=ours)
    assert new_llm.invoke("q") == "legacy answer"
    assert new_llm.i == 0  # served from the entry the legacy class wrote
    chat = FakeMessagesListChatModel(responses=[AIMessage("chat answer")], cache=ours)
    first = chat.invoke("hello")
    old_chat = FakeMessagesListChatModel(responses=[AIMessage("chat answer")], cache=legacy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        second = old_chat.invoke("hello")
    assert old_chat.i == 0
    assert second.content == first.content
    assert second.id == first.id


def test_delete_and_per_model_clear_on_a_legacy_table(
    legacy, cassandra_session, cassandra_keyspace, table_name
):
    for i in range(5):
        legacy.update(f"p{i}", "model-a", [Generation(text="a")])
        legacy.update(f"p{i}", "model-b", [Generation(text="b")])
    ours = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    ours.delete("p0", "model-a")
    assert legacy_lookup(legacy, "p0", "model-a") is None
    ours.clear(llm_string="model-b")
    assert legacy_lookup(legacy, "p3", "model-b") is None
    assert legacy_lookup(legacy, "p3", "model-a") == [Generation(text="a")]
    legacy.delete("p3", "model-a")
    assert ours.lookup("p3", "model-a") is None
    ours.clear()
    assert rows(cassandra_session, cassandra_keyspace, table_name) == []


def test_cassio_init_is_a_fallback_for_session_and_keyspace(legacy, table_name):
    legacy.update("p", "l", [Generation(text="via cassio.init")])
    ours = CassandraCache(table_name=table_name)
    assert ours.lookup("p", "l") == [Generation(text="via cassio.init")]


def test_a_namespace_on_a_legacy_table_is_refused(
    legacy, cassandra_session, cassandra_keyspace, table_name
):
    with pytest.raises(ConfigurationError, match="legacy"):
        CassandraCache(cassandra_session, cassandra_keyspace, table_name, namespace="tenant")
    with pytest.raises(ConfigurationError, match="legacy"):
        CassandraCache(cassandra_session, cassandra_keyspace, table_name, store_plaintext=True)
    deferred = CassandraCache(
        cassandra_session,
        cassandra_keyspace,
        table_name,
        namespace="t",
        setup_mode=SetupMode.OFF,
        on_error="raise",
    )
    with pytest.raises(SetupError, match="no namespaces"):
        deferred.lookup("p", "l")


def test_unreadable_legacy_values_are_misses(
    legacy, cassandra_session, cassandra_keyspace, table_name
):
    legacy.update("p", "l", [Generation(text="x")])
    forged = json.dumps(
        [json.dumps({"lc": 1, "type": "constructor", "id": ["os", "system"], "kwargs": {}})]
    )
    key_vals = json.dumps([md5("l"), md5("p")], separators=(",", ":"))
    cassandra_session.execute(
        f"UPDATE {cassandra_keyspace}.{table_name} SET body_blob = %s "
        "WHERE key_desc = %s AND key_vals = %s",
        (forged, '["llm_string","prompt"]', key_vals),
    )
    ours = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    assert ours.lookup("p", "l") is None
    assert ours.stats().errors == 1
