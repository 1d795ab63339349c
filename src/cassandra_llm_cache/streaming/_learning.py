"""How ``CachedChatModel`` and ``CachedLLM`` teach a semantic cache with ``max_wrong_rate`` its
per-entry bounds (both through ``_core``: one ``Learner`` per wrapper, one ``Lesson`` per prompt).

The cache decides what it serves (``_semantic.adaptive``); only the wrapper can call the model,
so only it can find out whether a similar entry's answer was right. Two moments give an
observation:

* the cache refused a candidate (too little evidence): the request is a miss, the model answers
  anyway, and the fresh answer judged against the refused entry's is an observation for free;
* the cache served a candidate that is not yet *certain* (only the conservative threshold let it
  through): with probability ``explore`` the wrapper calls the model anyway (an extra model call,
  counted in :class:`LearningStats`), serves the fresh answer and records the verdict.

The coupling is one duck-typed check: a cache with ``lookup_adaptive``/``observe`` (and their
async twins) and a ``max_wrong_rate`` that is not None; any other ``BaseCache`` is used as before.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache._semantic.adaptive import check_explore, same_answer
from cassandra_llm_cache.streaming._common import usable

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.caches import BaseCache
    from langchain_core.outputs import Generation

DEFAULT_EXPLORE = 0.1


@dataclass(frozen=True)
class LearningStats:
    """What a wrapper did to teach its cache, since it was made."""

    checks: int = 0
    """Extra model calls: served hits that were explored (the model ran although it hit)."""
    observations: int = 0
    """Verdicts recorded in the cache (explored hits plus refused candidates on a miss)."""
    judged_wrong: int = 0
    """Of those, how many the judge found different from the cached answer."""


@dataclass(frozen=True)
class _Probe:
    document_id: str
    score: float
    cached: str


class Learner:
    """One wrapper's learning options, random source and counters (thread-safe)."""

    def __init__(
        self,
        explore: object = DEFAULT_EXPLORE,
        judge: Callable[[str, str], bool] | None = None,
        seed: int | None = None,
    ) -> None:
        self.explore = check_explore(explore)
        if judge is not None and not callable(judge):
            raise ConfigurationError("judge must be a callable (cached answer, new answer) -> bool")
        self._judge = judge if judge is not None else same_answer
        self._random = random.Random(seed)  # noqa: S311 - sampling, not security
        self._lock = threading.Lock()
        self._counts = [0, 0, 0]

    def lesson(self, cache: BaseCache | None, prompt: str, llm_string: str) -> Lesson | None:
        """A request's learning, or None when ``cache`` is not learning (the usual path)."""
        if cache is None or getattr(cache, "max_wrong_rate", None) is None:
            return None
        if not all(
            callable(getattr(cache, name, None))
            for name in ("lookup_adaptive", "alookup_adaptive", "observe", "aobserve")
        ):
            return None
        return Lesson(self, cache, prompt, llm_string)

    def stats(self) -> LearningStats:
        with self._lock:
            checks, observations, wrong = self._counts
        return LearningStats(checks, observations, wrong)

    def _explores(self) -> bool:
        with self._lock:
            explored = self._random.random() < self.explore
            if explored:
                self._counts[0] += 1
        return explored

    def _verdict(self, probe: _Probe, fresh: list[Generation]) -> bool:
        right = bool(self._judge(probe.cached, fresh[0].text))
        with self._lock:
            self._counts[1] += 1
            if not right:
                self._counts[2] += 1
        return right


class Lesson:
    """One request's adaptive lookup and, after the model ran, its observation."""

    def __init__(self, learner: Learner, cache: Any, prompt: str, llm_string: str) -> None:
        self._learner = learner
        self._cache = cache
        self._prompt = prompt
        self._llm_string = llm_string
        self._probe: _Probe | None = None
        self.explored = False
        """The cache had a hit, but the model is called to check it."""

    def lookup(self) -> list[Generation] | None:
        return self._found(self._cache.lookup_adaptive(self._prompt, self._llm_string))

    async def alookup(self) -> list[Generation] | None:
        return self._found(await self._cache.alookup_adaptive(self._prompt, self._llm_string))

    def observe(self, fresh: list[Generation]) -> None:
        """Judge the model's ``fresh`` answer against the probed entry's and record it."""
        probe = self._probe
        if probe is not None and fresh:
            right = self._learner._verdict(probe, fresh)  # noqa: SLF001 - its own learner
            self._cache.observe(probe.document_id, probe.score, right)

    async def aobserve(self, fresh: list[Generation]) -> None:
        """Async :meth:`observe`."""
        probe = self._probe
        if probe is not None and fresh:
            right = self._learner._verdict(probe, fresh)  # noqa: SLF001 - its own learner
            await self._cache.aobserve(probe.document_id, probe.score, right)

    def _found(self, outcome: Any) -> list[Generation] | None:
        hit, refused = outcome.hit, outcome.refused
        if hit is not None:
            if hit.certain or not self._learner._explores():  # noqa: SLF001 - its own learner
                return hit.generations if usable(hit.generations) else None
            self.explored = True
            self._probe = _probe(hit)
            return None
        if refused is not None:
            self._probe = _probe(refused)
        return None


def _probe(hit: Any) -> _Probe | None:
    generations = hit.generations
    if not usable(generations):
        return None
    return _Probe(hit.document_id, float(hit.score), generations[0].text)
