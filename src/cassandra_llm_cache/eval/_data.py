"""The evaluation data shipped with the package: paraphrase pairs and hard negatives.

- ``paraphrase_pairs.json``: 999 ``{"origin", "similar"}`` pairs (statements from machine-learning
  library docs, each with an LLM-written paraphrase), from the GPTCache project
  (``examples/benchmark/mock_data.json``), MIT licensed, Copyright (c) Zilliz: see
  ``paraphrase_pairs.LICENSE`` next to it.
- ``hard_negatives.jsonl``: pairs this project wrote: ``cached`` must NOT answer ``query``
  (reversed conversions, changed numbers, negations, swapped names, different constraints,
  opposites, swapped roles, different questions), plus ``same-meaning`` controls where it must.
  The ``dev`` pairs were written while the guard was developed; the ``holdout`` pairs were written
  afterwards and never used to tune it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Final

PARAPHRASE_FILE: Final = "paraphrase_pairs.json"
HARD_NEGATIVES_FILE: Final = "hard_negatives.jsonl"
SAME_MEANING: Final = "same-meaning"


@dataclass(frozen=True)
class ParaphraseSet:
    """Origins to cache, and queries with the origins that correctly answer each."""

    cached: tuple[str, ...]
    queries: tuple[tuple[str, frozenset[str]], ...]  # (query, correct cached origins)
    pairs: int  # pairs after removing duplicate origins


@dataclass(frozen=True)
class HardPair:
    """One written pair: may ``cached`` answer ``query``? (``same``)."""

    id: str
    kind: str
    cached: str
    query: str
    same: bool
    split: str  # "dev": written with the guard in view; "holdout": written before running it


def _read_text(name: str) -> str:
    return resources.files("cassandra_llm_cache.eval").joinpath(name).read_text(encoding="utf-8")


def _in_cached_half(origin: str) -> bool:
    """A fixed half of the origins, the same on every machine (not Python's salted hash)."""
    return hashlib.sha256(origin.encode()).digest()[0] % 2 == 0


def paraphrase_set(limit: int | None = None) -> ParaphraseSet:
    """Half the distinct origins cached; every paraphrase queried (``limit`` pairs at most)."""
    raw = json.loads(_read_text(PARAPHRASE_FILE))
    pairs: dict[str, str] = {}
    for item in raw:
        pairs.setdefault(item["origin"], item["similar"])
    chosen = list(pairs.items())[:limit] if limit is not None else list(pairs.items())
    cached = tuple(origin for origin, _ in chosen if _in_cached_half(origin))
    cached_set = set(cached)
    answers: dict[str, set[str]] = {}
    for origin, similar in chosen:
        answers.setdefault(similar, set())
        if origin in cached_set:
            answers[similar].add(origin)
    queries = tuple((query, frozenset(origins)) for query, origins in answers.items())
    return ParaphraseSet(cached=cached, queries=queries, pairs=len(chosen))


def hard_pairs(limit_per_kind: int | None = None) -> tuple[HardPair, ...]:
    """The written pairs, in file order (at most ``limit_per_kind`` of each kind and split)."""
    taken: dict[tuple[str, str], int] = {}
    result: list[HardPair] = []
    for line in _read_text(HARD_NEGATIVES_FILE).splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        pair = HardPair(
            item["id"], item["kind"], item["cached"], item["query"], item["same"], item["split"]
        )
        group = (pair.split, pair.kind)
        if limit_per_kind is not None and taken.get(group, 0) >= limit_per_kind:
            continue
        taken[group] = taken.get(group, 0) + 1
        result.append(pair)
    return tuple(result)


MULTILINGUAL_FILE: Final = "multilingual_near_misses.jsonl"


@dataclass(frozen=True)
class LanguagePair:
    """A written near miss (or same-meaning control) in a language other than English."""

    id: str
    lang: str
    kind: str
    cached: str
    query: str
    same: bool


def multilingual_pairs() -> tuple[LanguagePair, ...]:
    """German, French and Spanish pairs written for this project, to measure the guard's scope.

    Numbers, units, conversions, swapped and reordered names, negations and opposites, plus
    same-meaning controls; written while the guard's non-English words were added, so its
    figures on them are optimistic (as for the English dev pairs).
    """
    result = []
    for line in _read_text(MULTILINGUAL_FILE).splitlines():
        if line.strip():
            item = json.loads(line)
            result.append(
                LanguagePair(
                    item["id"],
                    item["lang"],
                    item["kind"],
                    item["cached"],
                    item["query"],
                    item["same"],
                )
            )
    return tuple(result)
