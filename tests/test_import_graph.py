"""The product's imports: no cycles, and the layers point one way (smsgw -> handlers ->
prices -> db; docs in /ARCHITECTURE and README).

Every `import` and `from ... import` of our packages is read with `ast`, at the top of a
module or inside a function (an import moved into a function to dodge a cycle is still
one), except under `if TYPE_CHECKING:`, which never runs. Like import-linter, importing
`a.b.c` counts as depending on `a.b.c` only, not on the packages `a` and `a.b` that Python
initialises on the way.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("smsgw", "handlers", "prices", "db")

# Edges allowed to close a cycle, each with its reason: a list that may only shrink.
ALLOWED: dict[tuple[str, str], str] = {}

# Layer by layer, what it must never import (ours, and the libraries smsgw/ alone holds).
ONLY_IN_SMSGW = ("flask", "werkzeug", "twilio", "africastalking", "apscheduler")
FORBIDDEN = {
    "handlers": ("smsgw", *ONLY_IN_SMSGW),
    "prices": ("smsgw", "handlers", *ONLY_IN_SMSGW),
    "db": ("smsgw", "handlers", "prices", *ONLY_IN_SMSGW),
}


@cache
def modules() -> dict[str, Path]:
    """Every product module by dotted name (a package by its __init__.py)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_names(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of everything the module imports, wherever in it."""
    tree = ast.parse(path.read_text(), str(path))
    never_run = {id(node) for branch in ast.walk(tree)
                 if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
                 for statement in branch.body for node in ast.walk(statement)}
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if id(node) in never_run:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:   # from . import x, from ..y import z
                base = ".".join(package[:len(package) - node.level + 1] + [base]).strip(".")
            # `from a import b` names module a.b when there is one, else something in a.
            found += [(node.lineno, f"{base}.{alias.name}" if f"{base}.{alias.name}"
                       in modules() else base) for alias in node.names]
    return found


def ours(name: str) -> str | None:
    """The product module an imported name belongs to, if any."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules():
        parts.pop()
    return ".".join(parts) or None


@cache
def graph() -> dict[str, dict[str, int]]:
    """module -> {module it imports: the line of the first such import}."""
    edges: dict[str, dict[str, int]] = {}
    for module, path in modules().items():
        edges[module] = {}
        for line, name in imported_names(module, path):
            target = ours(name)
            if target is not None and target != module:
                edges[module].setdefault(target, line)
    return edges


def find_cycle(edges: dict[str, dict[str, int]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first, colouring the modules)."""
    state: dict[str, str] = {}   # "open" while on the current path, then "done"
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(edges.get(module, {})):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = "done"
        return None

    for module in sorted(edges):
        if module not in state and (found := visit(module)):
            return found
    return None


def described(cycle: list[str]) -> str:
    return "\n".join(f"  {a} imports {b} ({modules()[a].relative_to(ROOT)}:{graph()[a][b]})"
                     for a, b in zip(cycle, cycle[1:]))


def test_no_import_cycles():
    edges = {module: {target: line for target, line in targets.items()
                      if (module, target) not in ALLOWED}
             for module, targets in graph().items()}
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle:\n" + described(cycle)


def test_allowed_edges_still_exist():
    for module, target in ALLOWED:
        assert target in graph().get(module, {}), f"{module} -> {target} is gone: unlist it"


def test_layers_point_one_way():
    wrong = []
    for module, path in modules().items():
        layer = module.split(".")[0]
        for line, name in imported_names(module, path):
            if name.split(".")[0] in FORBIDDEN.get(layer, ()):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {layer} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_db_needs_only_the_standard_library_and_sqlite_utils():
    outside = sorted({f"{path.relative_to(ROOT)}: {name}"
                      for module, path in modules().items() if module.split(".")[0] == "db"
                      for _, name in imported_names(module, path)
                      if name.split(".")[0] not in {*sys.stdlib_module_names, "db",
                                                    "sqlite_utils", "__future__"}})
    assert not outside, "\n".join(outside)


def test_the_checks_see_what_they_look_for(tmp_path):
    edges = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert find_cycle(edges) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}}) is None
    source = tmp_path / "example.py"
    source.write_text("from typing import TYPE_CHECKING\n"
                      "from . import gateway\n"
                      "if TYPE_CHECKING:\n    from smsgw.app import create_app\n"
                      "def later():\n    from smsgw import config\n")
    assert imported_names("smsgw.example", source) == [
        (1, "typing"), (2, "smsgw.gateway"), (6, "smsgw.config")]
