"""A run's raw results as JSON, so that a report can be rendered again without the node."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from cassandra_llm_cache.eval._adaptive_sim import AdaptiveOutcome, AdaptiveRun
from cassandra_llm_cache.eval._calibrate import ScoredPair
from cassandra_llm_cache.eval._data import LanguagePair, hard_pairs, paraphrase_set
from cassandra_llm_cache.eval._metrics import Candidate, Probe
from cassandra_llm_cache.eval._runner import Latency, RunResult
from cassandra_llm_cache.eval._simulation import PublicRun, Recording, Step
from cassandra_llm_cache.eval._traffic import StaticOutcome

if TYPE_CHECKING:
    from pathlib import Path

FORMAT = 3
READABLE = (2, 3)
"""Format 3 added the ``max_wrong_rate`` section (``adaptive``); a format-2 file has none."""


def save(result: RunResult, path: Path, *, limit: int | None, limit_per_kind: int | None) -> None:
    data: dict[str, Any] = {
        "format": FORMAT,
        "limit": limit,
        "limit_per_kind": limit_per_kind,
        "candidates": result.candidates,
        "server_version": result.server_version,
        "embedding_name": result.embedding_name,
        "embedding_calls": result.embedding_calls,
        "embedding_seconds": result.embedding_seconds,
        "lookup_with_embedding": asdict(result.lookup_with_embedding),
        "lookup_from_memo": asdict(result.lookup_from_memo),
        "load_average": result.load_average,
        "probes": [
            {
                "suite": probe.suite,
                "kind": probe.kind,
                "correct": sorted(probe.correct),
                "candidates": [[c.entry, c.score, c.guard_ok] for c in probe.candidates],
            }
            for probe in result.probes
        ],
        "public": [asdict(run) for run in result.public],
        "multilingual": [[asdict(pair), asdict(scored)] for pair, scored in result.multilingual],
        "adaptive": [asdict(run) for run in result.adaptive],
    }
    path.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")


def load(path: Path) -> RunResult:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") not in READABLE:
        raise ValueError(f"{path} is not a results file of this version")
    load_average = data["load_average"]
    return RunResult(
        probes=[
            Probe(
                item["suite"],
                item["kind"],
                frozenset(item["correct"]),
                tuple(Candidate(str(e), float(s), bool(ok)) for e, s, ok in item["candidates"]),
            )
            for item in data["probes"]
        ],
        paraphrases=paraphrase_set(data["limit"]),
        pairs=hard_pairs(data["limit_per_kind"]),
        candidates=int(data["candidates"]),
        server_version=str(data["server_version"]),
        embedding_name=str(data["embedding_name"]),
        embedding_calls=int(data["embedding_calls"]),
        embedding_seconds=float(data["embedding_seconds"]),
        lookup_with_embedding=Latency(**data["lookup_with_embedding"]),
        lookup_from_memo=Latency(**data["lookup_from_memo"]),
        load_average=tuple(load_average) if load_average else None,
        public=[_public_run(item) for item in data["public"]],
        multilingual=[
            (LanguagePair(**pair), ScoredPair(**scored)) for pair, scored in data["multilingual"]
        ],
        adaptive=[_adaptive_run(item) for item in data.get("adaptive", [])],
    )


def _adaptive_run(item: dict[str, Any]) -> AdaptiveRun:
    fields = {k: v for k, v in item.items() if k not in {"static", "adaptive"}}
    return AdaptiveRun(
        **fields,
        static=tuple(StaticOutcome(**outcome) for outcome in item["static"]),
        adaptive=tuple(AdaptiveOutcome(**outcome) for outcome in item["adaptive"]),
    )


def _public_run(item: dict[str, Any]) -> PublicRun:
    test = item["test"]
    steps = tuple(
        Step(
            int(step["question"]),
            tuple(
                Candidate(str(c["entry"]), float(c["score"]), bool(c["guard_ok"]))
                for c in step["candidates"]
            ),
        )
        for step in test["steps"]
    )
    return PublicRun(
        dataset=str(item["dataset"]),
        source=str(item["source"]),
        calibration=tuple(ScoredPair(**pair) for pair in item["calibration"]),
        test=Recording(str(test["dataset"]), str(test["split"]), steps),
        test_pairs=int(item["test_pairs"]),
        test_same_pairs=int(item["test_same_pairs"]),
    )
