"""The fault harness itself, on the raw driver: the cluster loses no acknowledged QUORUM write."""

from __future__ import annotations

import time

import pytest
from cassandra import ConsistencyLevel
from fault_load import DriverTarget, MixedLoad

pytestmark = [pytest.mark.cluster, pytest.mark.fault, pytest.mark.slow]


def test_raw_driver_kill_one_node(fault_cluster, fault_report):
    session = fault_cluster.connect()
    table = f"{fault_cluster.keyspace}.raw_{int(time.time() * 1000)}"
    target = DriverTarget(session, table, ConsistencyLevel.QUORUM, timeout=2.0)
    load = MixedLoad(target, max_seconds=300)
    with load:
        load.wait_ops(100, timeout=30)
        load.mark("kill")
        fault_cluster.local.kill_node(2)
        load.wait_ops(200, timeout=30)
        load.mark("restart")
        fault_cluster.local.start_node(2)
        load.mark("after")
        load.wait_ops(100, timeout=30)
        result = load.stop()
    fault_report.update({p: result.summary(p) for p in ("baseline", "kill", "restart", "after")})
    verify = session.prepare(f"SELECT v FROM {table} WHERE k = ?")
    verify.consistency_level = ConsistencyLevel.QUORUM
    lost = [
        key
        for key, value in result.acknowledged.items()
        if (row := session.execute(verify, (key,), timeout=10).one()) is None or row.v != value
    ]
    fault_report["acknowledged"] = len(result.acknowledged)
    fault_report["lost"] = len(lost)
    assert not lost
    assert not result.wrong()
    assert not result.errors("kill")
