"""In-process single-flight: identical concurrent requests make one model call.

Callers are threads, asyncio tasks, or both. Every wait is on a condition the test can see (the
flight's subscribers, the chunks the model produced), bounded, and released by an event: which
caller leads and who waits is decided by the test, never by timing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.caches import InMemoryCache

from cassandra_llm_cache.streaming import CachedChatModel, CoalescedCallError
from cassandra_llm_cache.streaming._flight import REGISTRY
from streaming_fakes import REPLY, WAIT, ModelError, Probe, ScriptedChat


@pytest.fixture(autouse=True)
def _no_flight_left_behind():
    assert len(REGISTRY) == 0
    yield
    assert len(REGISTRY) == 0


def subscribers() -> int:
    flights = list(REGISTRY._flights.values())
    return sum(f._sync_subscribers + f._async_subscribers for f in flights)


def wait_until(condition) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


async def await_until(condition) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


def joined(chunks) -> str:
    return "".join(chunk.content for chunk in chunks)


def wrapper_for(probe: Probe, **options) -> CachedChatModel:
    return CachedChatModel(ScriptedChat(probe=probe), InMemoryCache(), **options)


# -- one call for many callers -------------------------------------------------------------------


def test_concurrent_threads_make_one_model_call():
    probe = Probe()
    probe.gates[0] = threading.Event()
    wrapper = wrapper_for(probe)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(wrapper.invoke, "q") for _ in range(8)]
        wait_until(lambda: subscribers() == 8)
        probe.gates[0].set()
        answers = [future.result(WAIT).content for future in futures]
    assert answers == [REPLY] * 8
    assert probe.calls == 1


@pytest.mark.asyncio
async def test_concurrent_tasks_make_one_model_call():
    probe = Probe()
    probe.agates[0] = asyncio.Event()
    wrapper = wrapper_for(probe)
    tasks = [asyncio.create_task(wrapper.ainvoke("q")) for _ in range(8)]
    await await_until(lambda: subscribers() == 8)
    probe.agates[0].set()
    answers = [message.content for message in await asyncio.gather(*tasks)]
    assert answers == [REPLY] * 8
    assert probe.calls == 1


@pytest.mark.asyncio
async def test_threads_and_tasks_share_one_model_call():
    probe = Probe()
    probe.gates[0] = threading.Event()
    wrapper = wrapper_for(probe)
    with ThreadPoolExecutor(3) as pool:
        threads = [pool.submit(lambda: joined(wrapper.stream("q"))) for _ in range(3)]
        await await_until(lambda: subscribers() == 3)
        tasks = [asyncio.create_task(wrapper.ainvoke("q")) for _ in range(3)]
        await await_until(lambda: subscribers() == 6)
        probe.gates[0].set()
        answers = [message.content for message in await asyncio.gather(*tasks)]
        streamed = [future.result(WAIT) for future in threads]
    assert answers == streamed == [REPLY] * 3
    assert probe.calls == 1


def test_without_coalescing_every_caller_calls_the_model():
    probe = Probe()
    probe.gates[0] = threading.Event()
    wrapper = wrapper_for(probe, coalesce=None)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(wrapper.invoke, "q") for _ in range(4)]
        wait_until(lambda: probe.calls == 4)  # nobody can have stored an answer yet
        probe.gates[0].set()
        assert [f.result(WAIT).content for f in futures] == [REPLY] * 4


# -- followers of a stream -----------------------------------------------------------------------


def test_a_late_joiner_gets_the_chunks_so_far_then_the_rest_live():
    probe = Probe()
    probe.gates[2] = threading.Event()  # the model stops before its third chunk
    wrapper = wrapper_for(probe)
    with ThreadPoolExecutor(1) as pool:
        leader = pool.submit(lambda: joined(wrapper.stream("q")))
        probe.wait_produced(2)
        follower = wrapper.stream("q")
        assert [next(follower).content, next(follower).content] == ["the", " quick"]
        assert probe.produced == [0, 1]  # those came from the shared stream, not a new call
        probe.gates[2].set()
        rest = joined(follower)
        assert leader.result(WAIT) == REPLY
    assert "the quick" + rest == REPLY
    assert probe.calls == 1


def test_when_the_leader_stops_listening_a_follower_carries_the_call_on():
    probe = Probe()
    probe.gates[1] = threading.Event()
    cache = InMemoryCache()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), cache)
    leader = wrapper.stream("q")
    assert next(leader).content == "the"
    with ThreadPoolExecutor(1) as pool:
        # The follower gets the first chunk from the flight, then goes on with the model's
        # stream itself (in its own thread) when it needs the next chunk.
        follower = pool.submit(lambda: joined(wrapper.stream("q")))
        wait_until(lambda: subscribers() == 2)
        leader.close()  # the caller that started the call is gone
        probe.gates[1].set()
        assert follower.result(WAIT) == REPLY
    assert probe.calls == 1
    assert joined(wrapper.stream("q")) == REPLY  # and the answer was stored
    assert probe.calls == 1


@pytest.mark.asyncio
async def test_a_cancelled_async_leader_does_not_stop_its_followers():
    probe = Probe()
    probe.agates[2] = asyncio.Event()
    wrapper = wrapper_for(probe)

    async def consume() -> str:
        return joined([chunk async for chunk in wrapper.astream("q")])

    leader = asyncio.create_task(consume())
    await await_until(lambda: probe.produced == [0, 1])
    follower = asyncio.create_task(consume())
    await await_until(lambda: subscribers() == 2)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    probe.agates[2].set()
    assert await follower == REPLY
    assert probe.calls == 1


def test_a_stream_joining_an_invoke_gets_the_answer_replayed():
    probe = Probe()
    probe.gates[0] = threading.Event()
    wrapper = wrapper_for(probe)
    with ThreadPoolExecutor(2) as pool:
        invoked = pool.submit(wrapper.invoke, "q")
        wait_until(lambda: subscribers() == 1)
        streamed = pool.submit(lambda: [c.content for c in wrapper.stream("q")])
        wait_until(lambda: subscribers() == 2)
        probe.gates[0].set()
        chunks = streamed.result(WAIT)
        assert invoked.result(WAIT).content == REPLY
    assert "".join(chunks) == REPLY
    assert len(chunks) > 2
    assert probe.calls == 1


# -- failures ------------------------------------------------------------------------------------


def test_a_model_error_goes_to_its_caller_and_the_others_start_over():
    probe = Probe(fail_calls=(1,))
    probe.gates[0] = threading.Event()
    wrapper = wrapper_for(probe)

    def ask():
        try:
            return wrapper.invoke("q").content
        except ModelError as exc:
            return exc

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(ask) for _ in range(4)]
        wait_until(lambda: subscribers() == 4)
        probe.gates[0].set()
        outcomes = [future.result(WAIT) for future in futures]
    errors = [o for o in outcomes if isinstance(o, ModelError)]
    assert len(errors) == 1  # only the caller whose thread ran the failing call
    assert str(errors[0]) == "scripted failure of call 1"
    assert outcomes.count(REPLY) == 3
    assert probe.calls == 2  # one follower took over


@pytest.mark.asyncio
async def test_an_async_model_error_goes_to_the_leader_and_a_follower_takes_over():
    probe = Probe(fail_calls=(1,))
    probe.agates[0] = asyncio.Event()
    wrapper = wrapper_for(probe)
    leader = asyncio.create_task(wrapper.ainvoke("q"))
    await await_until(lambda: subscribers() == 1)
    followers = [asyncio.create_task(wrapper.ainvoke("q")) for _ in range(3)]
    await await_until(lambda: subscribers() == 4)
    probe.agates[0].set()
    with pytest.raises(ModelError, match="scripted failure of call 1"):
        await leader
    assert [m.content for m in await asyncio.gather(*followers)] == [REPLY] * 3
    assert probe.calls == 2


def test_a_follower_that_already_streamed_gets_an_explicit_error():
    probe = Probe(fail_calls=(1,), fail_at_chunk=3)
    probe.gates[3] = threading.Event()
    wrapper = wrapper_for(probe)

    def lead():
        try:
            return joined(wrapper.stream("q"))
        except ModelError as exc:
            return exc

    with ThreadPoolExecutor(1) as pool:
        leader = pool.submit(lead)
        probe.wait_produced(3)
        follower = wrapper.stream("q")
        assert [next(follower).content for _ in range(3)] == ["the", " quick", " brown"]
        probe.gates[3].set()
        with pytest.raises(CoalescedCallError, match=r"failed \(ModelError\)") as caught:
            list(follower)
        assert isinstance(leader.result(WAIT), ModelError)
    assert isinstance(caught.value.__cause__, ModelError)
    assert "q" not in str(caught.value).replace("request", "")  # no prompt in the message
    assert probe.calls == 1


@pytest.mark.asyncio
async def test_async_callers_of_an_abandoned_sync_call_start_over_or_say_so():
    probe = Probe()
    wrapper = wrapper_for(probe)
    leader = wrapper.stream("q")
    assert next(leader).content == "the"  # a sync call, suspended after its first chunk

    async def stream() -> str:
        return joined([chunk async for chunk in wrapper.astream("q")])

    streaming = asyncio.create_task(stream())
    invoking = asyncio.create_task(wrapper.ainvoke("q"))
    await await_until(lambda: subscribers() == 3)
    leader.close()  # no sync caller is left to run the blocking model call
    with pytest.raises(CoalescedCallError, match="was stopped"):
        await streaming  # it had already handed out the first chunk
    assert (await invoking).content == REPLY  # it had handed out nothing: it started over
    assert probe.calls == 2


@pytest.mark.asyncio
async def test_a_sync_call_on_the_event_loop_does_not_wait_for_that_loop():
    probe = Probe()
    probe.agates[0] = asyncio.Event()
    wrapper = wrapper_for(probe)
    task = asyncio.create_task(wrapper.ainvoke("q"))
    await await_until(lambda: subscribers() == 1)
    # Blocking the loop to wait for a call that runs on this very loop would never end.
    assert wrapper.invoke("q").content == REPLY
    probe.agates[0].set()
    assert (await task).content == REPLY
    assert probe.calls == 2


@pytest.mark.asyncio
async def test_an_async_caller_gets_the_first_chunk_before_a_model_that_never_awaits_ends():
    """The flight's model task lets callers in after each chunk: no buffering behind it."""
    probe = Probe()  # no gates: the scripted model's stream never gives the loop a turn
    wrapper = wrapper_for(probe)
    total = len(REPLY.split(" ")) + 1  # a chunk per word, then the closing chunk
    produced_at_first_chunk = None
    async for _ in wrapper.astream("Where is the fox?"):
        if produced_at_first_chunk is None:
            produced_at_first_chunk = len(probe.produced)
    assert len(probe.produced) == total
    assert produced_at_first_chunk is not None
    assert produced_at_first_chunk < total
