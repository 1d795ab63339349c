"""One similar-prompt search as steps, without I/O: a window over the table, then the values.

Cassandra 5.0 answers an ANN query filtered on ``scope`` tens of milliseconds slower than the
same query unfiltered, and the gap grows with the table (on the 2-core benchmark machine, 5.0.9:
~7 ms against ~25 ms at 20,000 entries; the filtered query took over 10 s at 100,000). So a
search first asks for the table's ``width`` nearest entries, keys, scopes and similarities only:

- The entries of our scope in that window, in its order, are our nearest ones (the window is
  ranked over the whole table), so those above the threshold are the candidates; their values
  are then read by key, in one ``IN`` query of our namespace and model. No other scope's value
  is ever read.
- If the window is full and even its last entry is above the threshold, more of ours may lie
  beyond it: when it holds fewer candidates than wanted, the scope-filtered ANN query answers
  instead (slow, but exact about the scope).
- Otherwise an entry of ours outside the window is further than the window's last, so below the
  threshold: the window's answer is complete.

The statements are the layout's ``search_window``, ``fetch`` and ``search``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from cassandra_llm_cache._storage.rows import row_values

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from cassandra.query import PreparedStatement

    Step = tuple[PreparedStatement, tuple[object, ...]]

WINDOW_FACTOR: Final = 4
MIN_WINDOW: Final = 16
"""The window is ``max(MIN_WINDOW, WINDOW_FACTOR * wanted)`` entries (16 for the default 4)."""


def window_width(wanted: int) -> int:
    return max(MIN_WINDOW, WINDOW_FACTOR * wanted)


class SimilarSearch:
    """The steps of one search; feed each step's rows to the next method.

    ``keeps(similarity)`` says whether a server similarity is close enough to be a candidate
    (always True to list the nearest entries whatever their score).
    """

    __slots__ = ("_found", "_keeps", "_key", "_scope", "_statements", "_vector", "_wanted")

    def __init__(
        self,
        statements: Mapping[str, PreparedStatement],
        vector: list[float],
        *,
        key: tuple[str, bytes],
        scope: str,
        wanted: int,
        keeps: Callable[[float], bool],
    ) -> None:
        self._statements = statements
        self._vector = vector
        self._key = key
        self._scope = scope
        self._wanted = wanted
        self._keeps = keeps
        self._found: list[tuple[bytes, float]] | None = None

    def window(self) -> Step:
        """The first query: the table's nearest keys and scopes."""
        vector = self._vector
        return self._statements["search_window"], (vector, vector, window_width(self._wanted))

    def after_window(self, rows: Sequence[Any]) -> Step | None:
        """The query for the candidates' values (or the filtered search); None: no candidate."""
        window = [row_values(row) for row in rows]
        ours = [
            (prompt_key, float(similarity))
            for prompt_key, scope, similarity in window
            if scope == self._scope and similarity is not None and self._keeps(float(similarity))
        ]
        last = window[-1][2] if window else None
        beyond = (
            len(window) >= window_width(self._wanted)
            and last is not None
            and self._keeps(float(last))
        )
        if beyond and len(ours) < self._wanted:
            vector = self._vector
            return self._statements["search"], (vector, self._scope, vector, self._wanted)
        self._found = ours[: self._wanted]
        if not self._found:
            return None
        return self._statements["fetch"], (*self._key, [key for key, _ in self._found])

    def results(self, rows: Sequence[Any]) -> list[tuple[Any, ...]]:
        """``(prompt_key, body, guard, prompt, similarity)`` per candidate, nearest first."""
        if self._found is None:  # the filtered search answered
            return [row_values(row) for row in rows]
        by_key = {values[0]: values for values in map(row_values, rows)}
        return [(*by_key[key], similarity) for key, similarity in self._found if key in by_key]
