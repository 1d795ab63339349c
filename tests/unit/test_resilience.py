"""The pure resilience policy: errors, timeouts, consistency, breaker, size limit, should_cache."""

from __future__ import annotations

import threading

import pytest
from cassandra import ConsistencyLevel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache._policy.resilience import (
    CONSISTENCY_LEVELS,
    DEFAULT_MAX_VALUE_BYTES,
    DEFAULT_READ_CONSISTENCY,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_WRITE_CONSISTENCY,
    SETUP_RETRY_MAX,
    BreakerState,
    CircuitBreaker,
    ErrorPolicy,
    Resilience,
    check_generations,
    consistency_name,
    cut_reason,
    default_should_cache,
    generation_is_empty,
    parse_circuit_breaker,
    parse_consistency,
    parse_error_policy,
    parse_max_value_bytes,
    parse_should_cache,
    parse_timeout,
    resilience,
    setup_retry_delay,
    value_too_large,
    write_size,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- error policy ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("miss", ErrorPolicy.MISS),
        ("raise", ErrorPolicy.RAISE),
        (" RAISE ", ErrorPolicy.RAISE),
        (ErrorPolicy.MISS, ErrorPolicy.MISS),
    ],
)
def test_error_policy_accepts_names_and_enum(given, expected):
    assert parse_error_policy(given) is expected


@pytest.mark.parametrize("given", ["ignore", "", None, 1, True])
def test_error_policy_rejects_anything_else(given):
    with pytest.raises(ConfigurationError, match="on_error must be 'miss' or 'raise'"):
        parse_error_policy(given)


# -- timeouts --------------------------------------------------------------------------------
def test_default_timeout_is_short():
    assert parse_timeout(DEFAULT_REQUEST_TIMEOUT) == 1.0


@pytest.mark.parametrize("given", [0.001, 1, 2.5, 120])
def test_timeout_accepts_positive_seconds(given):
    assert parse_timeout(given) == float(given)


@pytest.mark.parametrize("given", [0, -1, float("nan"), float("inf"), 121, True, "1", None])
def test_timeout_rejects_non_positive_infinite_huge_or_non_numbers(given):
    with pytest.raises(ConfigurationError, match="request_timeout"):
        parse_timeout(given)


# -- consistency -----------------------------------------------------------------------------
def test_consistency_numbers_are_the_drivers():
    for name, number in CONSISTENCY_LEVELS.items():
        assert getattr(ConsistencyLevel, name) == number
        assert consistency_name(number) == name


def test_defaults_are_local_one_reads_and_local_quorum_writes():
    assert parse_consistency(DEFAULT_READ_CONSISTENCY, for_writes=False) == (
        ConsistencyLevel.LOCAL_ONE
    )
    assert parse_consistency(DEFAULT_WRITE_CONSISTENCY, for_writes=True) == (
        ConsistencyLevel.LOCAL_QUORUM
    )


@pytest.mark.parametrize("for_writes", [False, True])
def test_consistency_accepts_names_in_any_case_and_driver_values(for_writes):
    assert parse_consistency("quorum", for_writes=for_writes) == ConsistencyLevel.QUORUM
    assert parse_consistency(" Local_Quorum ", for_writes=for_writes) == (
        ConsistencyLevel.LOCAL_QUORUM
    )
    assert parse_consistency(ConsistencyLevel.ALL, for_writes=for_writes) == ConsistencyLevel.ALL


@pytest.mark.parametrize("level", ["ANY", "EACH_QUORUM", "SERIAL", "LOCAL_SERIAL"])
def test_consistency_rejects_levels_invalid_for_reads(level):
    with pytest.raises(ConfigurationError, match=f"read_consistency cannot be {level}"):
        parse_consistency(level, for_writes=False)


@pytest.mark.parametrize("level", ["SERIAL", "LOCAL_SERIAL"])
def test_consistency_rejects_serial_levels_for_writes(level):
    with pytest.raises(ConfigurationError, match=f"write_consistency cannot be {level}"):
        parse_consistency(level, for_writes=True)


def test_consistency_allows_any_and_each_quorum_for_writes():
    assert parse_consistency("ANY", for_writes=True) == ConsistencyLevel.ANY
    assert parse_consistency("EACH_QUORUM", for_writes=True) == ConsistencyLevel.EACH_QUORUM


@pytest.mark.parametrize("given", ["MOST", "", 99, -1, True, None, 1.0])
def test_consistency_rejects_unknown_values(given):
    with pytest.raises(ConfigurationError, match="must be a consistency level"):
        parse_consistency(given, for_writes=False)


# -- size limit ------------------------------------------------------------------------------
def test_default_value_limit_is_4_mib_and_a_quarter_of_the_default_max_mutation():
    default_max_mutation = 32 * 1024 * 1024 // 2  # half the default commitlog segment
    assert DEFAULT_MAX_VALUE_BYTES == 4 * 1024 * 1024
    assert default_max_mutation == 4 * DEFAULT_MAX_VALUE_BYTES


def test_value_limit_is_inclusive_and_none_disables_it():
    assert not value_too_large(100, 100)
    assert value_too_large(101, 100)
    assert not value_too_large(10**12, None)


@pytest.mark.parametrize("given", [0, -5, 1.5, "4MiB", True])
def test_value_limit_must_be_a_positive_int_or_none(given):
    with pytest.raises(ConfigurationError, match="max_value_bytes"):
        parse_max_value_bytes(given)
    assert parse_max_value_bytes(None) is None
    assert parse_max_value_bytes(1) == 1


# -- circuit breaker -------------------------------------------------------------------------
def open_breaker(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.failure_threshold):
        breaker.record_failure()


def test_breaker_opens_after_threshold_consecutive_failures():
    clock = FakeClock()
    breaker = CircuitBreaker(3, 10.0, clock=clock)
    assert not breaker.record_failure()
    assert not breaker.record_failure()
    assert breaker.allow()
    assert breaker.record_failure()  # the third opens it
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    snapshot = breaker.snapshot()
    assert snapshot.times_opened == 1
    assert snapshot.rejected == 1


def test_breaker_success_resets_the_consecutive_count():
    breaker = CircuitBreaker(3, 10.0, clock=FakeClock())
    breaker.record_failure()
    breaker.record_failure()
    assert not breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_breaker_probes_once_after_cool_down_and_closes_on_success():
    clock = FakeClock()
    breaker = CircuitBreaker(2, 5.0, clock=clock)
    open_breaker(breaker)
    clock.now += 4.999
    assert not breaker.allow()
    clock.now += 0.001
    assert breaker.allow()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # only one probe at a time
    assert breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()
    assert breaker.snapshot().consecutive_failures == 0


def test_breaker_failed_probe_reopens_for_a_full_cool_down():
    clock = FakeClock()
    breaker = CircuitBreaker(2, 5.0, clock=clock)
    open_breaker(breaker)
    clock.now += 5.0
    assert breaker.allow()
    assert breaker.record_failure()  # the probe failed: open again
    assert breaker.state is BreakerState.OPEN
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()
    assert breaker.snapshot().times_opened == 2


def test_breaker_replaces_a_probe_that_never_reported():
    clock = FakeClock()
    breaker = CircuitBreaker(1, 2.0, clock=clock)
    breaker.record_failure()
    clock.now += 2.0
    assert breaker.allow()  # a probe whose caller was cancelled: no report
    clock.now += 1.0
    assert not breaker.allow()
    clock.now += 1.0
    assert breaker.allow()


def test_breaker_late_failure_of_an_old_call_does_not_extend_the_open_period():
    clock = FakeClock()
    breaker = CircuitBreaker(1, 2.0, clock=clock)
    breaker.record_failure()
    clock.now += 1.5
    assert not breaker.record_failure()  # started before the breaker opened
    clock.now += 0.5
    assert breaker.allow()


def test_breaker_while_open_answers_without_taking_the_lock():
    class NoLock:
        def __enter__(self):
            raise AssertionError("the lock was taken while the breaker was open")

        def __exit__(self, *exc):
            return False

    breaker = CircuitBreaker(1, 60.0, clock=FakeClock())
    breaker.record_failure()
    breaker._lock = NoLock()  # type: ignore[assignment]
    assert all(not breaker.allow() for _ in range(1000))


def test_breaker_is_consistent_under_threads():
    breaker = CircuitBreaker(10_000, 60.0)
    barrier = threading.Barrier(8)

    def hammer() -> None:
        barrier.wait()
        for _ in range(1000):
            breaker.allow()
            breaker.record_failure()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snapshot = breaker.snapshot()
    assert snapshot.consecutive_failures == 8000
    assert snapshot.state is BreakerState.CLOSED
    breaker.record_failure()
    breaker.record_failure()
    breaker.reset()
    assert breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize(
    ("threshold", "cool_down", "message"),
    [
        (0, 1.0, "failure_threshold"),
        (1.5, 1.0, "failure_threshold"),
        (True, 1.0, "failure"),
        (1, 0, "cool_down"),
    ],
)
def test_breaker_rejects_bad_settings(threshold, cool_down, message):
    with pytest.raises(ConfigurationError, match=message):
        CircuitBreaker(threshold, cool_down)


def test_breaker_repr_is_stable():
    assert repr(CircuitBreaker()) == "CircuitBreaker(failure_threshold=5, cool_down=5)"


def test_parse_circuit_breaker():
    given = CircuitBreaker(2, 1.0)
    assert parse_circuit_breaker(given) is given
    assert isinstance(parse_circuit_breaker(value=True), CircuitBreaker)
    assert parse_circuit_breaker(value=False) is None
    assert parse_circuit_breaker(None) is None
    with pytest.raises(ConfigurationError, match="circuit_breaker"):
        parse_circuit_breaker("yes")  # type: ignore[arg-type]


# -- should_cache ----------------------------------------------------------------------------
def chat(content="answer", **kwargs) -> ChatGeneration:
    return ChatGeneration(message=AIMessage(content=content, **kwargs))


def chat_with_generation_info(info: dict) -> ChatGeneration:
    return ChatGeneration(message=AIMessage(content="x"), generation_info=info)


@pytest.mark.parametrize(
    "generation",
    [
        Generation(text="answer"),
        Generation(text="answer", generation_info={"finish_reason": "stop"}),
        GenerationChunk(text="answer"),
        chat(),
        chat(response_metadata={"finish_reason": "stop"}),
        chat(response_metadata={"finish_reason": "tool_calls"}),
        chat(response_metadata={"stop_reason": "end_turn"}),
        chat(response_metadata={"stop_reason": "tool_use"}),
        chat(response_metadata={"finish_reason": "STOP"}),
        chat(response_metadata={"stopReason": "end_turn"}),
        chat(response_metadata={"done_reason": "stop"}),
        chat(response_metadata={"status": "completed"}),
        ChatGenerationChunk(message=AIMessageChunk(content="streamed")),
        chat(content="", tool_calls=[{"name": "f", "args": {}, "id": "1"}]),
        chat(
            content="",
            invalid_tool_calls=[{"name": "f", "args": "{", "id": "1", "error": None}],
        ),
        chat(content="", additional_kwargs={"function_call": {"name": "f", "arguments": "{}"}}),
        chat(content=[{"type": "image", "url": "https://example.invalid/x.png"}]),
        chat(content=[{"type": "text", "text": "hello"}]),
    ],
)
def test_complete_outputs_are_cached(generation):
    assert cut_reason(generation) is None
    assert not generation_is_empty(generation)
    assert default_should_cache([generation])


@pytest.mark.parametrize(
    ("generation", "reason"),
    [
        (Generation(text="cut", generation_info={"finish_reason": "length"}), "length"),
        (
            Generation(text="cut", generation_info={"finish_reason": "content_filter"}),
            "content_filter",
        ),
        (chat(response_metadata={"finish_reason": "length"}), "length"),
        (chat(response_metadata={"finish_reason": "content_filter"}), "content_filter"),
        (chat(response_metadata={"stop_reason": "max_tokens"}), "max_tokens"),
        (chat(response_metadata={"stop_reason": "refusal"}), "refusal"),
        (chat(response_metadata={"finish_reason": "MAX_TOKENS"}), "max_tokens"),
        (chat(response_metadata={"finish_reason": "SAFETY"}), "safety"),
        (chat(response_metadata={"finish_reason": "RECITATION"}), "recitation"),
        (chat(response_metadata={"stopReason": "guardrail_intervened"}), "guardrail_intervened"),
        (chat(response_metadata={"stopReason": "max_tokens"}), "max_tokens"),
        (chat(response_metadata={"done_reason": "length"}), "length"),
        (chat(response_metadata={"finish_reason": "model_length"}), "model_length"),
        (chat(response_metadata={"finish_reason": "ERROR_TOXIC"}), "error_toxic"),
        (chat(response_metadata={"status": "incomplete"}), "incomplete"),
        (
            chat(response_metadata={"incomplete_details": {"reason": "max_output_tokens"}}),
            "max_output_tokens",
        ),
        (chat_with_generation_info({"finish_reason": "length"}), "length"),
    ],
)
def test_cut_or_filtered_outputs_are_not_cached(generation, reason):
    assert cut_reason(generation) == reason
    assert not default_should_cache([generation])


def test_finish_reasons_are_read_from_any_mapping_and_from_both_places():
    from types import MappingProxyType

    read_only = Generation.model_construct(
        text="x", generation_info=MappingProxyType({"finish_reason": "length"})
    )
    assert cut_reason(read_only) == "length"
    # generation_info says "stop", the message says it was cut: the message wins.
    both = ChatGeneration(
        message=AIMessage(content="x", response_metadata={"stop_reason": "max_tokens"}),
        generation_info={"finish_reason": "stop", "incomplete_details": None},
    )
    assert cut_reason(both) == "max_tokens"
    assert cut_reason(chat_with_generation_info({"finish_reason": None, "status": "done"})) is None


def test_provider_enum_finish_reasons_are_read_by_name():
    class FinishReason:
        name = "MAX_TOKENS"

    generation = chat(response_metadata={"finish_reason": FinishReason()})
    assert cut_reason(generation) == "max_tokens"


@pytest.mark.parametrize(
    "generation",
    [
        Generation(text=""),
        Generation(text="  \n"),
        chat(content=""),
        chat(content=[]),
        chat(content=[{"type": "text", "text": ""}]),
        chat(content=["", "  "]),
    ],
)
def test_empty_outputs_are_not_cached(generation):
    assert generation_is_empty(generation)
    assert not default_should_cache([generation])


def test_a_list_is_judged_whole():
    good = Generation(text="fine")
    assert not default_should_cache([])
    assert default_should_cache([good, Generation(text="")])  # not every output is empty
    assert not default_should_cache(
        [good, Generation(text="cut", generation_info={"finish_reason": "length"})]
    )


def test_parse_should_cache():
    assert parse_should_cache(None) is default_should_cache

    def custom(generations):
        return True

    assert parse_should_cache(custom) is custom
    with pytest.raises(ConfigurationError, match="should_cache must be a callable"):
        parse_should_cache("yes")  # type: ignore[arg-type]


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value", ["text", b"bytes", None, 3, {"text": "x"}, ("a",), [None], [AIMessage("x")]]
)
def test_anything_but_a_list_of_generations_is_a_type_error(value):
    with pytest.raises(TypeError, match="return_val must be a list of"):
        check_generations(value)


def test_lists_and_tuples_of_generations_of_every_type_pass():
    check_generations([])
    check_generations((Generation(text="x"),))
    check_generations(
        [
            Generation(text="a"),
            GenerationChunk(text="b"),
            ChatGeneration(message=AIMessage("c")),
            ChatGenerationChunk(message=AIMessageChunk(content="d")),
        ]
    )


# -- write sizes and setup retries -----------------------------------------------------------
def test_write_size_counts_blobs_utf8_text_and_vectors():
    assert write_size(()) == 0
    assert write_size(("", b"\x00" * 32, b"x" * 1000, 3600)) == 1032
    assert write_size(("abc",)) == 3
    assert write_size(("é€😀",)) == 2 + 3 + 4
    assert write_size(("\ud800",)) == 3  # a lone surrogate never raises
    assert write_size(([0.1] * 384, bytearray(10), memoryview(b"12"))) == 4 * 384 + 12
    assert write_size((None, 1.5, True)) == 0


def test_setup_retries_back_off_to_a_minute():
    delays = [setup_retry_delay(n) for n in range(1, 10)]
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert delays == sorted(delays)
    assert delays[-1] == SETUP_RETRY_MAX == 60.0
    assert setup_retry_delay(0) == 1.0
    assert setup_retry_delay(10_000) == SETUP_RETRY_MAX


# -- all options -----------------------------------------------------------------------------
def test_the_defaults():
    options = resilience()
    assert options.fail_open
    assert options.request_timeout == DEFAULT_REQUEST_TIMEOUT == 1.0
    assert isinstance(options.breaker, CircuitBreaker)
    assert (options.breaker.failure_threshold, options.breaker.cool_down) == (5, 5.0)
    assert options.read_consistency == ConsistencyLevel.LOCAL_ONE
    assert options.write_consistency == ConsistencyLevel.LOCAL_QUORUM
    assert options.max_value_bytes == DEFAULT_MAX_VALUE_BYTES == 4 * 1024 * 1024
    assert options.should_cache is default_should_cache
    assert options.describe() == ""


def test_every_option_is_validated_and_described():
    breaker = CircuitBreaker(failure_threshold=2, cool_down=1.0)
    options = resilience(
        on_error="raise",
        request_timeout=0.25,
        circuit_breaker=breaker,
        read_consistency="quorum",
        write_consistency=ConsistencyLevel.ALL,
        max_value_bytes=1000,
    )
    assert not options.fail_open
    assert options.breaker is breaker
    assert options.describe() == (
        "on_error='raise', request_timeout=0.25, read_consistency='QUORUM', "
        "write_consistency='ALL', max_value_bytes=1000"
    )
    assert resilience(circuit_breaker=False).describe() == "circuit_breaker=False"
    assert resilience(max_value_bytes=None).describe() == "max_value_bytes=None"
    assert Resilience().breaker is None  # the bare bundle (a Store without a policy) has none
    with pytest.raises(ConfigurationError, match="read_consistency cannot be ANY"):
        resilience(read_consistency="ANY")


def test_each_cache_gets_its_own_default_breaker():
    assert resilience().breaker is not resilience().breaker
