"""The project's imports run one way: no cycle, and each layer imports only those below.

The imports are read from the source with ``ast``: a lazy import inside a function
counts as much as one at the top, so a cycle cannot hide in a function. Only imports
under ``if TYPE_CHECKING:``, which never run, are left out (the models name each other's
classes in annotations that way). Importing ``a.b.c`` runs the ``__init__`` of ``a.b``
too, so it also counts as an import of the packages above ``a.b.c``, except those that
hold the importer (they are already being imported when it runs).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("booking", "solver")

# Layer -> the project layers it must never import. Views are on top; the solver is a
# library of its own.
FORBIDDEN = {
    "booking.models": ("booking.services", "booking.views", "booking.forms", "booking.cli"),
    "booking.services": ("booking.views", "booking.forms", "booking.cli"),
    "booking.forms": ("booking.views", "booking.cli"),
    "booking.db": ("booking.models", "booking.services", "booking.views", "booking.forms"),
}
SOLVER_FORBIDDEN = ("booking", "bench", "flask", "sqlalchemy", "flask_babel", "werkzeug")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names."""
    if not node.level:
        return node.module or ""
    is_package = MODULES[module].name == "__init__.py"
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except those under ``if TYPE_CHECKING:`` (they never run)."""
    for child in ast.iter_child_nodes(tree):
        if _is_type_checking(child):
            continue
        yield child
        yield from _runtime_nodes(child)


def _imported_names(module: str, tree: ast.Module) -> Iterator[str]:
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            yield target
            # `from package import submodule` imports the submodule.
            yield from (f"{target}.{alias.name}" for alias in node.names)


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _edges(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    own = {module, *_ancestors(module)}
    edges: set[str] = set()
    for name in _imported_names(module, tree):
        for target in (name, *_ancestors(name)):
            if target in MODULES and target not in own:
                edges.add(target)
    return edges


def _all_imports(module: str) -> set[str]:
    """Every name the module imports, project or not."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    return set(_imported_names(module, tree))


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph``, as the list of modules along it, or None."""
    visiting: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        visiting.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*visiting[visiting.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        visiting.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_walk_sees_the_planning_package_and_its_imports():
    # Guards the walk itself: an empty graph would find no cycle either.
    assert "booking.services.planning.approve" in MODULES
    edges = _edges("booking.services.planning.run")
    assert {"booking.services.jobs", "booking.services.planning.problem"} <= edges
    assert "booking.services.planning" not in edges  # its own package


def test_a_cycle_is_found_when_there_is_one():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_the_projects_modules():
    graph = {module: _edges(module) for module in MODULES}
    assert _find_cycle(graph) is None, " -> ".join(_find_cycle(graph) or [])


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_the_layers_below(layer):
    wrong = {
        (module, target)
        for module in MODULES
        if module == layer or module.startswith(layer + ".")
        for target in _edges(module)
        if any(target == f or target.startswith(f + ".") for f in FORBIDDEN[layer])
    }
    assert not wrong


def test_the_solver_imports_nothing_from_the_application():
    wrong = {
        (module, name)
        for module in MODULES
        if module.startswith("solver")
        for name in _all_imports(module)
        if name.split(".")[0] in SOLVER_FORBIDDEN
    }
    assert not wrong


def test_no_module_level_getattr():
    offenders = [
        module
        for module, path in MODULES.items()
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
    ]
    assert not offenders
