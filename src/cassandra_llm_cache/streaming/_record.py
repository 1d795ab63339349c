"""Chunk boundaries and timing of a streamed answer, kept with the cached entry.

Where: in the cached generation's ``generation_info``, under :data:`RECORDING_KEY`, as
``{"v": 1, "s": [sizes], "t": [milliseconds]}``. ``s`` is how many characters of text each chunk
carried (absent when the content was not a string) and ``t`` the milliseconds from the model call
to the first chunk, then between consecutive chunks. ``generation_info`` survives every cache
codec (it is plain JSON), is never shown by ``invoke`` on a hit of a bare LangChain model (a hit
returns the stored message, and the message does not carry ``generation_info``), and the wrappers
remove the key before anything reaches their callers; so an entry written while streaming serves
plain ``invoke`` calls unchanged, and entries written by plain calls simply have no recording.

Hits are marked for tracing with :data:`CACHE_MARK_KEY` in the returned generation's
``generation_info`` (which LangChain copies into a chat message's ``response_metadata``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

RECORDING_KEY: Final = "_llm_cache_stream"
"""The ``generation_info`` key holding a streamed entry's chunk boundaries and timing."""
CACHE_MARK_KEY: Final = "llm_cache"
"""``"hit"`` in ``generation_info`` (chat: ``response_metadata``) of answers from the cache."""
HIT: Final = "hit"
_FORMAT: Final = 1
_MAX_CHUNKS: Final = 100_000


@dataclass(frozen=True)
class Recording:
    """How a stream was cut and paced (see the module docstring)."""

    sizes: tuple[int, ...] | None
    times_ms: tuple[int, ...]

    @property
    def gaps_ms(self) -> tuple[int, ...]:
        """Milliseconds between consecutive chunks (one fewer than the chunks)."""
        return self.times_ms[1:]

    def to_plain(self) -> dict[str, Any]:
        plain: dict[str, Any] = {"v": _FORMAT, "t": list(self.times_ms)}
        if self.sizes is not None:
            plain["s"] = list(self.sizes)
        return plain


class ChunkRecorder:
    """Collects one stream's boundaries and timing as its chunks arrive."""

    __slots__ = ("_clock", "_last", "_sizes", "_times")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()
        self._sizes: list[int] | None = []
        self._times: list[int] = []

    def add(self, content: object) -> None:
        """One chunk arrived; ``content`` is its text (or its content blocks)."""
        now = self._clock()
        self._times.append(max(0, round((now - self._last) * 1000)))
        self._last = now
        if self._sizes is not None:
            if isinstance(content, str):
                self._sizes.append(len(content))
            else:
                self._sizes = None

    def recording(self) -> Recording:
        sizes = tuple(self._sizes) if self._sizes is not None else None
        return Recording(sizes=sizes, times_ms=tuple(self._times))


def read(info: Mapping[str, Any] | None) -> Recording | None:
    """The recording in ``generation_info``, or ``None`` (absent, or not one this release wrote)."""
    if not info:
        return None
    plain = info.get(RECORDING_KEY)
    if not isinstance(plain, dict) or plain.get("v") != _FORMAT:
        return None
    times = _counts(plain.get("t"))
    sizes = _counts(plain.get("s"))
    if times is None or ("s" in plain and (sizes is None or len(sizes) != len(times))):
        return None
    return Recording(sizes=sizes, times_ms=times)


def _counts(value: object) -> tuple[int, ...] | None:
    if (
        isinstance(value, list)
        and 0 < len(value) <= _MAX_CHUNKS
        and all(type(item) is int and item >= 0 for item in value)
    ):
        return tuple(value)
    return None


def with_recording(info: Mapping[str, Any] | None, recording: Recording) -> dict[str, Any]:
    return {**(info or {}), RECORDING_KEY: recording.to_plain()}


def without_recording(info: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``info`` minus the recording (``None`` if nothing else is left, or it was ``None``)."""
    if not info or RECORDING_KEY not in info:
        return dict(info) if info is not None else None
    rest = {key: value for key, value in info.items() if key != RECORDING_KEY}
    return rest or None


def served(info: Mapping[str, Any] | None, *, hit: bool) -> dict[str, Any] | None:
    """``info`` as a caller gets it: :func:`marked` for a hit, else :func:`without_recording`."""
    return marked(info) if hit else without_recording(info)


def marked(info: Mapping[str, Any] | None) -> dict[str, Any]:
    """``info`` without the recording and with the hit mark."""
    return {**(without_recording(info) or {}), CACHE_MARK_KEY: HIT}
