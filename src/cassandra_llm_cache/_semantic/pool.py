"""Observations pooled across a model's entries by similarity band, for ``max_wrong_rate``.

An entry learns its own bound only from requests that came near *it*, and most entries are
asked in few wordings: their own evidence rarely reaches ``MIN_OBSERVATIONS``. Every observation
is therefore also recorded in its model's pool, one Cassandra partition per band of
``BAND_WIDTH`` similarity (the observations table, under a prompt key no entry can have), so
that what all entries' requests showed at a similarity can vouch for a candidate at that
similarity whose own evidence is still thin (``adaptive.decide``).

Reading up to six partitions per candidate would double a lookup's requests, so each cache keeps
this process's copy of the bands it decided with (:class:`PooledEvidence`): a band is read from
Cassandra when first needed and again once it is ``POOL_REFRESH`` seconds old, and the
process's own observations are added to its copy as they are written. Other processes'
observations thus count after at most ``POOL_REFRESH`` seconds; a process's own, at once.
"""

from __future__ import annotations

import math
import struct
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from cassandra_llm_cache._semantic.adaptive import WINDOW, Observation

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from cassandra_llm_cache._semantic.similarity import Measure

__all__ = ["BAND_WIDTH", "POOL_PREFIX", "POOL_REFRESH", "PooledEvidence", "band", "pool_key"]

BAND_WIDTH: Final = 0.01
"""The width of a pool band on the measure's scale (0.01 of cosine)."""
POOL_REFRESH: Final = 10.0
"""Seconds after which this process re-reads a band (to see other processes' observations)."""
POOL_PREFIX: Final = b"\x00pool"
"""The start of a pool band's prompt key: 9 bytes in all, never the 16 or 32 of a digest."""
POOL_READ: Final = 1000
"""The newest observations of a band kept (the observations statement's LIMIT)."""
MAX_MODELS: Final = 256
"""Models (``llm_string`` digests) whose bands one cache keeps; the least recently used go."""


def band(similarity: float) -> int:
    """The band holding ``similarity`` (its floor in units of ``BAND_WIDTH``)."""
    # The small nudge keeps 0.97 in band 97 despite 0.97 / 0.01 = 96.99999999999999.
    return math.floor(similarity / BAND_WIDTH + 1e-9)


def pool_key(number: int) -> bytes:
    """The prompt key of band ``number``'s partition in the observations table."""
    return POOL_PREFIX + struct.pack(">i", number)


def bands_for(score: float, measure: Measure) -> range:
    """The bands that can hold evidence for a candidate at ``score``: ``score`` and up to
    ``WINDOW`` farther (lower for similarities, higher for distances)."""
    farther = score - WINDOW if measure.higher_is_closer else score + WINDOW
    return range(band(min(score, farther)), band(max(score, farther)) + 1)


class PooledEvidence:
    """This process's copy of pooled observations, per model digest and band (thread-safe).

    ``clock`` is injectable so the refresh can be tested without sleeping.
    """

    def __init__(
        self, refresh: float = POOL_REFRESH, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._refresh = refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._models: OrderedDict[bytes, dict[int, tuple[float, list[Observation]]]] = OrderedDict()

    def stale(self, llm_key: bytes, bands: Iterable[int]) -> list[int]:
        """Of ``bands``, those never read for ``llm_key`` or read ``refresh`` seconds ago."""
        now = self._clock()
        with self._lock:
            known = self._models.get(llm_key, {})
            return [
                number
                for number in bands
                if number not in known or now - known[number][0] >= self._refresh
            ]

    def store(self, llm_key: bytes, number: int, observations: Iterable[Observation]) -> None:
        """Band ``number``'s observations as just read from Cassandra (newest first)."""
        kept = list(observations)[:POOL_READ]
        now = self._clock()
        with self._lock:
            self._model(llm_key)[number] = (now, kept)

    def add(self, llm_key: bytes, observation: Observation) -> None:
        """An observation this process just wrote: counted at once if its band is kept."""
        number = band(observation.similarity)
        with self._lock:
            known = self._models.get(llm_key)
            if known is None or number not in known:
                return  # read in full when first needed, this observation with it
            read_at, seen = known[number]
            known[number] = (read_at, [observation, *seen][:POOL_READ])

    def evidence(self, llm_key: bytes, bands: Iterable[int]) -> list[Observation]:
        """The kept observations of ``bands`` (the caller filters them by exact similarity)."""
        with self._lock:
            known = self._models.get(llm_key)
            if known is None:
                return []
            self._models.move_to_end(llm_key)
            return [seen for number in bands for seen in known.get(number, (0.0, []))[1]]

    def clear(self) -> None:
        """Forget every band (after the cache cleared its observations)."""
        with self._lock:
            self._models.clear()

    def _model(self, llm_key: bytes) -> dict[int, tuple[float, list[Observation]]]:
        known = self._models.get(llm_key)
        if known is None:
            known = self._models[llm_key] = {}
            while len(self._models) > MAX_MODELS:
                self._models.popitem(last=False)
        self._models.move_to_end(llm_key)
        return known
