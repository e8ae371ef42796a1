"""The house rules, checked on the source rather than trusted: a route is looked up in the
catalogue by the plan alone, module-level imports form no cycle, and no module outgrows ~600
lines (STYLE.md: split it by concern)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "summarize"
MAX_LINES = 600

# What looks a model up for a route: the catalogue's resolver and its per-task queries.
ROUTE_LOOKUPS = {"resolve", "summarizers_for", "pair_translators", "pair_targets", "ref", "get"}
# Who may: the plan (every route a batch takes), the catalogue itself, and the faces that
# manage the models as such (`summarize models ...`: list, download, convert, check).
MAY_LOOK_UP = {"plan", "catalog", "cli.models", "convert", "smoke"}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__") or "__init__"
        out[name] = path
    return out


def route_lookups(tree: ast.AST) -> list[tuple[int, str]]:
    """Calls of the catalogue's `resolve` (imported from summarize.catalog) and of a lookup
    method on anything named like a catalogue."""
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "summarize.catalog"
        for alias in node.names
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id == "resolve" and "resolve" in imported:
            found.append((node.lineno, "resolve"))
        elif isinstance(f, ast.Attribute) and f.attr in ROUTE_LOOKUPS:
            owner = f.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if "catalog" in name.lower():
                found.append((node.lineno, f"{name}.{f.attr}"))
    return found


def test_only_the_plan_looks_a_route_up_in_the_catalogue() -> None:
    offenders = {
        name: calls
        for name, path in modules().items()
        if name not in MAY_LOOK_UP and (calls := route_lookups(ast.parse(path.read_text())))
    }
    assert offenders == {}
    # The scan sees lookups where they are: the plan makes them (a scan that saw none
    # anywhere would pass for the wrong reason).
    assert len(route_lookups(ast.parse(modules()["plan"].read_text()))) >= 5


def test_module_level_imports_form_no_cycle() -> None:
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        deps: set[str] = set()
        for node in ast.parse(path.read_text()).body:  # module level: not lazy, not TYPE_CHECKING
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("summarize."):
                module = str(node.module).removeprefix("summarize.")
                deps |= {module, *(f"{module}.{alias.name}" for alias in node.names)}
        graph[name] = {d for d in deps if d in known and d != name}
    assert sum(map(len, graph.values())) > 50  # the scan reads the imports it checks
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the cycle


def test_no_module_outgrows_six_hundred_lines() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
