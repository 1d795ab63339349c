"""The wrappers' options, checked once in the constructor (``ConfigurationError`` when invalid).

Kept apart from the wrappers so that the chat and text-completion classes parse them identically.
"""

from __future__ import annotations

import math
from typing import Final, Literal

from cassandra_llm_cache._errors import ConfigurationError

Coalesce = Literal["process", "cluster"]

DEFAULT_LEASE_SECONDS: Final = 60.0
MAX_LEASE_SECONDS: Final = 86_400
"""How long a cluster lease lasts: a leader that dies silently holds followers up this long."""


def parse_coalesce(value: object) -> Coalesce | None:
    """``"process"`` (default), ``"cluster"``, or ``None``/``"none"`` (every call on its own)."""
    if value is None or value == "none":
        return None
    if value == "process":
        return "process"
    if value == "cluster":
        return "cluster"
    raise ConfigurationError("coalesce must be 'process', 'cluster' or None ('none')")


def parse_replay(value: object) -> float:
    """The factor applied to recorded gaps between chunks: ``"instant"`` 0, ``"recorded"`` 1."""
    if value == "instant":
        return 0.0
    if value == "recorded":
        return 1.0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        scale = float(value)
        if math.isfinite(scale) and scale >= 0:
            return scale
    raise ConfigurationError(
        "replay must be 'instant', 'recorded' or a finite number >= 0 scaling the recorded pace"
    )


def parse_lease_seconds(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if math.isfinite(seconds) and 1 <= seconds <= MAX_LEASE_SECONDS:
            return seconds
    raise ConfigurationError("lease_seconds must be a number of seconds between 1 and 86400")
