"""The driver -> asyncio bridge and non-blocking preparation, on the real node.

Results, errors, cancellation, closed loops, paging and concurrency: whatever the asyncio side
does, the driver's threads never see an exception, and no error is lost.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading

import pytest
import pytest_asyncio
from cassandra import InvalidRequest
from cassandra.protocol import SyntaxException
from cassandra.query import PreparedStatement, SimpleStatement

from cassandra_llm_cache._storage import bridge as _bridge
from cassandra_llm_cache._storage.connection import cache_profile


@pytest.fixture
def kv_table(cassandra_session, cassandra_keyspace, table_name):
    table = f"{cassandra_keyspace}.{table_name}"
    cassandra_session.execute(f"CREATE TABLE {table} (k int PRIMARY KEY, v text)")
    insert = cassandra_session.prepare(f"INSERT INTO {table} (k, v) VALUES (?, ?)")
    for k in range(95):
        cassandra_session.execute(insert, (k, f"value {k}"))
    return table


@pytest.fixture
def driver_errors(caplog):
    """Records anything the driver logs at ERROR (exceptions escaping our callbacks land here)."""
    caplog.set_level(logging.ERROR, logger="cassandra")
    yield caplog
    logged = [r for r in caplog.get_records("call") if r.name.startswith("cassandra.")]
    assert logged == []


@pytest_asyncio.fixture
async def loop_errors():
    errors: list[dict] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: errors.append(context))
    yield errors
    loop.set_exception_handler(None)


def prepare_sync(session, query) -> PreparedStatement:
    return _bridge.prepare(session, query).result(timeout=10)


@pytest.mark.asyncio
async def test_results_arrive_as_pages(cassandra_session, kv_table, driver_errors):
    statement = prepare_sync(cassandra_session, f"SELECT v FROM {kv_table} WHERE k = ?")
    profile = cache_profile(cassandra_session)
    loop = asyncio.get_running_loop()
    future = cassandra_session.execute_async(statement, (7,), execution_profile=profile)
    page = await _bridge.to_asyncio(future, loop)
    assert page.rows == [("value 7",)]
    assert page.paging_state is None


@pytest.mark.asyncio
async def test_server_errors_are_raised_to_the_awaiting_coroutine(cassandra_session, driver_errors):
    loop = asyncio.get_running_loop()
    future = cassandra_session.execute_async("SELECT * FROM system.no_such_table")
    with pytest.raises(InvalidRequest):
        await _bridge.to_asyncio(future, loop)


@pytest.mark.asyncio
async def test_prepare_does_not_block_and_registers_the_statement(cassandra_session, kv_table):
    query = f"SELECT k, v FROM {kv_table} WHERE k = ?"
    future = _bridge.prepare(cassandra_session, query)
    assert isinstance(future, concurrent.futures.Future)
    statement = await _bridge.wait_async(future)
    assert isinstance(statement, PreparedStatement)
    assert cassandra_session.cluster._prepared_statements[statement.query_id] is statement
    assert statement.routing_key_indexes == [0]
    row = cassandra_session.execute(statement, (3,)).one()
    assert tuple(row) == (3, "value 3")
    # The same text prepared the driver's way gets the same id: it is the same statement.
    assert cassandra_session.prepare(query).query_id == statement.query_id


@pytest.mark.asyncio
async def test_prepare_errors_are_delivered(cassandra_session, kv_table):
    with pytest.raises(SyntaxException):
        await _bridge.wait_async(_bridge.prepare(cassandra_session, "SELEKT nothing"))
    with pytest.raises(InvalidRequest):
        await _bridge.wait_async(
            _bridge.prepare(cassandra_session, f"SELECT missing_column FROM {kv_table}")
        )


@pytest.mark.asyncio
async def test_cancelled_futures_never_raise_in_the_driver(
    cassandra_session, kv_table, driver_errors, loop_errors
):
    loop = asyncio.get_running_loop()
    statement = prepare_sync(cassandra_session, f"SELECT v FROM {kv_table} WHERE k = ?")
    ok = [cassandra_session.execute_async(statement, (k % 95,)) for k in range(200)]
    failing = [cassandra_session.execute_async("SELECT * FROM system.nope") for _ in range(20)]
    bridged = [_bridge.to_asyncio(f, loop) for f in ok + failing]
    for future in bridged:
        future.cancel()
    for future in ok:
        future.result()
    for future in failing:
        with pytest.raises(InvalidRequest):
            future.result()
    await asyncio.sleep(0.05)  # let the threadsafe callbacks run on this loop
    assert all(f.cancelled() for f in bridged)
    assert loop_errors == []  # no "exception was never retrieved", no InvalidStateError


@pytest.mark.asyncio
async def test_cancelling_the_awaiting_task(
    cassandra_session, kv_table, driver_errors, loop_errors
):
    loop = asyncio.get_running_loop()
    statement = prepare_sync(cassandra_session, f"SELECT v FROM {kv_table} WHERE k = ?")

    async def one_lookup():
        future = cassandra_session.execute_async(statement, (1,))
        return await _bridge.to_asyncio(future, loop)

    task = asyncio.create_task(one_lookup())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await one_lookup()).rows == [("value 1",)]
    await asyncio.sleep(0.05)
    assert loop_errors == []


def test_a_closed_loop_does_not_break_the_driver(cassandra_session, kv_table, driver_errors):
    loop = asyncio.new_event_loop()
    statement = prepare_sync(cassandra_session, f"SELECT v FROM {kv_table} WHERE k = ?")
    futures = [cassandra_session.execute_async(statement, (k,)) for k in range(20)]
    futures.append(cassandra_session.execute_async("SELECT * FROM system.nope"))
    finished = []
    for future in futures:
        _bridge.to_asyncio(future, loop)
        # Callbacks run in the order they were added: once this one ran, ours has too.
        done = threading.Event()
        future.add_callbacks(lambda _, d=done: d.set(), lambda _, d=done: d.set())
        finished.append(done)
    loop.close()
    assert all(done.wait(10) for done in finished)
    with pytest.raises(InvalidRequest):
        futures[-1].result()


@pytest.mark.asyncio
async def test_paging_state_walks_every_page(cassandra_session, kv_table):
    loop = asyncio.get_running_loop()
    statement = SimpleStatement(f"SELECT k FROM {kv_table}", fetch_size=10)
    seen: list[int] = []
    state = None
    pages = 0
    while True:
        future = cassandra_session.execute_async(statement, paging_state=state)
        page = await _bridge.to_asyncio(future, loop)
        seen.extend(row.k for row in page.rows)
        pages += 1
        state = page.paging_state
        if state is None:
            break
    assert pages == 10
    assert sorted(seen) == list(range(95))


@pytest.mark.asyncio
async def test_many_requests_in_flight(cassandra_session, kv_table):
    loop = asyncio.get_running_loop()
    statement = prepare_sync(cassandra_session, f"SELECT v FROM {kv_table} WHERE k = ?")
    profile = cache_profile(cassandra_session)
    futures = [
        _bridge.to_asyncio(
            cassandra_session.execute_async(statement, (k % 95,), execution_profile=profile), loop
        )
        for k in range(1000)
    ]
    pages = await asyncio.gather(*futures)
    assert [p.rows[0][0] for p in pages] == [f"value {k % 95}" for k in range(1000)]


# --- the callback chain helpers (no server needed, but they carry setup on the real node) ------


def test_then_chain_and_gather_propagate_values_and_errors():
    source: concurrent.futures.Future[int] = concurrent.futures.Future()
    doubled = _bridge.then(source, lambda x: x * 2)
    chained = _bridge.chain(doubled, lambda x: _bridge.completed(x + 1))
    source.set_result(20)
    assert chained.result(timeout=1) == 41

    failing = _bridge.then(_bridge.completed(1), lambda _: 1 / 0)
    assert isinstance(failing.exception(timeout=1), ZeroDivisionError)
    after_failure = _bridge.then(failing, lambda x: x + 1)
    assert isinstance(after_failure.exception(timeout=1), ZeroDivisionError)

    assert _bridge.gather([]).result(timeout=1) == []
    pending: concurrent.futures.Future[int] = concurrent.futures.Future()
    both = _bridge.gather([_bridge.completed(1), pending])
    assert not both.done()
    pending.set_result(2)
    assert both.result(timeout=1) == [1, 2]
    broken = _bridge.gather([_bridge.completed(1), failing])
    assert isinstance(broken.exception(timeout=1), ZeroDivisionError)


@pytest.mark.asyncio
async def test_wait_async_is_shared_safely_and_cancellation_does_not_spread():
    source: concurrent.futures.Future[str] = concurrent.futures.Future()
    first = asyncio.create_task(_bridge.wait_async(source))
    second = asyncio.create_task(_bridge.wait_async(source))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert not source.cancelled()
    threading.Timer(0.05, source.set_result, ("done",)).start()
    assert await second == "done"
    assert await _bridge.wait_async(source) == "done"  # already settled: immediate
