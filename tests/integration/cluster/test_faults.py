"""Fault tests of the caches on the project's 3-node cluster (RF=3), under a steady mixed load.

- kill -9 one node: zero errors and zero lost acknowledged writes at QUORUM; it restarts and
  rejoins;
- freeze every node (SIGSTOP): lookups miss within the timeout bound, the breaker opens, an
  application calling a real LangChain chat model through the cache sees no exception; after
  SIGCONT the same cache object recovers;
- a node disappears during ASYNC setup: setup completes or fails clearly, never hangs.

The load (``fault_load.MixedLoad``) is bounded by time and by count. Figures (operations,
errors, p50/p99 per phase, time to recover) are printed at the end of the run and written to
``.cassandra/fault-report.json``.

The kill test checks durability and availability under the strict policy, so it runs without a
circuit breaker (a breaker would turn a few slow requests into many refused ones). On a 2-core
machine running four Cassandra nodes, a coordinator can stall for longer than the production
1 s timeout while the cluster reacts to the crash (JVM pauses of several seconds were seen), so
this test alone uses what a production client on a slow cluster would: driver speculative
execution (every cache statement is idempotent, so a second coordinator is asked after 300 ms)
and a 3 s request timeout.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from cassandra.policies import ConstantSpeculativeExecutionPolicy
from fault_load import CacheTarget, MixedLoad
from langchain_core.language_models import FakeListChatModel
from langchain_core.outputs import Generation

from cassandra_llm_cache import (
    BreakerState,
    CassandraCache,
    CircuitBreaker,
    SetupError,
    SetupMode,
)
from cassandra_llm_cache._values.keys import langchain_cache_key

pytestmark = [pytest.mark.cluster, pytest.mark.fault, pytest.mark.slow]

SPECULATION = ConstantSpeculativeExecutionPolicy(delay=0.3, max_attempts=2)
KILL_TEST_TIMEOUT = 3.0
NODE_START_TIMEOUT = 300.0


def wait_until(condition, timeout: float, step: float = 0.1) -> float:
    """Seconds until ``condition()`` held; fails after ``timeout``."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(step)
    return time.monotonic() - began


def host_is_up(session, address: str) -> bool:
    return any(
        host.is_up and host.address == address for host in session.cluster.metadata.all_hosts()
    )


def lost_writes(session, keyspace: str, table: str, acknowledged: dict[str, str]) -> list[str]:
    """Acknowledged writes not read back at QUORUM by another cache object."""
    checker = CassandraCache(
        session,
        keyspace,
        table,
        on_error="raise",
        circuit_breaker=False,
        read_consistency="QUORUM",
        request_timeout=10.0,
    )
    target = CacheTarget(checker)
    return [key for key, value in acknowledged.items() if target.lookup(key) != value]


def test_kill_one_node_loses_no_acknowledged_write(fault_cluster, fault_report, table_name):
    session = fault_cluster.connect(profile_options={"speculative_execution_policy": SPECULATION})
    cache = CassandraCache(
        session,
        fault_cluster.keyspace,
        table_name,
        on_error="raise",  # strict: every failure would surface in the load's record
        circuit_breaker=False,
        request_timeout=KILL_TEST_TIMEOUT,
        read_consistency="QUORUM",
        write_consistency="QUORUM",
    )
    victim = 1  # also the driver's first contact point: its control connection moves
    address = fault_cluster.local.node(victim).address
    load = MixedLoad(CacheTarget(cache), max_seconds=420, max_ops=40_000)
    with load:
        load.wait_ops(150, timeout=30)
        load.mark("node killed")
        fault_cluster.local.kill_node(victim)
        load.wait_ops(300, timeout=60)
        load.mark("node restarting")
        began = time.monotonic()
        fault_cluster.local.start_node(victim, timeout=NODE_START_TIMEOUT)
        cql_ready = time.monotonic() - began
        wait_until(lambda: host_is_up(session, address), timeout=90)
        rejoined = time.monotonic() - began
        load.mark("rejoined")
        load.wait_ops(150, timeout=30)
        result = load.stop()

    lost = lost_writes(session, fault_cluster.keyspace, table_name, result.acknowledged)
    # The restarted node itself serves the cluster again (as coordinator of a query).
    served_by_victim = session.execute(
        f"SELECT count(*) FROM {fault_cluster.keyspace}.{table_name}",
        host=next(h for h in session.cluster.metadata.all_hosts() if h.address == address),
        timeout=30,
    ).one()

    phases = ("baseline", "node killed", "node restarting", "rejoined")
    stats = cache.stats()
    fault_report.update(
        {
            "fault": (
                "kill -9 one node of three, RF=3, QUORUM reads and writes, strict policy, "
                f"{KILL_TEST_TIMEOUT:g} s timeout, speculative execution after 0.3 s"
            ),
            "phases": [result.summary(phase) for phase in phases],
            "operations": len(result.ops),
            "acknowledged_writes": len(result.acknowledged),
            "lost_acknowledged_writes": len(lost),
            "seconds_to_cql_ready_after_restart": round(cql_ready, 1),
            "seconds_to_rejoin_after_restart": round(rejoined, 1),
            "cache_stats": {k: v for k, v in stats.as_dict().items() if k != "latency"},
        }
    )
    assert served_by_victim is not None
    assert not lost
    assert not result.errors(), result.errors()[:5]
    assert not result.wrong()
    assert not [op for op in result.ops if op.outcome == "stale"]
    assert stats.errors == 0
    assert result.summary("node killed")["ops"] > 0


def keep_calling(model, seconds: float) -> list[float]:
    """The application calls the model for ``seconds``; it must never see an exception."""
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        began = time.monotonic()
        answer = model.invoke(f"frozen question {len(latencies)}")
        latencies.append(time.monotonic() - began)
        assert answer.content == "fresh answer"
    return latencies


def test_freeze_every_node_fails_open_and_recovers(fault_cluster, fault_report, table_name):
    session = fault_cluster.connect()
    timeout = 1.0
    breaker = CircuitBreaker(failure_threshold=5, cool_down=3.0)  # shared by both caches

    def cache_object() -> CassandraCache:
        return CassandraCache(
            session,
            fault_cluster.keyspace,
            table_name,
            request_timeout=timeout,
            circuit_breaker=breaker,
        )

    # The application's cache (a chat model's) and the load's: the load's stats count only its
    # own writes, so they can be checked for durability after the fault.
    app_cache = cache_object()
    load_cache = cache_object()
    model = FakeListChatModel(responses=["fresh answer"], cache=app_cache)
    warm = [f"question {i}" for i in range(5)]
    for question in warm:  # cached before the freeze: hits again after recovery
        model.invoke(question)
    assert app_cache.stats().writes == len(warm)

    load = MixedLoad(CacheTarget(load_cache), max_seconds=120, max_ops=20_000)
    with load:
        load.wait_ops(100, timeout=30)
        load.mark("frozen")
        for index in range(1, 4):
            fault_cluster.local.pause_node(index)
        app_latencies = keep_calling(model, seconds=8.0)
        assert breaker.state is not BreakerState.CLOSED
        skipped_before = app_cache.stats().skipped
        open_lookup = time.perf_counter()
        missed = app_cache.lookup("anything", "while open")
        open_lookup_us = (time.perf_counter() - open_lookup) * 1e6
        lookup_was_skipped = app_cache.stats().skipped > skipped_before
        load.mark("resumed")
        for index in range(1, 4):
            fault_cluster.local.resume_node(index)
        # The same cache object recovers: a question cached before the freeze is a hit again.
        warm_key = langchain_cache_key(warm[0], model)
        recovered = wait_until(lambda: app_cache.lookup(*warm_key) is not None, 60, 0.05)
        load.mark("recovered")
        load.wait_ops(100, timeout=30)
        result = load.stop()

    frozen = result.ops_in("frozen")
    stats = load_cache.stats()
    app_stats = app_cache.stats()
    # Under fail-open an update that returned was not necessarily stored; the writes the cache
    # counted were acknowledged at LOCAL_QUORUM, and each load update has a key of its own.
    returned = result.acknowledged
    found = len(returned) - len(lost_writes(session, fault_cluster.keyspace, table_name, returned))
    fault_report.update(
        {
            "fault": "SIGSTOP all three nodes for 8 s, then SIGCONT; default fail-open policy",
            "phases": [result.summary(p) for p in ("baseline", "frozen", "resumed", "recovered")],
            "operations": len(result.ops),
            "app_calls_while_frozen": len(app_latencies),
            "app_call_p50_ms_while_frozen": round(
                sorted(app_latencies)[len(app_latencies) // 2] * 1000, 3
            ),
            "app_call_max_ms_while_frozen": round(max(app_latencies) * 1000, 1),
            "lookup_us_while_breaker_open": round(open_lookup_us, 1),
            "seconds_to_recover_after_sigcont": round(recovered, 2),
            "load_updates_returned": len(returned),
            "load_writes_acknowledged": stats.writes,
            "load_keys_found_at_quorum_after": found,
            # Lookups of a key whose update returned but was not stored (failed or skipped while
            # frozen), or that a lagging LOCAL_ONE replica has not applied yet: misses.
            "stale_misses": sum(1 for op in result.ops if op.outcome == "stale"),
            "breaker": {
                key: getattr(value, "value", value)
                for key, value in vars(breaker.snapshot()).items()
            },
            "load_cache_stats": {k: v for k, v in stats.as_dict().items() if k != "latency"},
            "app_cache_stats": {k: v for k, v in app_stats.as_dict().items() if k != "latency"},
        }
    )
    assert frozen, "the load made no operation while the cluster was frozen"
    # Each operation is bounded by the timeout (with slack for a loaded machine) ...
    assert max(op.latency for op in frozen) < 2 * timeout + 1.0
    assert max(app_latencies) < 2 * (2 * timeout + 1.0)  # a lookup and an update per call
    # ... and neither the load nor the application saw an exception.
    assert not result.errors(), result.errors()[:5]
    assert missed is None
    assert lookup_was_skipped
    assert breaker.state is BreakerState.CLOSED
    assert stats.errors + app_stats.errors > 0  # the failures were counted ...
    assert stats.skipped + app_stats.skipped > 0  # ... the breaker spared the database ...
    assert breaker.snapshot().times_opened >= 1
    assert not result.wrong()  # a miss at worst, never another entry's value
    assert found >= stats.writes  # every acknowledged write is still there


@pytest.mark.asyncio
async def test_node_disappears_during_async_setup(fault_cluster, fault_report, table_name):
    """Runs last: the node it kills is restarted by the next test's fixture, if any."""
    session = fault_cluster.connect()
    began = time.monotonic()
    strict = CassandraCache(
        session, fault_cluster.keyspace, table_name, setup_mode=SetupMode.ASYNC, on_error="raise"
    )
    lenient = CassandraCache(
        session, fault_cluster.keyspace, table_name + "_b", setup_mode=SetupMode.ASYNC
    )
    constructed = time.monotonic() - began
    fault_cluster.local.kill_node(1)
    value = [Generation(text="after setup")]
    outcome = "completed"
    try:
        # Bounded: a hang fails the test instead of blocking the suite.
        await asyncio.wait_for(strict.aupdate("prompt", "llm", value), timeout=90)
        assert await strict.alookup("prompt", "llm") == value
    except SetupError as error:
        outcome = f"failed clearly: {error}"
    settled = time.monotonic() - began

    # The default policy never raises: misses until its setup is done (or retried), then hits.
    lenient_began = time.monotonic()
    deadline = lenient_began + 60
    while True:
        await asyncio.wait_for(lenient.aupdate("prompt", "llm", value), timeout=30)
        if await asyncio.wait_for(lenient.alookup("prompt", "llm"), timeout=30) == value:
            break
        assert time.monotonic() < deadline, "the fail-open cache never became usable"
        await asyncio.sleep(0.2)
    lenient_usable = time.monotonic() - began
    fault_report.update(
        {
            "fault": "kill -9 a node right after two ASYNC-setup caches were constructed",
            "constructor_ms": round(constructed * 1000, 2),
            "strict_setup_outcome": outcome,
            "seconds_until_strict_setup_settled": round(settled, 2),
            "seconds_until_fail_open_cache_served": round(lenient_usable, 2),
            "fail_open_cache_stats": {
                k: v for k, v in lenient.stats().as_dict().items() if k != "latency"
            },
        }
    )
    assert constructed < 0.5
    assert outcome == "completed" or "setup failed" in outcome
