"""The import graph of a package as Python runs it, read from the source (ast), and its cycles; and the
modules a file (a test module) names in its imports.

Every import statement counts, wherever it is: at module level, inside a function or under
`if TYPE_CHECKING:`. Importing `a.b.c` also runs the `__init__` of `a.b` (and of `a`), so a
module that imports a submodule depends on the packages above it, unless it is inside them
already (they are then being initialised, not imported).
"""

from __future__ import annotations

import ast
from pathlib import Path

Graph = dict[str, set[str]]


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module below the package directory `root`."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    submodules = [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in known]
    # `from pkg import sub` imports pkg.sub; `from pkg import name` imports pkg itself
    return submodules if len(submodules) == len(node.names) else [source, *submodules]


def graph(root: Path) -> Graph:
    known = modules(root)
    edges: Graph = {name: set() for name in known}
    for name, path in known.items():
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _imported(node, name, path.name == "__init__.py", known):
                parts = target.split(".")
                for end in range(1, len(parts) + 1):
                    ran = ".".join(parts[:end])  # a.b.c runs a, a.b and a.b.c
                    inside = f"{name}.".startswith(f"{ran}.")
                    if ran in known and ran != name and not inside:
                        edges[name].add(ran)
    return edges


def cycles(edges: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def named_imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of `known` that the file `path` names in an import statement (`import a.b`, `from a import b`,
    `from a.b import name`), wherever the statement is: what it imports directly, not what those import."""
    found: set[str] = set()
    module = ".".join(path.with_suffix("").parts[-2:])
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.update(target for target in _imported(node, module, False, known) if target in known)
    return found
