"""The house rules, checked on the source rather than trusted: a route is looked up in the
catalogue by the plan alone, what the plan builds on never imports it, module-level imports
form no cycle, and no module outgrows ~600 lines (STYLE.md: split it by concern)."""

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


def import_graph(level_only: bool = True) -> dict[str, set[str]]:
    """Who imports whom inside the package: at module level (not lazy, not TYPE_CHECKING),
    or with `level_only` false anywhere in the module (a lazy import inside a function too)."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text())
        deps: set[str] = set()
        for node in tree.body if level_only else ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("summarize."):
                module = str(node.module).removeprefix("summarize.")
                deps |= {module, *(f"{module}.{alias.name}" for alias in node.names)}
        graph[name] = {d for d in deps if d in known and d != name}
    return graph


def test_module_level_imports_form_no_cycle() -> None:
    graph = import_graph()
    assert sum(map(len, graph.values())) > 50  # the scan reads the imports it checks
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the cycle


def test_what_the_plan_builds_on_never_reaches_back_for_it() -> None:
    """Imports flow one way: what the plan imports (the catalogue, the summariser, the
    translators), the engines, the checks and the stories take resolved references and never
    import the plan, not even lazily, to resolve one themselves."""
    graph, anywhere = import_graph(), import_graph(level_only=False)
    below: set[str] = set()
    todo = ["plan"]
    while todo:
        for dep in graph[todo.pop()] - below:
            below.add(dep)
            todo.append(dep)
    assert {"catalog", "summarise", "translate", "engines"} <= below
    # and the engines, the checks and the stories, which the stages hand what the plan chose
    below |= {name for name in anywhere if name.split(".")[0] in ("engines", "checks", "stories")}
    assert {name for name in below if "plan" in anywhere[name]} == set()


def test_no_module_outgrows_six_hundred_lines() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_every_approval_goes_through_the_desks_one_door() -> None:
    """An approval is written to the edits store only by `review.desk` (its `_approval`
    checks the text its approver named): no other module calls the store's `save` or
    `save_all` with anything but `approve=False`."""
    found = []
    for name, path in modules().items():
        if name == "review.desk":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("save", "save_all")
            ):
                approve = next((k.value for k in node.keywords if k.arg == "approve"), None)
                literal_false = isinstance(approve, ast.Constant) and approve.value is False
                if approve is not None and not literal_false and name != "review.store":
                    found.append(f"{name}:{node.lineno}")
    assert found == [], f"approvals written outside review.desk: {found}"
    desk = (PACKAGE / "review" / "desk.py").read_text(encoding="utf-8")
    assert desk.count("approve=True") == 1  # `_save_all`, fed by `_approval` alone
