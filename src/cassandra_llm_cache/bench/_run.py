"""The whole benchmark run: set up every system, measure side by side, write the report."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import warnings
from typing import TYPE_CHECKING, Any

from cassandra_llm_cache.bench import _cache_scenarios, _e2e, _ours, _peers, _semantic
from cassandra_llm_cache.bench._analysis import scale_target, targets
from cassandra_llm_cache.bench._chart import write_chart
from cassandra_llm_cache.bench._environment import (
    driver_details,
    load_average,
    machine,
    now,
    package_versions,
    revision,
)
from cassandra_llm_cache.bench._floor import RawFloor
from cassandra_llm_cache.bench._measure import Result, Runner
from cassandra_llm_cache.bench._node import (
    Node,
    Where,
    connected,
    describe,
    describe_tables,
    progress,
)
from cassandra_llm_cache.bench._options import SECTIONS
from cassandra_llm_cache.bench._payloads import Payload, chat_payload
from cassandra_llm_cache.bench._report import markdown_section, write_json, write_markdown
from cassandra_llm_cache.bench._report_sections import SECTION_RENDERERS, write_block
from cassandra_llm_cache.bench._scenario import NO_CACHE, OURS_SEMANTIC, Scenario

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from cassandra_llm_cache.bench._cache_scenarios import CacheSubject
    from cassandra_llm_cache.bench._options import BenchOptions

JSON_NAME = "benchmarks.json"
MARKDOWN_NAME = "benchmarks.md"
CHART_NAME = "benchmarks.png"


class _Setup:
    """Everything built for the run, and how to tear it down."""

    def __init__(self, *, keep_tables: bool) -> None:
        self.keep_tables = keep_tables
        self.node: Node | None = None
        self.subjects: list[CacheSubject] = []
        self.skipped: list[dict[str, str]] = []
        self.closers: list[Callable[[], None]] = []

    def add(self, system: str, build: Callable[[], CacheSubject]) -> None:
        try:
            subject = build()
        except Exception as error:  # noqa: BLE001 - an unavailable peer is skipped with a note
            reason = f"{type(error).__name__}: {str(error)[:300]}"
            progress(f"skipping {system}: {reason}")
            self.skipped.append({"system": system, "reason": reason})
            return
        self.subjects.append(subject)
        if subject.close is not None:
            self.closers.append(subject.close)
        if not self.keep_tables:
            self.closers += [functools.partial(self.drop, table) for table in subject.tables]

    def drop(self, table: str) -> None:
        if self.node is not None:
            self.node.drop(table)

    def close(self) -> None:
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                close()


def _build_subjects(node: Node, options: BenchOptions, setup: _Setup) -> None:
    ttl, levels = options.ttl_seconds, options.concurrencies
    if options.wants("ours"):
        setup.add("cassandra-llm-cache", lambda: _ours.exact(node, ttl, levels))
    if options.wants("semantic"):
        setup.add(OURS_SEMANTIC, lambda: _semantic.subject(node, ttl, levels))
    if options.wants("legacy"):
        setup.add("legacy CassandraCache", lambda: _peers.legacy_cassandra(node, ttl, levels))
    if options.wants("redis"):
        setup.add("RedisCache", lambda: _peers.redis(ttl, levels))
    if options.wants("memory"):
        setup.add("InMemoryCache", _peers.in_memory)
    if options.wants("sqlite"):
        setup.add("SQLiteCache", _peers.sqlite)


def _scenarios_for(
    payload: Payload,
    space: int,
    options: BenchOptions,
    floor: RawFloor | None,
    setup: _Setup,
) -> list[Scenario]:
    found: list[Scenario] = []
    count = options.keys
    if floor is not None:
        floor.fill(payload, space, count)
        found += floor.scenarios(payload, space, count, options.concurrencies)
    for subject in setup.subjects:
        if subject.system == OURS_SEMANTIC:
            _semantic.register(subject, payload, count, seed=space + 1)
        _cache_scenarios.fill(subject, payload, count)
        found += _cache_scenarios.scenarios(subject, payload, count)
        if subject.system == OURS_SEMANTIC:
            found += _semantic.similar_scenarios(subject, payload, count)
    if options.wants("e2e"):
        e2e: list[tuple[str, Any]] = [(s.system, s.cache) for s in setup.subjects]
        e2e.append((NO_CACHE, False))
        for system, cache in e2e:
            model = _e2e.model_for(cache, payload)
            if cache is not False:
                _e2e.fill(model, payload, count)
            found += _e2e.scenarios(system, model, payload, count)
    return found


def _document_base(options: BenchOptions, node: Node) -> dict[str, Any]:
    return {
        "generated": now(),
        "options": {
            "sizes_kb": list(options.sizes_kb),
            "repetitions": options.repetitions,
            "sync_ops": options.sync_ops,
            "async_ops": options.async_ops,
            "keys": options.keys,
            "concurrencies": list(options.concurrencies),
            "systems": list(options.systems),
            "ttl_seconds": options.ttl_seconds,
            "quick": options.quick,
            "sections": list(options.sections),
            "only": options.only,
        },
        "machine": machine(),
        "packages": package_versions(),
        "driver": driver_details(node.session),
        "node": describe(node),
        "load_average": {"before": load_average()},
    }


def execute(options: BenchOptions) -> dict[str, Any]:
    """Run the benchmark and return the report document (also written if ``output_dir``)."""
    loop = asyncio.new_event_loop()
    where = Where(
        options.contact_points,
        options.port,
        options.node_dir,
        options.storage_port,
        options.heap,
    )
    try:
        with connected(where, options.keyspace) as node:
            setup = _Setup(keep_tables=options.keep_tables)
            setup.node = node
            try:
                return _run_on(node, options, setup, loop)
            finally:
                setup.close()  # while the session is open: the run's tables are dropped with it
    finally:
        loop.close()


def _run_on(
    node: Node, options: BenchOptions, setup: _Setup, loop: asyncio.AbstractEventLoop
) -> dict[str, Any]:
    document = _document_base(options, node)
    progress(f"Cassandra {document['node']['release_version']} ({node.origin})")
    if not options.only:
        _main_parts(document, node, options, setup, loop)
    for section in SECTIONS:
        if options.runs(section):
            document[section] = _section_part(section, document, node, options, setup, loop)
    document["load_average"]["after"] = load_average()
    return document


def _main_parts(
    document: dict[str, Any],
    node: Node,
    options: BenchOptions,
    setup: _Setup,
    loop: asyncio.AbstractEventLoop,
) -> None:
    """Everything but the sections: the side-by-side scenarios, tails, scale runs."""
    floor = None
    if options.wants("raw"):
        floor = RawFloor(node, ttl_seconds=options.ttl_seconds, table_options=_ours.table_options())
    if floor is not None and not options.keep_tables:
        setup.closers.append(floor.drop)
    _build_subjects(node, options, setup)
    payloads = [chat_payload(size * 1024) for size in options.sizes_kb]
    scenarios: list[Scenario] = []
    for space, payload in enumerate(payloads):
        progress(f"filling {options.keys} entries of {payload.label} per system")
        scenarios += _scenarios_for(payload, space, options, floor, setup)
    runner = Runner.from_options(loop, options)
    progress(f"measuring {len(scenarios)} scenarios x {options.repetitions} repetitions")
    results = runner.measure(scenarios, options.repetitions)
    document["tables"] = describe_tables(node)
    if options.profile and options.output_dir is not None:
        document["profiles"] = _profile(runner, scenarios, options)
    if options.profile:
        document["tails"] = _tails_part(node, scenarios, payloads, options)
    document.update(_results_part(results, payloads, options, setup))
    if options.scale_entries:
        document["scale"] = _scale_part(node, options, loop)
    if options.semantic_scale_entries:
        document["semantic_scale"] = _semantic_scale_part(node, options, loop)


def _section_part(  # noqa: PLR0917 - the run's shared context, passed on as is
    section: str,
    document: dict[str, Any],
    node: Node,
    options: BenchOptions,
    setup: _Setup,
    loop: asyncio.AbstractEventLoop,
) -> dict[str, Any]:
    """One section's figures, with where they come from (it may be rewritten on its own later)."""
    before = load_average()
    started = now()
    try:
        if section == "streaming":
            found = _streaming_part(node, options, setup, loop)
        else:
            from cassandra_llm_cache.bench import _zipf

            found = _zipf.run_zipf(node, options, loop, setup.closers)
    except Exception as error:  # noqa: BLE001 - the rest of the report still gets written
        progress(f"{section} section failed: {type(error).__name__}: {error}")
        found = {"failed": f"{type(error).__name__}: {str(error)[:300]}"}
    command = "cassandra-llm-cache bench" + (f" --only {section}" if options.only else "")
    found["run"] = {
        "generated": started,
        "revision": revision(),
        "command": command + (" --quick" if options.quick else ""),
        "cassandra": document["node"]["release_version"],
        "load_average": {"before": before, "after": load_average()},
        "cores": document["machine"]["cores"],
    }
    return found


def _streaming_part(
    node: Node, options: BenchOptions, setup: _Setup, loop: asyncio.AbstractEventLoop
) -> dict[str, Any]:
    from cassandra_llm_cache.bench._streaming import run_streaming

    subject = _ours.exact(node, options.ttl_seconds, (), stem="streaming")
    if not options.keep_tables:
        setup.closers += [functools.partial(setup.drop, table) for table in subject.tables]
    return run_streaming(
        subject.cache,
        repetitions=options.repetitions,
        ops=max(20, options.sync_ops // 10),
        stored=min(options.keys, 200),
        loop=loop,
    )


def _profile(runner: Runner, scenarios: list[Scenario], options: BenchOptions) -> list[str]:
    """Profile the hit/read paths: raw floor, this cache and the legacy one on the first payload
    (sync and the lowest in-flight level), raw floor and this cache sync on the others."""
    from cassandra_llm_cache.bench._profile import profile_scenarios
    from cassandra_llm_cache.bench._scenario import HIT, LEGACY, OURS, RAW, READ

    first_payload = scenarios[0].payload if scenarios else ""
    levels = {1, min(options.concurrencies, default=1)}
    chosen = [
        s
        for s in scenarios
        if (
            s.payload == first_payload
            and (s.system, s.operation) in {(RAW, READ), (OURS, HIT), (LEGACY, HIT)}
            and s.concurrency in levels
        )
        or (
            s.payload != first_payload
            and (s.system, s.operation) in {(RAW, READ), (OURS, HIT)}
            and s.concurrency == 1
        )
    ]
    assert options.output_dir is not None
    paths = profile_scenarios(runner, chosen, options.sync_ops, options.output_dir / "profiles")
    progress(f"profiles: {', '.join(str(p) for p in paths) or 'pyinstrument not installed'}")
    return [p.name for p in paths]


TAIL_ROUNDS = 4
"""Alternating rounds of ``sync_ops`` operations per subject in the tail attribution."""


def _tails_part(
    node: Node, scenarios: list[Scenario], payloads: list[Payload], options: BenchOptions
) -> list[dict[str, Any]]:
    """Attribute the slowest 1% of sync point reads and sync hits (raw floor, this cache)."""
    from cassandra_llm_cache.bench import _tails
    from cassandra_llm_cache.bench._scenario import HIT, OURS, RAW, READ

    subjects: list[_tails.TailSubject] = []
    for payload in payloads:
        subjects += [
            _tails.TailSubject(RAW, READ, payload.label, s.sync_op)
            for s in scenarios
            if (s.system, s.operation, s.payload) == (RAW, READ, payload.label)
            and s.sync_op is not None
        ]
        if any(s.system == OURS for s in scenarios):  # built (not skipped) in this run
            # A cache object of its own on the measured table: its statistics then cover exactly
            # the operations attributed here (the database call without hashing and decoding).
            fresh = _ours.exact(node, options.ttl_seconds, ())
            hit = next(
                s
                for s in _cache_scenarios.scenarios(fresh, payload, options.keys)
                if s.operation == HIT
            )
            assert hit.sync_op is not None
            database = functools.partial(_lookup_latency, fresh.cache)
            subjects.append(_tails.TailSubject(OURS, HIT, payload.label, hit.sync_op, database))
    progress(f"tail attribution: {len(subjects)} sync scenarios x {TAIL_ROUNDS} rounds")
    return _tails.measure(subjects, rounds=TAIL_ROUNDS, ops=options.sync_ops)


def _lookup_latency(cache: Any) -> Any:
    """The database-call latencies of this project's cache's lookups so far."""
    return cache.stats().latency.get("lookup")


def _scale_part(
    node: Node, options: BenchOptions, loop: asyncio.AbstractEventLoop
) -> dict[str, Any] | None:
    from cassandra_llm_cache.bench._scale import run_scale

    def build(stem: str) -> CacheSubject:
        return _ours.exact(node, options.ttl_seconds, (), stem=stem)

    try:
        return run_scale(node, options, loop, build)
    except ImportError as error:
        progress(f"scale run skipped: {error}")
        return {"note": f"Not run: this project's cache is not importable ({error})."}
    except Exception as error:  # noqa: BLE001 - the rest of the report still gets written
        progress(f"scale run failed: {type(error).__name__}: {error}")
        return {"note": f"The scale run failed: {type(error).__name__}: {str(error)[:200]}"}


def _semantic_scale_part(
    node: Node, options: BenchOptions, loop: asyncio.AbstractEventLoop
) -> dict[str, Any]:
    try:
        return _semantic.run_semantic_scale(node, options, loop)
    except ImportError as error:
        progress(f"semantic scale run skipped: {error}")
        return {"note": f"Not run: the semantic cache is not importable ({error})."}
    except Exception as error:  # noqa: BLE001 - the rest of the report still gets written
        progress(f"semantic scale run failed: {type(error).__name__}: {error}")
        return {
            "note": f"The semantic scale run failed: {type(error).__name__}: {str(error)[:200]}"
        }


def _results_part(
    results: list[Result], payloads: list[Payload], options: BenchOptions, setup: _Setup
) -> dict[str, Any]:
    rows = [result.as_dict() for result in results]
    labels = [payload.label for payload in payloads]
    found_targets = targets(rows, labels, options.concurrencies)
    return {
        "payloads": [{"label": p.label, "bytes": p.size} for p in payloads],
        "results": rows,
        "failures": [{"key": r.scenario.key, "error": r.error} for r in results if r.error],
        "skipped": setup.skipped,
        "fidelity": {s.system: s.fidelity for s in setup.subjects},
        "targets": found_targets,
        "scale": None,
        "semantic_scale": None,
    }


def _merged(path: Path, document: dict[str, Any], options: BenchOptions) -> dict[str, Any]:
    """An ``--only`` run's sections put into the report already there (the rest kept as is)."""
    kept: dict[str, Any] = {}
    if path.exists():
        with contextlib.suppress(ValueError):
            kept = json.loads(path.read_text())
    for section in options.sections:
        if section in document:
            kept[section] = document[section]
    return kept


def _write_sections(directory: Path, document: dict[str, Any], options: BenchOptions) -> None:
    for section in options.sections:
        if section in document:
            write_block(directory / MARKDOWN_NAME, section, SECTION_RENDERERS[section](document))


def write_report(document: dict[str, Any], options: BenchOptions) -> None:
    if options.output_dir is None:
        return
    directory = options.output_dir
    directory.mkdir(parents=True, exist_ok=True)
    if options.only:
        write_json(directory / JSON_NAME, _merged(directory / JSON_NAME, document, options))
        _write_sections(directory, document, options)
        names = ", ".join(options.sections)
        progress(f"wrote the {names} section(s) of {directory / MARKDOWN_NAME} and {JSON_NAME}")
        return
    write_json(directory / JSON_NAME, document)  # first: the raw figures survive any later bug
    scale = scale_target(document.get("scale"))
    if scale is not None and scale not in document["targets"]:
        document["targets"].append(scale)
        write_json(directory / JSON_NAME, document)
    chart = CHART_NAME if write_chart(directory / CHART_NAME, document) else None
    write_markdown(directory / MARKDOWN_NAME, markdown_section(document, chart))
    _write_sections(directory, document, options)
    progress(f"wrote {directory / MARKDOWN_NAME}, {JSON_NAME}" + (f", {chart}" if chart else ""))


def run(options: BenchOptions) -> dict[str, Any]:
    with warnings.catch_warnings():
        # Peers warn on import (langchain-community's sunset) or per call; the measured path is
        # the same either way, and the report should not be buried in warnings.
        warnings.simplefilter("ignore")
        document = execute(options)
    write_report(document, options)
    for target in document.get("targets", []):
        state = {True: "met", False: "NOT MET", None: "not measured"}[target["met"]]
        measured = "-" if target["measured"] is None else f"{target['measured']:.2f}x"
        progress(
            f"{target['target']} [{target['payload']}]: {measured} "
            f"({target['comparison']} {target['limit']}x) {state}"
        )
    return document
