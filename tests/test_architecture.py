"""The dependency direction of DESIGN "Layout", checked on the source rather than trusted.

Every ``.py`` file under ``src/gankit`` is parsed (not imported) and every import of a gankit
module is collected: module-level ones, those inside functions (lazy imports) and those inside
``if TYPE_CHECKING:`` blocks alike, because a lazy or type-only import is still a dependency
that a reader has to follow and that a refactoring can turn into a real cycle.

An edge goes to the exact module named: ``import gankit.training.loop`` and
``from gankit.training.loop import Trainer`` are edges to ``gankit.training.loop``, not also to
the package ``gankit.training`` whose ``__init__`` Python runs first; that ``__init__``'s own
imports are the edges of the package module ``gankit.training``. ``from gankit.x import y``
where ``y`` is a submodule is an edge to ``gankit.x.y``. Imports by a computed name
(``importlib.import_module``) are not seen: gankit has none, keep it that way.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "gankit"

# {package: the packages and modules that must never import it}. DESIGN: `cli -> training,
# metrics -> variants -> tricks, networks, losses -> nn`; metrics and the dashboard read run
# directories through runs.py, and what the loop drives does not know the loop.
NEVER_IMPORT: dict[str, tuple[str, ...]] = {
    "gankit.training": (
        "gankit.metrics",
        "gankit.runs",
        "gankit.dashboard",
        "gankit.variants",
        "gankit.tricks",
        "gankit.networks",
        "gankit.losses",
        "gankit.nn",
        "gankit.data",
    ),
    "gankit.cli": ("gankit.metrics",),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / ROOT).rglob("*.py"))}


def _known(name: str, modules: dict[str, Path]) -> str:
    """The longest prefix of ``name`` that is a module (``gankit.x.attr`` -> ``gankit.x``)."""
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """{imported gankit module: first line number} for the module ``name`` in ``path``."""
    is_package = path.name == "__init__.py"
    found: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        if target == ROOT or target.startswith(ROOT + "."):
            target = _known(target, modules)
            if target != name:
                found.setdefault(target, line)

    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package holding this module, up level - 1
                package = name if is_package else name.rsplit(".", 1)[0]
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                add(sub if sub in modules else source, node.lineno)
    return found


def import_graph() -> tuple[dict[str, dict[str, int]], dict[str, Path]]:
    modules = find_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}, modules


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One cycle as a path [m0, m1, ..., m0], or None (depth-first search, iterative)."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    for start in sorted(graph):
        if colour[start] != WHITE:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        colour[start] = GREY
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = BLACK
                stack.pop()
                path.pop()
            elif colour.get(child, BLACK) == GREY:
                return path[path.index(child) :] + [child]
            elif colour.get(child) == WHITE:
                colour[child] = GREY
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
    return None


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _describe(cycle: list[str], graph: dict[str, dict[str, int]], modules) -> str:
    steps = [
        f"  {a} ({modules[a].relative_to(SRC.parent)}:{graph[a][b]}) imports {b}"
        for a, b in zip(cycle, cycle[1:])
    ]
    return "import cycle " + " -> ".join(cycle) + ":\n" + "\n".join(steps)


# --- the checks ---------------------------------------------------------------------------------
def test_the_graph_sees_every_kind_of_import():
    """The parser itself: lazy and TYPE_CHECKING imports count, relative ones resolve."""
    graph, _ = import_graph()
    assert "gankit.errors" in graph["gankit.api"]  # module level
    assert "gankit.training.loop" in graph["gankit.api"]  # inside a function
    assert "gankit.api" in graph["gankit"]  # a package's __init__ edges are its own
    assert "gankit.cli.dashboard" in graph["gankit.cli"]  # from package import submodule
    assert all(target in graph for edges in graph.values() for target in edges)


def test_no_import_cycles():
    graph, modules = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, _describe(cycle, graph, modules)


def test_dependencies_point_one_way():
    graph, modules = import_graph()
    wrong = [
        f"{source} ({modules[source].relative_to(SRC.parent)}:{line}) imports {target}"
        for target_pkg, sources in NEVER_IMPORT.items()
        for source, edges in sorted(graph.items())
        if any(_under(source, s) for s in sources)
        for target, line in edges.items()
        if _under(target, target_pkg)
    ]
    assert not wrong, "imports against DESIGN's dependency direction:\n" + "\n".join(wrong)


def test_relative_imports_resolve(tmp_path):
    pkg = tmp_path / "gankit" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import sub\nfrom .. import errors\n")
    (pkg / "sub.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .other import Thing\n"
        "def f():\n    from ..errors import GankitError\n    import gankit.pkg.other.attr\n"
    )
    (pkg / "other.py").write_text("")
    modules = {
        "gankit": tmp_path / "gankit" / "__init__.py",
        "gankit.errors": tmp_path / "gankit" / "errors.py",
        "gankit.pkg": pkg / "__init__.py",
        "gankit.pkg.sub": pkg / "sub.py",
        "gankit.pkg.other": pkg / "other.py",
    }
    assert set(imports_of("gankit.pkg", modules["gankit.pkg"], modules)) == {
        "gankit.pkg.sub",
        "gankit.errors",
    }
    assert set(imports_of("gankit.pkg.sub", modules["gankit.pkg.sub"], modules)) == {
        "gankit.pkg.other",
        "gankit.errors",
    }


def test_find_cycle_reports_the_path():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1, "d": 1}, "d": {}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}}) is None


# Network names belong to the variants that define them (issue 13): the loop, runs, metrics,
# CLI and dashboard reach networks through a run's exports and a variant's declarations.
VARIANT_NETWORK_NAMES = {"G", "D", "G_ema"}


def test_only_variants_name_networks():
    found = []
    for name, path in find_modules().items():
        if _under(name, "gankit.variants"):
            continue
        tree = ast.parse(path.read_text(), str(path))
        # pieces of f-strings are labels ("D(x)" in stats), not keys of a network
        labels = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        for node in ast.walk(tree):
            if id(node) in labels:
                continue
            if isinstance(node, ast.Constant) and node.value in VARIANT_NETWORK_NAMES:
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.value!r}")
    assert not found, "network names outside gankit.variants: " + ", ".join(found)
