"""The layout shows the pipeline and holds it (issue 15): no import cycles, one place that prints and
exits, cache/ used only through its interface, the runtime apart from the developer tools, and the
README's layout tree equal to the files on disk."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from renderer import exitcodes
from renderer.errors import InputError, OutputError, RemoteError, RenderError, TemplateError, ValuesError
from tests.support.imports import cycles, graph, modules

REPO_ROOT = Path(__file__).resolve().parents[1]
RENDERER = REPO_ROOT / "renderer"

CACHE_INTERFACE = {
    ("noop", "lookup"), ("noop", "record"), ("noop", "Pending"), ("noop", "Invocation"),
    ("clusters", "Ledger"), ("clusters", "Recorded"), ("clusters", "expected_tree"),
    ("parallel", "ordered_map"), ("memo", "Memo"), ("bytecode", "attach"),
}
"""What renderer/cache/__init__.py's docstring promises the rest of the renderer uses."""


def _trees(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), str(path))


# --- import cycles -------------------------------------------------------------------------------

def test_the_renderer_has_no_import_cycle() -> None:
    edges = graph(RENDERER)
    assert len(edges) > 40, "the graph covers every module"
    assert "renderer.render.jinja" in edges["renderer.render.engines.argocd"]
    assert cycles(edges) == []


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return root / "pkg"


def test_an_import_inside_a_function_is_a_cycle_too(tmp_path: Path) -> None:
    """The shape the old render -> engines -> render cycle had: hidden in a function, still a cycle."""
    package = _package(tmp_path, {
        "__init__.py": "",
        "render.py": "def engines():\n    from pkg.engines import ENGINES\n    return ENGINES\n",
        "engines.py": "from pkg import render\nENGINES = {}\n",
    })
    assert cycles(graph(package)) == [["pkg.engines", "pkg.render"]]


def test_a_type_checking_import_and_a_package_init_count(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "__init__.py": "",
        "a/__init__.py": "from pkg.b import thing\n",
        "a/x.py": "X = 1\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a.x import X\nthing = 1\n",
    })
    assert cycles(graph(package)) == [["pkg.a", "pkg.b"]]  # importing pkg.a.x runs pkg/a/__init__.py


def test_a_submodule_using_its_own_package_is_not_a_cycle(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "__init__.py": "",
        "s/__init__.py": "from pkg.s import one\n",
        "s/one.py": "from pkg.s import two\n",
        "s/two.py": "",
    })
    assert cycles(graph(package)) == []


# --- one place prints and exits, with the exit codes of one module --------------------------------

_PRINTS = {("print",), ("sys", "exit"), ("exit",), ("quit",), ("os", "_exit"), ("click", "echo"),
           ("sys", "stdout", "write"), ("sys", "stderr", "write")}


def _dotted(node: ast.expr) -> tuple[str, ...]:
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Attribute):
        return (*_dotted(node.value), node.attr)
    return ()


def test_only_the_cli_prints_or_exits() -> None:
    offenders = []
    for name, path in modules(RENDERER).items():
        if name == "renderer.cli" or name.startswith("renderer.cli."):
            continue
        for node in ast.walk(_trees(path)):
            if isinstance(node, ast.Call) and _dotted(node.func) in _PRINTS:
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
            if isinstance(node, ast.Raise) and node.exc is not None and "SystemExit" in _dotted(
                    node.exc.func if isinstance(node.exc, ast.Call) else node.exc):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert offenders == []


def test_the_cli_exits_only_with_named_exit_codes() -> None:
    literal_exits = []
    for name, path in modules(RENDERER).items():
        if not name.startswith("renderer.cli"):
            continue
        for node in ast.walk(_trees(path)):
            if isinstance(node, ast.Call) and _dotted(node.func)[-1:] == ("exit",) and node.args and \
                    isinstance(node.args[0], ast.Constant):
                literal_exits.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert literal_exits == []
    codes = {error.exit_code for error in (RenderError, InputError, ValuesError, OutputError, RemoteError,
                                           TemplateError)}
    assert codes == {exitcodes.INVALID, exitcodes.INTERNAL}
    assert set(exitcodes.MEANING) == {exitcodes.OK, exitcodes.DIFFERS, exitcodes.INVALID, exitcodes.INTERNAL}


# --- cache/ behind its interface -------------------------------------------------------------------

def _cache_uses(path: Path) -> set[tuple[str, str]]:
    """(cache submodule, name) pairs a module outside cache/ uses."""
    tree = _trees(path)
    aliases: dict[str, str] = {}
    used: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "renderer.cache":
            aliases.update({alias.asname or alias.name: alias.name for alias in node.names})
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("renderer.cache."):
            used.update((node.module.rsplit(".", 1)[1], alias.name) for alias in node.names)
        elif isinstance(node, ast.Import) and any(alias.name.startswith("renderer.cache") for alias in node.names):
            used.add(("import", "renderer.cache"))  # `import renderer.cache...` is not how the interface is used
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            used.add((aliases[node.value.id], node.attr))
    return used


def test_the_rest_of_the_renderer_uses_cache_only_through_its_interface() -> None:
    used = {}
    for name, path in modules(RENDERER).items():
        if name == "renderer.cache" or name.startswith("renderer.cache."):
            continue
        for pair in _cache_uses(path):
            used.setdefault(pair, []).append(name)
    assert set(used) <= CACHE_INTERFACE, {pair: where for pair, where in used.items() if pair not in CACHE_INTERFACE}
    assert ("noop", "lookup") in used and ("memo", "Memo") in used  # the scan sees real uses
    docstring = ast.get_docstring(_trees(RENDERER / "cache" / "__init__.py")) or ""
    for module, attribute in CACHE_INTERFACE:
        assert f"{module}.{attribute}" in docstring


def test_the_cache_interface_scan_sees_a_private_use(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("from renderer.cache import noop\nnoop._read_record('x')\n", "utf-8")
    assert _cache_uses(path) == {("noop", "_read_record")}


# --- runtime and developer tools ----------------------------------------------------------------------

def test_the_runtime_never_imports_developer_tools_or_tests() -> None:
    imported = {target for targets in graph(RENDERER).values() for target in targets}
    for path in RENDERER.rglob("*.py"):
        for node in ast.walk(_trees(path)):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert not {name for name in imported if name.split(".")[0] in ("devtools", "tests", "bench")}


# --- the README's tree is the tree ---------------------------------------------------------------------

def _readme_tree() -> dict[str, str]:
    text = (REPO_ROOT / "README.md").read_text("utf-8")
    block = re.search(r"<!-- layout:begin -->\n```text\n(.*?)```\n<!-- layout:end -->", text, re.S)
    assert block, "README.md has a layout block"
    entries: dict[str, str] = {}
    parents: list[tuple[int, str]] = []
    for line in block.group(1).splitlines():
        match = re.fullmatch(r"( *)(\S+)\s{2,}(\S.*)", line)
        assert match, f"README layout line without a description: {line!r}"
        indent, name, description = len(match.group(1)), match.group(2), match.group(3)
        parents = [(level, parent) for level, parent in parents if level < indent]
        path = "".join(parent for _level, parent in parents) + name
        entries[path] = description
        if name.endswith("/"):
            parents.append((indent, name))
    return entries


def test_the_readme_layout_lists_every_module_and_package() -> None:
    on_disk = set()
    for top in ("renderer", "devtools"):
        for path in (REPO_ROOT / top).rglob("*.py"):
            relative = path.relative_to(REPO_ROOT)
            on_disk.add(str(relative))
            on_disk.update(f"{parent}/" for parent in map(str, relative.parents) if parent != ".")
    listed = _readme_tree()
    assert sorted(set(listed) - on_disk) == [], "README lists files that do not exist"
    assert sorted(on_disk - set(listed)) == [], "README's layout misses files"


@pytest.mark.parametrize("package", sorted({path.parent for path in RENDERER.rglob("__init__.py")}))
def test_every_package_says_what_it_is(package: Path) -> None:
    assert ast.get_docstring(_trees(package / "__init__.py")), f"{package}/__init__.py needs a docstring"
