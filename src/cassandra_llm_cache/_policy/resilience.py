"""Never break the app: error policy, timeouts, breaker, consistency, size limit, should_cache.

Everything here is pure (no I/O): the store asks these objects what to do and does it.

Defaults, and why (documented for users in docs/resilience.md):

- ``on_error="miss"``: a cache exists to save time and money, so by default a database failure
  turns ``lookup`` into a miss and ``update`` into a no-op; it is counted in ``stats()`` and logged
  without prompts or values. ``on_error="raise"`` raises :class:`CacheOperationError` instead.
- ``request_timeout=1.0`` seconds per database request (the driver's own default is 10 s). A
  healthy cluster answers a cache read in about a millisecond and a long GC pause lasts a few
  hundred milliseconds, while the LLM call a miss leads to takes one to tens of seconds: one second
  keeps a stalled cluster from adding more than that to any call, with a wide margin over normal
  latency.
- A circuit breaker: after ``failure_threshold=5`` consecutive failures the cache stops calling the
  database for ``cool_down=5.0`` seconds, then lets one probe through (half-open); a success closes
  it, a failure opens it again. While open a call costs a clock read, not a timeout.
- Consistency: reads ``LOCAL_ONE``, writes ``LOCAL_QUORUM``. A cache read only has to find an entry
  fast: a stale replica costs at worst one LLM call (a miss), never a wrong answer, and a read at
  ``LOCAL_ONE`` survives all but one replica being down. A write at ``LOCAL_QUORUM`` is
  acknowledged only once a majority of the local replicas hold it, so an acknowledged entry
  survives the loss of a node (the fault tests check: zero lost acknowledged writes with RF=3 while
  a node is killed); it is also the lowest level Astra DB accepts for writes. ``LOCAL_*`` levels
  never wait for another data centre: with several DCs each serves its own clients and replication
  fills the others asynchronously. Read-your-writes across replicas needs
  ``read_consistency="LOCAL_QUORUM"`` (R + W > RF). With RF=2, ``LOCAL_QUORUM`` needs both
  replicas: use ``LOCAL_ONE`` writes there.
- ``max_value_bytes=4 MiB`` (encoded, i.e. after compression): a larger value is not stored (a
  warning and a counter, never a failed call). The server rejects a mutation larger than half its
  ``commitlog_segment_size`` (32 MiB by default, so 16 MiB); 4 MiB leaves a wide margin (clusters
  configured with 16 MiB segments still accept it), is far more than any LLM response needs, and
  bounds the heap a single hit can cost.
- ``should_cache``: by default empty outputs and outputs whose finish reason says they were cut or
  filtered (``length``, ``max_tokens``, ``content_filter``, ``SAFETY``, ...) are not stored: a cache
  would replay them forever.
- A failed setup (ASYNC or OFF mode) under ``on_error="miss"``: calls are misses and no-ops until
  a retry succeeds; the first retry is 1 s after the failure was seen, then 2, 4, ... up to 60 s.

:class:`Resilience` bundles the validated options; ``_storage.store`` applies them to every call.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from langchain_core.outputs import ChatGeneration, Generation

from cassandra_llm_cache._errors import ConfigurationError

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

DEFAULT_REQUEST_TIMEOUT: Final = 1.0
DEFAULT_FAILURE_THRESHOLD: Final = 5
DEFAULT_COOL_DOWN: Final = 5.0
DEFAULT_READ_CONSISTENCY: Final = "LOCAL_ONE"
DEFAULT_WRITE_CONSISTENCY: Final = "LOCAL_QUORUM"
DEFAULT_MAX_VALUE_BYTES: Final = 4 * 1024 * 1024
# A client timeout above the server's own request timeouts (2-10 s) only hides a stuck cluster.
MAX_REQUEST_TIMEOUT: Final = 120.0
SETUP_RETRY_FIRST: Final = 1.0
SETUP_RETRY_MAX: Final = 60.0


# -- error policy ------------------------------------------------------------------------------
class ErrorPolicy(str, enum.Enum):
    """What a failed database call does: become a miss / no-op (default) or raise."""

    MISS = "miss"
    RAISE = "raise"


def parse_error_policy(value: ErrorPolicy | str) -> ErrorPolicy:
    """``"miss"``/``"raise"`` (or the enum) to :class:`ErrorPolicy`; anything else is an error."""
    if isinstance(value, ErrorPolicy):
        return value
    if isinstance(value, str):
        try:
            return ErrorPolicy(value.strip().lower())
        except ValueError:
            pass
    raise ConfigurationError(f"on_error must be 'miss' or 'raise', not {value!r}.")


# -- timeouts ----------------------------------------------------------------------------------
def parse_timeout(value: float, *, name: str = "request_timeout") -> float:
    """A positive, finite number of seconds no larger than :data:`MAX_REQUEST_TIMEOUT`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{name} must be a number of seconds, not {type(value).__name__}.")
    seconds = float(value)
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_REQUEST_TIMEOUT):
        raise ConfigurationError(
            f"{name} must be > 0 and <= {MAX_REQUEST_TIMEOUT:g} seconds, not {value!r}."
        )
    return seconds


# -- consistency -------------------------------------------------------------------------------
# Names and numbers of the native protocol (the same as cassandra.ConsistencyLevel), so this module
# needs no driver import.
CONSISTENCY_LEVELS: Final[Mapping[str, int]] = {
    "ANY": 0,
    "ONE": 1,
    "TWO": 2,
    "THREE": 3,
    "QUORUM": 4,
    "ALL": 5,
    "LOCAL_QUORUM": 6,
    "EACH_QUORUM": 7,
    "SERIAL": 8,
    "LOCAL_SERIAL": 9,
    "LOCAL_ONE": 10,
}
_LEVEL_NAMES: Final = {number: name for name, number in CONSISTENCY_LEVELS.items()}
_NOT_FOR_READS: Final = frozenset({"ANY", "EACH_QUORUM", "SERIAL", "LOCAL_SERIAL"})
_NOT_FOR_WRITES: Final = frozenset({"SERIAL", "LOCAL_SERIAL"})


def parse_consistency(value: str | int, *, for_writes: bool) -> int:
    """A consistency level name (any case) or driver ``ConsistencyLevel`` value, checked for use.

    SERIAL levels are for lightweight transactions, which the cache never uses; ``ANY`` and
    ``EACH_QUORUM`` are not valid for reads.
    """
    kind = "write_consistency" if for_writes else "read_consistency"
    name: str | None = None
    if isinstance(value, str):
        candidate = value.strip().upper()
        name = candidate if candidate in CONSISTENCY_LEVELS else None
    elif isinstance(value, int) and not isinstance(value, bool):
        name = _LEVEL_NAMES.get(value)
    if name is None:
        raise ConfigurationError(
            f"{kind} must be a consistency level such as 'LOCAL_QUORUM', not {value!r}."
        )
    if name in (_NOT_FOR_WRITES if for_writes else _NOT_FOR_READS):
        raise ConfigurationError(f"{kind} cannot be {name}.")
    return CONSISTENCY_LEVELS[name]


def consistency_name(level: int) -> str:
    return _LEVEL_NAMES.get(level, str(level))


# -- size limit --------------------------------------------------------------------------------
def parse_max_value_bytes(value: int | None) -> int | None:
    """A positive byte count, or ``None`` for no client-side limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(
            f"max_value_bytes must be a positive number of bytes or None, not {value!r}."
        )
    return value


def value_too_large(size: int, limit: int | None) -> bool:
    """True when a value of ``size`` encoded bytes must not be stored."""
    return limit is not None and size > limit


# -- circuit breaker ---------------------------------------------------------------------------
class BreakerState(str, enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerSnapshot:
    """A consistent view of a breaker, for ``stats()``."""

    state: BreakerState
    consecutive_failures: int
    times_opened: int
    rejected: int


class CircuitBreaker:
    """Stops calling a failing database, then probes it; thread-safe, cheap while open.

    ``failure_threshold`` consecutive failures open the breaker for ``cool_down`` seconds; then one
    call is let through (half-open). Its success closes the breaker, its failure re-opens it for
    another cool-down. A probe whose outcome is never reported (a caller that was cancelled) stops
    blocking others after one more cool-down. ``clock`` is injectable for tests.

    One breaker can be shared by several caches that use the same cluster.
    """

    def __init__(
        self,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        cool_down: float = DEFAULT_COOL_DOWN,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(failure_threshold, bool) or not isinstance(failure_threshold, int):
            raise ConfigurationError("failure_threshold must be an integer >= 1.")
        if failure_threshold < 1:
            raise ConfigurationError("failure_threshold must be an integer >= 1.")
        self.failure_threshold = failure_threshold
        self.cool_down = parse_timeout(cool_down, name="cool_down")
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._open_until = 0.0
        self._probe_deadline = 0.0
        self._times_opened = 0
        self._rejected = 0

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(failure_threshold={self.failure_threshold}, "
            f"cool_down={self.cool_down:g})"
        )

    @property
    def state(self) -> BreakerState:
        return self._state

    def allow(self) -> bool:
        """May a call go to the database now? While open, saying no costs a clock read, no lock."""
        state = self._state
        if state is BreakerState.CLOSED:
            return True
        now = self._clock()
        if state is BreakerState.OPEN and now < self._open_until:
            self._rejected += 1  # approximate under races: a statistic, not a decision
            return False
        with self._lock:
            allowed = self._allow_locked(now)
            if not allowed:
                self._rejected += 1
            return allowed

    def _allow_locked(self, now: float) -> bool:
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            if now < self._open_until:
                return False
            self._state = BreakerState.HALF_OPEN
            self._probe_deadline = now + self.cool_down
            return True
        # HALF_OPEN: one probe at a time; a probe that never reported is replaced.
        if now >= self._probe_deadline:
            self._probe_deadline = now + self.cool_down
            return True
        return False

    def record_success(self) -> bool:
        """Report a successful call; True if this closed an open or half-open breaker."""
        if self._state is BreakerState.CLOSED and self._failures == 0:
            return False
        with self._lock:
            was_closed = self._state is BreakerState.CLOSED
            self._state = BreakerState.CLOSED
            self._failures = 0
            return not was_closed

    def record_failure(self) -> bool:
        """Report a failed call; True if this opened the breaker."""
        with self._lock:
            self._failures += 1
            if self._state is BreakerState.OPEN:
                return False  # a call that started before the breaker opened
            if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
                self._state = BreakerState.OPEN
                self._open_until = self._clock() + self.cool_down
                self._times_opened += 1
                return True
            return False

    def reset(self) -> None:
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0

    def snapshot(self) -> BreakerSnapshot:
        with self._lock:
            return BreakerSnapshot(self._state, self._failures, self._times_opened, self._rejected)


def parse_circuit_breaker(value: CircuitBreaker | bool | None) -> CircuitBreaker | None:
    """``True``/unset: a breaker with the defaults; ``False``/``None``: none; or the given one."""
    if isinstance(value, CircuitBreaker):
        return value
    if value is True:
        return CircuitBreaker()
    if value is False or value is None:
        return None
    raise ConfigurationError(
        f"circuit_breaker must be a CircuitBreaker, True or False, not {type(value).__name__}."
    )


# -- should_cache ------------------------------------------------------------------------------
# Finish reasons that mean the output was cut short, filtered or failed, across providers:
# OpenAI-style length and content_filter; Anthropic max_tokens, refusal and pause_turn; Google
# MAX_TOKENS, SAFETY, RECITATION and friends; Bedrock guardrail_intervened and content_filtered;
# Mistral model_length and error; Cohere ERROR_TOXIC; Ollama length; the OpenAI Responses API
# status incomplete with reason max_output_tokens or content_filter. Compared in lower case.
CUT_FINISH_REASONS: Final = frozenset(
    {
        "length",
        "max_tokens",
        "max_output_tokens",
        "model_length",
        "model_context_window_exceeded",
        "content_filter",
        "content_filtered",
        "guardrail_intervened",
        "safety",
        "recitation",
        "blocklist",
        "prohibited_content",
        "spii",
        "image_safety",
        "malformed_function_call",
        "refusal",
        "pause_turn",
        "error",
        "error_toxic",
        "error_limit",
        "incomplete",
    }
)
# Where providers put the reason, in generation_info and in AIMessage.response_metadata.
FINISH_REASON_KEYS: Final = (
    "finish_reason",
    "stop_reason",
    "stopReason",
    "done_reason",
    "finishReason",
)


def _reason_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower()
    name = getattr(value, "name", None)  # provider enums, e.g. google FinishReason.MAX_TOKENS
    return name.lower() if isinstance(name, str) else str(value).lower()


def _reasons_in(metadata: Mapping[str, Any] | None) -> list[str]:
    # Runs on every update: absent keys cost one dict lookup each, no call (a plain dict, the
    # common case, skips the ABC check).
    if metadata is None or (type(metadata) is not dict and not isinstance(metadata, Mapping)):
        return []
    reasons = [
        _reason_name(value)
        for key in FINISH_REASON_KEYS
        if (value := metadata.get(key)) is not None
    ]
    if metadata.get("status") == "incomplete":
        reasons.append("incomplete")
    details = metadata.get("incomplete_details")
    if details is not None and isinstance(details, Mapping):
        reasons.append(_reason_name(details.get("reason")))
    return [reason for reason in reasons if reason]


def _cut_reason_in(metadata: Mapping[str, Any] | None) -> str | None:
    for reason in _reasons_in(metadata):
        if reason in CUT_FINISH_REASONS:
            return reason
    return None


def cut_reason(generation: Generation) -> str | None:
    """The finish reason that makes ``generation`` unfit for caching, if any."""
    found = _cut_reason_in(generation.generation_info)
    if found is None and isinstance(generation, ChatGeneration):
        return _cut_reason_in(generation.message.response_metadata)
    return found


def _content_is_empty(content: Any) -> bool:
    if isinstance(content, str):
        return not content.strip()
    if isinstance(content, list):
        return all(
            (isinstance(block, str) and not block.strip())
            or (
                isinstance(block, Mapping)
                and block.get("type") == "text"
                and not str(block.get("text") or "").strip()
            )
            for block in content
        )
    return content is None


def _message_is_empty(message: BaseMessage) -> bool:
    if not _content_is_empty(message.content):
        return False
    if getattr(message, "tool_calls", None) or getattr(message, "invalid_tool_calls", None):
        return False
    extra = message.additional_kwargs
    return not (extra.get("tool_calls") or extra.get("function_call") or extra.get("refusal"))


def generation_is_empty(generation: Generation) -> bool:
    """No text, and for chat: no content blocks and no tool or function calls."""
    if isinstance(generation, ChatGeneration):
        return _message_is_empty(generation.message)
    return not generation.text.strip()


def default_should_cache(return_val: Sequence[Generation]) -> bool:
    """Store unless the output is empty or any generation was cut short or filtered."""
    if not return_val:
        return False
    if all(generation_is_empty(generation) for generation in return_val):
        return False
    return all(cut_reason(generation) is None for generation in return_val)


ShouldCache = Callable[[Sequence[Generation]], bool]


def parse_should_cache(value: ShouldCache | None) -> ShouldCache:
    """``None`` means the default predicate; otherwise a callable taking the generations."""
    if value is None:
        return default_should_cache
    if not callable(value):
        raise ConfigurationError(
            "should_cache must be a callable taking the list of generations and returning a bool."
        )
    return value


# -- bad input -----------------------------------------------------------------------------------
def check_generations(return_val: object) -> None:
    """Raise a clear :class:`TypeError` unless ``return_val`` is a list (or tuple) of Generations.

    What LangChain passes to ``update`` is always a list; anything else is a programming error,
    reported whatever the error policy says.
    """
    if not isinstance(return_val, (list, tuple)):
        msg = (
            "return_val must be a list of langchain_core.outputs.Generation objects, "
            f"not {type(return_val).__name__}"
        )
        raise TypeError(msg)
    for generation in return_val:
        if not isinstance(generation, Generation):
            msg = (
                "return_val must be a list of langchain_core.outputs.Generation objects; "
                f"it contains a {type(generation).__name__}"
            )
            raise TypeError(msg)


def write_size(values: Sequence[object]) -> int:
    """Bytes the values of a write take on the server: blobs, UTF-8 text, 4 per vector element."""
    size = 0
    for value in values:
        if isinstance(value, (bytes, bytearray, memoryview)):
            size += len(value)
        elif isinstance(value, str):
            size += len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
        elif isinstance(value, list):
            size += 4 * len(value)
    return size


def setup_retry_delay(failures: int) -> float:
    """Seconds to wait before retrying a setup that failed ``failures`` times (1, 2, 4, ... 60)."""
    return min(SETUP_RETRY_MAX, SETUP_RETRY_FIRST * 2.0 ** min(max(failures - 1, 0), 16))


# -- all options of a cache ------------------------------------------------------------------------
@dataclass(frozen=True)
class Resilience:
    """A cache's validated resilience options (see :func:`resilience`)."""

    on_error: ErrorPolicy = ErrorPolicy.MISS
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    breaker: CircuitBreaker | None = None
    read_consistency: int = CONSISTENCY_LEVELS[DEFAULT_READ_CONSISTENCY]
    write_consistency: int = CONSISTENCY_LEVELS[DEFAULT_WRITE_CONSISTENCY]
    max_value_bytes: int | None = DEFAULT_MAX_VALUE_BYTES
    should_cache: ShouldCache = default_should_cache

    @property
    def fail_open(self) -> bool:
        """True under ``on_error="miss"``: failures become misses and no-ops."""
        return self.on_error is ErrorPolicy.MISS

    def describe(self) -> str:
        """The non-default options, for a cache's repr (no callables, no ids)."""
        parts = []
        if self.on_error is not ErrorPolicy.MISS:
            parts.append(f"on_error={self.on_error.value!r}")
        if self.request_timeout != DEFAULT_REQUEST_TIMEOUT:
            parts.append(f"request_timeout={self.request_timeout:g}")
        if self.breaker is None:
            parts.append("circuit_breaker=False")
        if self.read_consistency != CONSISTENCY_LEVELS[DEFAULT_READ_CONSISTENCY]:
            parts.append(f"read_consistency={consistency_name(self.read_consistency)!r}")
        if self.write_consistency != CONSISTENCY_LEVELS[DEFAULT_WRITE_CONSISTENCY]:
            parts.append(f"write_consistency={consistency_name(self.write_consistency)!r}")
        if self.max_value_bytes != DEFAULT_MAX_VALUE_BYTES:
            parts.append(f"max_value_bytes={self.max_value_bytes!r}")
        return ", ".join(parts)


def resilience(  # noqa: PLR0917 - each option is named by the caches' keyword-only arguments
    on_error: ErrorPolicy | str = ErrorPolicy.MISS,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    circuit_breaker: CircuitBreaker | bool | None = True,
    read_consistency: str | int = DEFAULT_READ_CONSISTENCY,
    write_consistency: str | int = DEFAULT_WRITE_CONSISTENCY,
    max_value_bytes: int | None = DEFAULT_MAX_VALUE_BYTES,
    should_cache: ShouldCache | None = None,
) -> Resilience:
    """Validate a cache's options; :class:`ConfigurationError` names the first bad one."""
    return Resilience(
        on_error=parse_error_policy(on_error),
        request_timeout=parse_timeout(request_timeout),
        breaker=parse_circuit_breaker(circuit_breaker),
        read_consistency=parse_consistency(read_consistency, for_writes=False),
        write_consistency=parse_consistency(write_consistency, for_writes=True),
        max_value_bytes=parse_max_value_bytes(max_value_bytes),
        should_cache=parse_should_cache(should_cache),
    )
