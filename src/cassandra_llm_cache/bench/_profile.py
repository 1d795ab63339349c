"""Where the time of a scenario goes: pyinstrument on the calling thread (``--profile``).

The driver's I/O thread is not sampled here (pyinstrument follows one thread); its share shows
as the gap between wall time and the sampled time, and in the CPU-per-operation figures.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from cassandra_llm_cache.bench._measure import Runner
    from cassandra_llm_cache.bench._scenario import Scenario


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def profile_scenarios(
    runner: Runner, scenarios: list[Scenario], ops: int, directory: Path
) -> list[Path]:
    """Profile each scenario for ``ops`` operations; write a tree and a flat listing per one."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for scenario in scenarios:
        profiler = Profiler(interval=0.0002, async_mode="enabled")
        profiler.start()
        runner.run_once(scenario, ops)
        profiler.stop()
        path = directory / f"{slug(scenario.key)}.txt"
        tree = profiler.output_text(unicode=False, color=False, short_mode=False)
        flat = profiler.output_text(unicode=False, color=False, flat=True)
        path.write_text(f"{scenario.key}, {ops} operations\n\n{tree}\n\nFlat (self time)\n{flat}")
        written.append(path)
    return written
