"""Cluster single-flight: three OS processes stream the same question at once -> one model call.

Each process builds its own cache and ``CachedChatModel(coalesce="cluster")`` on the dev node,
reports ready, waits for a go-file, then streams. The model appends a line to a shared file per
call, so the count is the processes' own record. A follower's extra latency is the time between
the leader's model finishing and the follower's stream ending (lease polling plus one lookup).
Also in one process: a leader whose model fails lets a waiting caller of another cache object
take over at once (the lease is deleted, not left to expire).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field

from cassandra_llm_cache import CassandraCache
from cassandra_llm_cache.streaming import CachedChatModel
from cassandra_llm_cache.streaming._lease import LeaseTable

_log = logging.getLogger(__name__)

WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from cassandra.cluster import Cluster
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk
    from cassandra_llm_cache import CassandraCache
    from cassandra_llm_cache.streaming import CachedChatModel

    contact, port, keyspace, table, workdir = sys.argv[1:6]
    workdir = Path(workdir)
    finished = {}

    class SlowChat(BaseChatModel):
        @property
        def _llm_type(self):
            return "slow-chat"

        def _generate(self, *args, **kwargs):
            raise NotImplementedError

        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            with open(workdir / "calls", "a") as calls:
                calls.write(f"{os.getpid()}\\n")
            for word in "one two three four five six seven eight".split():
                time.sleep(0.05)
                yield ChatGenerationChunk(message=AIMessageChunk(content=word + " "))
            finished["model"] = time.time()

    cluster = Cluster([contact], port=int(port), protocol_version=5)
    session = cluster.connect()
    cache = CassandraCache(session, keyspace, table)
    wrapper = CachedChatModel(SlowChat(), cache, coalesce="cluster", lease_seconds=30)
    (workdir / f"ready-{os.getpid()}").touch()
    while not (workdir / "go").exists():
        time.sleep(0.002)
    began = time.time()
    text = "".join(chunk.content for chunk in wrapper.stream("the same question"))
    ended = time.time()
    result = {"began": began, "ended": ended, "text": text, "model": finished.get("model")}
    (workdir / f"result-{os.getpid()}.json").write_text(json.dumps(result))
    cluster.shutdown()
    """
)


@pytest.mark.slow
def test_three_processes_asking_at_once_make_one_model_call(
    cassandra_contact, cassandra_session, cassandra_keyspace, table_name, tmp_path
):
    CassandraCache(cassandra_session, cassandra_keyspace, table_name)  # the table, made once
    cassandra_session.execute(LeaseTable(cassandra_session, cassandra_keyspace).ddl, timeout=60)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    contact = cassandra_contact.contact_points[0]
    args = [contact, str(cassandra_contact.port), cassandra_keyspace, table_name, str(tmp_path)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    workers = [
        subprocess.Popen([sys.executable, str(script), *args], env=env, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("ready-*"))) < 3:
            assert all(w.poll() is None for w in workers), "a worker died before it was ready"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        (tmp_path / "go").touch()
        for worker in workers:
            _, stderr = worker.communicate(timeout=120)
            assert worker.returncode == 0, stderr.decode(errors="replace")[-2000:]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    results = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("result-*.json"))]
    assert len(results) == 3
    assert {r["text"] for r in results} == {"one two three four five six seven eight "}
    calls = (tmp_path / "calls").read_text().split()
    assert len(calls) == 1, f"the model ran {len(calls)} times"
    leader = next(r for r in results if r["model"] is not None)
    extra = sorted(r["ended"] - leader["model"] for r in results if r is not leader)
    leader_total = leader["ended"] - leader["began"]
    _log.info(
        "cluster single-flight: leader %.0f ms; followers end %.0f / %.0f ms after the model",
        leader_total * 1000,
        extra[0] * 1000,
        extra[1] * 1000,
    )
    assert all(0 <= e < 2.0 for e in extra)


class GatedChat(BaseChatModel):
    """Fails its first call once released; later calls stream "fine"."""

    gate: Any = Field(default=None, exclude=True)
    calls: list[int] = Field(default_factory=list, exclude=True)

    @property
    def _llm_type(self) -> str:
        return "gated-chat"

    def _generate(self, *args, **kwargs):
        raise NotImplementedError

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        self.calls.append(1)
        if len(self.calls) == 1:
            assert self.gate.wait(30)
            msg = "the first call fails"
            raise RuntimeError(msg)
        yield ChatGenerationChunk(message=AIMessageChunk(content="fine"))


def test_a_failed_leader_lets_a_waiting_caller_take_over(
    cassandra_session, cassandra_keyspace, table_name
):
    gate = threading.Event()
    model = GatedChat(gate=gate)
    # Two cache objects: no in-process coalescing between them, only the lease.
    first = CachedChatModel(
        model, CassandraCache(cassandra_session, cassandra_keyspace, table_name), coalesce="cluster"
    )
    second = CachedChatModel(
        model, CassandraCache(cassandra_session, cassandra_keyspace, table_name), coalesce="cluster"
    )
    errors: list[BaseException] = []

    def lead() -> None:
        try:
            list(first.stream("q"))
        except RuntimeError as exc:
            errors.append(exc)

    leader = threading.Thread(target=lead)
    leader.start()
    deadline = time.monotonic() + 30
    while not model.calls:  # the leader holds the lease and is in the model
        assert time.monotonic() < deadline
        time.sleep(0.005)
    result: list[str] = []
    follower = threading.Thread(target=lambda: result.extend(c.content for c in second.stream("q")))
    follower.start()
    time.sleep(0.1)  # let the follower find the lease taken (its outcome does not depend on it)
    gate.set()
    leader.join(30)
    follower.join(30)
    assert [str(e) for e in errors] == ["the first call fails"]
    assert "".join(result) == "fine"
    assert len(model.calls) == 2
