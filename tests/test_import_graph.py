"""The package's modules import each other one way: no cycle, counting imports inside functions too.

The graph is read from the source (every `import` statement, at any depth), not from a running
interpreter, so a cycle hidden by a function-level import is still a cycle here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "gpukeras"


def _modules() -> dict[str, Path]:
    """Module name → file for every module of the package (C extensions by their source file)."""
    found: dict[str, Path] = {}
    for path in (ROOT / PACKAGE).rglob("*"):
        if path.suffix not in (".py", ".c") or "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest package module `name` refers to (`a.b.C` → `a.b` when C is a class there)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """module → modules of the package it imports (module level and inside functions)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        if path.suffix != ".py":
            continue
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parent + ([base] if base else []))
                # `from pkg import sub` depends on the submodule itself when there is one.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                resolved = _resolve(target, modules) if target.startswith(PACKAGE) else None
                if resolved and resolved != module:
                    graph[module].add(resolved)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


# ARCHITECTURE.md's layers, lowest first: a module may import from its own layer and the ones before it.
LAYERS = [
    ("backend", ["gpukeras.backend"]),
    ("core", ["gpukeras.tensor", "gpukeras.autodiff", "gpukeras.random", "gpukeras.version", "gpukeras.tree",
              "gpukeras.naming", "gpukeras.keras_tensor", "gpukeras.tracing", "gpukeras.distribution"]),
    ("ops", ["gpukeras.ops"]),
    ("saving", ["gpukeras.saving"]),
    ("catalogues", ["gpukeras.activations", "gpukeras.dtype_policies", "gpukeras.initializers", "gpukeras.regularizers",
                    "gpukeras.constraints", "gpukeras.losses", "gpukeras.metrics", "gpukeras.optimizers"]),
    ("layers", ["gpukeras.layers"]),
    ("support", ["gpukeras.callbacks", "gpukeras.utils", "gpukeras.datasets", "gpukeras.preprocessing"]),
    ("trainers", ["gpukeras.trainers"]),
    ("models", ["gpukeras.models"]),
    ("applications", ["gpukeras.applications"]),
    ("entry points", ["gpukeras.demo", "gpukeras.bench", "gpukeras"]),
]


def layer_of(module: str) -> int:
    """Index in LAYERS of the most specific prefix naming `module`."""
    best = max(((len(p), i) for i, (_, prefixes) in enumerate(LAYERS) for p in prefixes
                if module == p or module.startswith(p + ".")), default=None)
    assert best is not None, f"{module} belongs to no layer of ARCHITECTURE.md"
    return best[1]


def _describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    return "; ".join(f"{a} -> {b}" for a in component for b in sorted(graph[a] & members))


@pytest.mark.any_backend
def test_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 50  # the whole package was read
    found = cycles(graph)
    assert not found, "import cycles: " + " | ".join(_describe(c, graph) for c in found)


@pytest.mark.any_backend
def test_dependencies_point_one_way() -> None:
    graph = import_graph()
    upward = [f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
              for a, targets in sorted(graph.items()) for b in sorted(targets) if layer_of(b) > layer_of(a)]
    assert not upward, "imports against the layering of ARCHITECTURE.md: " + "; ".join(upward)


@pytest.mark.any_backend
def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    source = "def f():\n    from gpukeras.models import model\n"
    tree = ast.parse(source)
    assert any(isinstance(n, ast.ImportFrom) for n in ast.walk(tree))  # function bodies are walked
