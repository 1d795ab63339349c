"""The layer map in ARCHITECTURE.md, checked: no module imports a higher layer, no import cycle.

Every ``import`` statement in the package counts, including those inside functions and under
``TYPE_CHECKING``: a lazy import is still a dependency, and a cycle through one is still a cycle.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import cassandra_llm_cache

PACKAGE = "cassandra_llm_cache"
ROOT = Path(cassandra_llm_cache.__file__).parent

# Lowest first; a module may import its own layer and the layers below it, never above.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("_errors", "_version")),
    ("values", ("_values",)),
    ("policy", ("_policy",)),
    ("storage", ("_storage",)),
    ("semantic internals", ("_semantic",)),
    ("caches", ("exact", "semantic", "embeddings", "streaming", "near")),
    ("tools", ("__init__", "testing", "server", "cli", "demo", "admin", "bench", "eval")),
]

# Modules users import (besides everything in __all__); they must keep working.
DOCUMENTED_MODULES = [
    "cassandra_llm_cache.exact",
    "cassandra_llm_cache.semantic",
    "cassandra_llm_cache.embeddings",
    "cassandra_llm_cache.near",
    "cassandra_llm_cache.testing",
    "cassandra_llm_cache.server",
    "cassandra_llm_cache.admin",
    "cassandra_llm_cache.bench",
    "cassandra_llm_cache.eval",
    "cassandra_llm_cache.cli",
    "cassandra_llm_cache.demo",
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def layer_of(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    for rank, (_, prefixes) in enumerate(LAYERS):
        if top in prefixes:
            return rank
    raise AssertionError(f"{module} is in no layer: add it to ARCHITECTURE.md and LAYERS")


def imports_of(module: str) -> set[str]:
    """The package's modules that ``module`` imports (``from pkg import submodule`` resolved)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name != PACKAGE and not name.startswith(PACKAGE + "."):
                continue
            # The longest prefix that is one of our modules (``pkg.mod.Name`` -> ``pkg.mod``).
            candidate = name
            while candidate not in MODULES:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != module:
                found.add(candidate)
    # ``from pkg.sub import mod`` names both ``pkg.sub`` and ``pkg.sub.mod``; the package itself
    # is only a parent here, not a dependency of its own.
    return {name for name in found if not module.startswith(name + ".")}


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_higher_layer(module):
    own = layer_of(module)
    upward = sorted(name for name in GRAPH[module] if layer_of(name) > own)
    assert upward == [], f"{module} ({LAYERS[own][0]}) imports a higher layer: {upward}"


def reachable_from(module: str) -> set[str]:
    seen: set[str] = set()
    todo = list(GRAPH[module])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(GRAPH[name])
    return seen


def test_no_import_cycle():
    in_a_cycle = sorted(module for module in GRAPH if module in reachable_from(module))
    assert in_a_cycle == []


def test_values_do_no_io():
    """The values layer is pure: it never imports the driver or anything that talks to a network."""
    forbidden = ("cassandra", "socket", "asyncio", "ssl", "http", "urllib")
    for module, path in MODULES.items():
        if layer_of(module) != 1:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{module} imports {name}"


def test_each_subpackage_says_what_it_owns():
    for path in sorted(ROOT.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc, f"{path.parent.name}/__init__.py has no docstring"


def test_the_layers_are_the_ones_architecture_md_names():
    text = (ROOT.parents[1] / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for _, prefixes in LAYERS:
        for prefix in prefixes:
            if prefix != "__init__":
                assert f"`{prefix}" in text, f"ARCHITECTURE.md does not mention {prefix}"


def test_every_public_name_and_documented_module_imports():
    for name in cassandra_llm_cache.__all__:
        assert getattr(cassandra_llm_cache, name) is not None
    for module in DOCUMENTED_MODULES:
        assert importlib.import_module(module).__name__ == module


def test_the_checkers_see_what_they_look_for(monkeypatch):
    """Both checks are able to fail: a planted upward import and a planted cycle are reported."""
    exact, codec = f"{PACKAGE}.exact", f"{PACKAGE}._values.codec"
    assert codec in reachable_from(exact)
    assert codec not in reachable_from(codec)
    monkeypatch.setitem(GRAPH, codec, GRAPH[codec] | {exact})
    assert layer_of(exact) > layer_of(codec)
    assert codec in reachable_from(codec)
