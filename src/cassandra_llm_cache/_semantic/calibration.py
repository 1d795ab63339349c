"""A calibrated threshold stored with the table, so that every process uses the same one (pure).

``cassandra-llm-cache calibrate --store`` writes the threshold into the table's ``comment``
option as a mark, e.g. ``cassandra-llm-cache semantic cache [score_threshold=0.9450 measure=cos
max_wrong=0.02]``. Every ``CassandraSemanticCache`` reads the comment with the table's schema
during setup (no extra request) and uses the mark's threshold unless its constructor got an
explicit ``score_threshold``. The comment, rather than a row, because it travels with the schema
the cache already reads, never shows up among the entries (export, stats, clear) and cannot
expire.

A threshold is stored with its measure: one calibrated for cosine means nothing to an ``l2``
cache, which then keeps its own default.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from cassandra_llm_cache._errors import ConfigurationError

__all__ = ["StoredThreshold", "parse", "with_mark"]

_MARK: Final = re.compile(
    r"\s*\[score_threshold=(?P<threshold>-?\d+(?:\.\d+)?) measure=(?P<measure>\w+)"
    r"(?: max_wrong=(?P<max_wrong>\d+(?:\.\d+)?))?\]"
)


@dataclass(frozen=True)
class StoredThreshold:
    """A threshold stored in a table's comment, on ``measure``'s scale."""

    threshold: float
    measure: str
    max_wrong: float | None = None

    def mark(self) -> str:
        text = f"[score_threshold={self.threshold:.4f} measure={self.measure}"
        if self.max_wrong is not None:
            text += f" max_wrong={self.max_wrong:g}"
        return text + "]"


def parse(comment: str) -> StoredThreshold | None:
    """The threshold marked in ``comment``, or None (no mark, or one that is not a number)."""
    match = _MARK.search(comment or "")
    if match is None:
        return None
    threshold = float(match["threshold"])
    if not math.isfinite(threshold):  # pragma: no cover - the pattern admits only finite numbers
        return None
    max_wrong = match["max_wrong"]
    return StoredThreshold(threshold, match["measure"], float(max_wrong) if max_wrong else None)


def with_mark(comment: str, stored: StoredThreshold | None) -> str:
    """``comment`` with its mark replaced by ``stored``'s (or removed, for None)."""
    if stored is not None and not math.isfinite(stored.threshold):
        raise ConfigurationError("a stored threshold must be a finite number")
    base = _MARK.sub("", comment or "").rstrip()
    if stored is None:
        return base
    return f"{base} {stored.mark()}" if base else stored.mark()
