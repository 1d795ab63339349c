"""Clearing (all, per model, per namespace) and deleting (by key, through a model)."""

from __future__ import annotations

import pytest
from cache_helpers import rows
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import Generation

from cassandra_llm_cache import CassandraCache

GEN = [Generation(text="g")]


@pytest.fixture
def cache(cassandra_session, cassandra_keyspace, table_name):
    return CassandraCache(cassandra_session, cassandra_keyspace, table_name)


def fill(cache: CassandraCache, models: list[str], prompts: int) -> None:
    for model in models:
        for i in range(prompts):
            cache.update(f"prompt {i}", model, GEN)


def test_clear_empties_every_model(cache):
    fill(cache, ["model-a", "model-b"], 3)
    cache.clear()
    assert all(
        cache.lookup(f"prompt {i}", m) is None for i in range(3) for m in ("model-a", "model-b")
    )


def test_clear_one_model_keeps_the_others(cache, cassandra_session, cassandra_keyspace, table_name):
    fill(cache, ["model-a", "model-b"], 120)
    cache.clear(llm_string="model-a")
    assert cache.lookup("prompt 5", "model-a") is None
    assert cache.lookup("prompt 5", "model-b") == GEN
    assert len(rows(cassandra_session, cassandra_keyspace, table_name)) == 120


@pytest.mark.asyncio
async def test_aclear_one_model_pages_through_the_table(
    cassandra_session, cassandra_keyspace, table_name
):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    for i in range(30):
        await cache.aupdate(f"p{i}", "model-a", GEN)
        await cache.aupdate(f"p{i}", "model-b", GEN)
    # A small page size makes the scan span several pages.
    cassandra_session.default_fetch_size, saved = 7, cassandra_session.default_fetch_size
    try:
        await cache.aclear(llm_string="model-b")
    finally:
        cassandra_session.default_fetch_size = saved
    assert await cache.alookup("p29", "model-b") is None
    assert await cache.alookup("p29", "model-a") == GEN
    assert len(rows(cassandra_session, cassandra_keyspace, table_name)) == 30
    await cache.aclear()
    assert rows(cassandra_session, cassandra_keyspace, table_name) == []


def test_namespaces_are_isolated_and_cleared_separately(
    cassandra_session, cassandra_keyspace, table_name
):
    tenant_a = CassandraCache(cassandra_session, cassandra_keyspace, table_name, namespace="a")
    tenant_b = CassandraCache(cassandra_session, cassandra_keyspace, table_name, namespace="b")
    shared = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    tenant_a.update("p", "l", [Generation(text="for a")])
    assert tenant_b.lookup("p", "l") is None
    assert shared.lookup("p", "l") is None
    tenant_b.update("p", "l", [Generation(text="for b")])
    shared.update("p", "l", [Generation(text="shared")])
    tenant_a.clear()  # only namespace "a"
    assert tenant_a.lookup("p", "l") is None
    assert tenant_b.lookup("p", "l") == [Generation(text="for b")]
    tenant_b.clear(llm_string="l")
    assert tenant_b.lookup("p", "l") is None
    assert shared.lookup("p", "l") == [Generation(text="shared")]
    tenant_a.update("p", "l", GEN)
    shared.clear()  # namespace "": TRUNCATE, every namespace
    assert tenant_a.lookup("p", "l") is None


def test_clear_refuses_unknown_arguments(cache):
    cache.update("p", "l", GEN)
    with pytest.raises(TypeError, match="llm_strng"):
        cache.clear(llm_strng="l")
    assert cache.lookup("p", "l") == GEN


def test_delete_and_adelete(cache):
    cache.update("p1", "l", GEN)
    cache.update("p2", "l", GEN)
    cache.delete("p1", "l")
    cache.delete("never stored", "l")
    assert cache.lookup("p1", "l") is None
    assert cache.lookup("p2", "l") == GEN


@pytest.mark.asyncio
async def test_adelete(cache):
    await cache.aupdate("p1", "l", GEN)
    await cache.adelete("p1", "l")
    assert await cache.alookup("p1", "l") is None


def test_delete_through_llm(cache):
    llm = FakeListLLM(responses=["one", "two", "three"], cache=cache)
    assert llm.invoke("q", stop=["x"]) == "one"
    assert llm.invoke("other") == "two"
    cache.delete_through_llm("q", llm, stop=["x"])
    assert llm.invoke("q", stop=["x"]) == "three"  # recomputed: the entry was gone
    assert llm.invoke("other") == "two"  # untouched


def test_delete_through_chat_model(cache):
    model = FakeMessagesListChatModel(
        responses=[AIMessage("one"), AIMessage("two"), AIMessage("three")], cache=cache
    )
    conversation = [SystemMessage("be brief"), HumanMessage("hello", id="h1")]
    assert model.invoke(conversation).content == "one"
    assert model.invoke("plain string").content == "two"
    assert model.invoke(conversation).content == "one"  # a hit
    cache.delete_through_llm(conversation, model)
    assert model.invoke(conversation).content == "three"
    cache.delete_through_llm("plain string", model)
    assert model.invoke("plain string").content == "one"  # responses cycle; a miss again


@pytest.mark.asyncio
async def test_adelete_through_chat_model_with_bound_arguments(cache):
    model = FakeMessagesListChatModel(responses=[AIMessage("one"), AIMessage("two")], cache=cache)
    bound = model.bind(stop=["END"])
    assert (await bound.ainvoke("q")).content == "one"
    assert (await bound.ainvoke("q")).content == "one"
    await cache.adelete_through_llm("q", bound)
    assert (await bound.ainvoke("q")).content == "two"
