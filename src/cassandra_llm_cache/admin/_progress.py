"""A small progress bar on stderr (no dependency).

On a terminal it redraws one line at most ten times a second; otherwise (a pipe, a CI log) it
prints nothing until :meth:`Progress.close`, which prints the final line once.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Final, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable

BAR_WIDTH: Final = 24
REDRAW_SECONDS: Final = 0.1


def render(label: str, done: float, total: float | None, detail: str) -> str:
    """One line: ``label  42% |##########..............| detail`` (no percent if no total)."""
    if total:
        fraction = min(max(done / total, 0.0), 1.0)
        filled = round(fraction * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        return f"{label} {fraction * 100:3.0f}% |{bar}| {detail}"
    return f"{label} {detail}"


class Progress:
    """Thread-safe progress of one long command."""

    def __init__(
        self,
        label: str,
        total: float | None = None,
        *,
        describe: Callable[[float, float], str] | None = None,
        stream: TextIO | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._label = label
        self._total = total
        self._describe = describe or (lambda done, seconds: f"{done:,.0f} in {seconds:.1f} s")
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = enabled
        self._live = enabled and self._stream.isatty()
        self._clock = clock
        self._started = clock()
        self._last_draw = 0.0
        self._done = 0.0
        self._lock = threading.Lock()
        self._closed = False

    @property
    def done(self) -> float:
        return self._done

    def advance(self, amount: float = 1) -> None:
        with self._lock:
            self._done += amount
            if self._live:
                now = self._clock()
                if now - self._last_draw >= REDRAW_SECONDS:
                    self._last_draw = now
                    self._draw("\r")

    def line(self) -> str:
        seconds = self._clock() - self._started
        return render(self._label, self._done, self._total, self._describe(self._done, seconds))

    def close(self, summary: str | None = None) -> None:
        """Print the final line (``summary`` appended, if given) once."""
        with self._lock:
            if self._closed or not self._enabled:
                self._closed = True
                return
            self._closed = True
            text = self.line() + (f" - {summary}" if summary else "")
            prefix = "\r" if self._live else ""
            self._stream.write(f"{prefix}{text}\x1b[K\n" if self._live else f"{text}\n")
            self._stream.flush()

    def _draw(self, prefix: str) -> None:
        self._stream.write(f"{prefix}{self.line()}\x1b[K")
        self._stream.flush()
