"""The layout shows the pipeline and holds it: no import cycles, one place that prints and exits, cache/
used only through its interface, the runtime apart from the developer tools, the README's layout tree
equal to the files on disk, and tests that read the same way: every module imported by a test, every
package with its test module (the README's table), test names that say the behaviour."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from renderer import exitcodes
from renderer.errors import InputError, OutputError, RemoteError, RenderError, TemplateError, ValuesError
from tests.support.imports import cycles, graph, modules, named_imports

REPO_ROOT = Path(__file__).resolve().parents[1]
RENDERER = REPO_ROOT / "renderer"
TESTS = REPO_ROOT / "tests"

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


# --- every module has a test that imports it ---------------------------------------------------------

def _holds_behaviour(path: Path) -> bool:
    """A module with no function, class or call holds nothing a test could run (a docstring, a version, a type
    alias, a registry of names defined elsewhere)."""
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Call)
               for node in ast.walk(_trees(path)))


def _imported_by_tests(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the test modules that import it by name."""
    found: dict[str, set[str]] = {}
    for test in sorted(TESTS.glob("test_*.py")):
        for module in named_imports(test, known):
            found.setdefault(module, set()).add(test.name)
    return found


def untested(known: dict[str, Path], imported: dict[str, set[str]], root: Path = REPO_ROOT) -> list[str]:
    return [f"{path.relative_to(root).as_posix()} ({name})" for name, path in sorted(known.items())
            if name not in imported and _holds_behaviour(path)]


def test_every_module_is_imported_by_a_test_module() -> None:
    """A module only other modules import is tested by accident: a behaviour test names what it tests."""
    known = {**modules(RENDERER), **modules(REPO_ROOT / "devtools")}
    assert {"renderer.pipeline", "devtools.docs"} <= set(known) and len(known) > 80, "the scan covers both"
    imported = _imported_by_tests(known)
    assert untested(known, imported) == [], "no test module (tests/test_*.py) imports these modules"


def test_the_import_scan_counts_only_what_a_test_names(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "__init__.py": '"""Docstring only."""\n',
        "a.py": "from pkg import b\ndef run():\n    return b.VALUE\n",
        "b.py": "VALUE = int('1')\n",
        "c.py": "def helper():\n    return 1\n",
        "d.py": "class D:\n    pass\n",
    })
    test = tmp_path / "test_pkg.py"
    test.write_text("from pkg import a\ndef test_d():\n    from pkg.d import D\n    assert D\n", "utf-8")
    known = modules(package)
    assert named_imports(test, known) == {"pkg.a", "pkg.d"}  # b is imported by a only; the test never names it
    imported = {name: {"test_pkg.py"} for name in named_imports(test, known)}
    # the docstring-only package holds nothing to run; b and c hold code no test names
    assert untested(known, imported, tmp_path) == ["pkg/b.py (pkg.b)", "pkg/c.py (pkg.c)"]


# --- each package has a test module named after its behaviour ------------------------------------------

def _readme_test_modules() -> dict[str, list[str]]:
    text = (REPO_ROOT / "README.md").read_text("utf-8")
    block = re.search(r"<!-- test-modules:begin -->\n(.*?)<!-- test-modules:end -->", text, re.S)
    assert block, "README.md has a test-modules table"
    rows = re.findall(r"^\| `renderer/(\w+)/` \| (.+?) \| .+ \|$", block.group(1), re.M)
    return {package: re.findall(r"`(tests/test_\w+\.py)`", cell) for package, cell in rows}


def test_every_package_maps_to_a_test_module_named_after_its_behaviour() -> None:
    """The README's table: each renderer package, the test module(s) of its behaviour, each importing it."""
    packages = sorted(path.parent.name for path in RENDERER.glob("*/__init__.py"))
    table = _readme_test_modules()
    assert sorted(table) == packages, "the README's test-modules table lists every package under renderer/, once"
    known = modules(RENDERER)
    for package, tests in table.items():
        assert tests, f"renderer/{package}/ names no test module"
        for test in tests:
            assert (REPO_ROOT / test).is_file(), f"renderer/{package}/: {test} does not exist"
            assert not re.search(r"\d", Path(test).stem), f"{test}: a name that says the behaviour, not a number"
            names = named_imports(REPO_ROOT / test, known)
            assert any(name == f"renderer.{package}" or name.startswith(f"renderer.{package}.") for name in names), \
                f"{test} is listed for renderer/{package}/ but imports nothing of it"


# --- test names say the behaviour ------------------------------------------------------------------------

_DECODE = re.compile(r"(?:^|_)(?:item|issue|ticket|bug|case)_?\d+(?:_|$)|(?:^|_)issue(?:_|$)")
"""Names that need the issue tracker to decode: test_item4_..., test_issue_..., test_case_12."""


def test_every_test_name_says_a_behaviour_not_a_ticket_number() -> None:
    offenders = [f"{path.name}::{node.name}" for path in sorted(TESTS.glob("test_*.py"))
                 for node in ast.walk(_trees(path))
                 if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and _DECODE.search(node.name)]
    assert offenders == []


@pytest.mark.parametrize(("name", "decodes"), [
    ("test_item4_the_bootstrap_waits", True), ("test_the_issue_reproduction_is_linear", True),
    ("test_case_12", True), ("test_issue23", True), ("test_invalid_case", False),
    ("test_every_valid_case_converges", False), ("test_the_tier_changes_in_3_23", False),
])
def test_the_name_check_tells_a_number_from_a_behaviour(name: str, decodes: bool) -> None:
    assert bool(_DECODE.search(name)) is decodes
