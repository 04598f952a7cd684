"""Directory-driven CLI cases under tests/cases/: what a platform engineer sees for good and bad values.

valid/<name>/values.yaml
    renders with exit 0 and no warning; a second render into the same --out reports `unchanged`
    and touches nothing; a render into another directory gives identical bytes.
valid/<name>/expect.txt (optional)
    checks on the rendered out/<cluster>/, one per line ('#' starts a comment):
    `file PATH`, `no-file PATH`, `grep PATH TEXT` (TEXT is the rest of the line, a substring of one line).
valid/<name>/xfail (optional)
    the reason ("BUG: ...") the case fails until a product bug is fixed; run as a strict xfail.

invalid/<name>/values.yaml
    one bad values file per topic; its first line is a comment saying what is wrong.
invalid/<name>/expected.txt
    header lines, then the exact stderr:
        exit: N          the exit code (always the first line)
        args: ...        extra CLI arguments, e.g. `--strict` (optional)
        xfail: BUG: ...  a strict xfail while a product bug is open (optional)
    every line after the header is one stderr line, in order, with nothing else printed. FILE is
    written `tests/cases/invalid/<name>/values.yaml`: the CLI runs with the repository root as cwd.

Every invalid case runs twice: against a pre-rendered tree (bytes and mtimes of every file and
directory unchanged, nothing added or removed) and against an --out that does not exist yet (it
must not be created). Cases with `args: --strict` also run without it: exit 0, the same lines as
warnings, and the tree is written.

To add a case, create the directory, run `render tests/cases/invalid/<name>/values.yaml --out /tmp/x`
from the repository root and write down the lines an engineer should see, not just what it prints.
The CLI runs in-process (click's CliRunner); two tests spawn the real `render` as a subprocess.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from renderer import yamlio as yamlio_module
from tests.support.cli import run_cli, shows
from tests.support.schema_walk import count_scans
from tests.support.values import minimal_values

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "tests" / "cases"
VALID = sorted(path.name for path in (CASES / "valid").iterdir() if path.is_dir())
INVALID = sorted(path.name for path in (CASES / "invalid").iterdir() if path.is_dir())

BASE_VALUES = minimal_values()
"""The valid file the invalid cases are variations of; its tree is the one they must leave alone."""


def tree_state(root: Path) -> dict[str, tuple[str, bytes, int]]:
    """Every entry under root (root included): kind, bytes (files) and mtime in ns."""
    state = {".": ("dir", b"", root.stat().st_mtime_ns)}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            state[relative] = ("link", os.readlink(path).encode(), info.st_mtime_ns)
        elif path.is_dir():
            state[relative] = ("dir", b"", info.st_mtime_ns)
        else:
            state[relative] = ("file", path.read_bytes(), info.st_mtime_ns)
    return state


def rendered_files(cluster_dir: Path) -> dict[str, bytes]:
    return {path.relative_to(cluster_dir).as_posix(): path.read_bytes()
            for path in sorted(cluster_dir.rglob("*")) if path.is_file()}


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


@pytest.fixture(scope="module")
def rendered_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An out/ directory holding a rendered `demo` tree, made once; tests copy it."""
    root = tmp_path_factory.mktemp("rendered")
    values = root / "demo.yaml"
    values.write_text(BASE_VALUES)
    out = root / "out"
    result = run_cli(values, "--out", out)
    assert result.exit_code == 0, shows(result)
    assert (out / "demo" / ".sks-gitops-owned.json").is_file()
    return out


@pytest.fixture
def existing_out(rendered_tree: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(rendered_tree, out, symlinks=True)
    return out


# --- case files -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expected:
    exit_code: int
    args: tuple[str, ...]
    xfail: str
    stderr: list[str]


def read_expected(name: str) -> Expected:
    lines = (CASES / "invalid" / name / "expected.txt").read_text("utf-8").splitlines()
    assert lines and lines[0].startswith("exit: "), f"{name}/expected.txt must start with 'exit: N'"
    exit_code, args, xfail = int(lines[0].removeprefix("exit: ")), (), ""
    index = 1
    while index < len(lines) and lines[index].startswith(("args: ", "xfail: ")):
        key, _, value = lines[index].partition(": ")
        if key == "args":
            args = tuple(value.split())
        else:
            xfail = value
        index += 1
    return Expected(exit_code, args, xfail, lines[index:])


def _invalid_params() -> list[object]:
    params: list[object] = []
    for name in INVALID:
        reason = read_expected(name).xfail
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def _valid_params() -> list[object]:
    params: list[object] = []
    for name in VALID:
        marker = CASES / "valid" / name / "xfail"
        marks = [pytest.mark.xfail(strict=True, reason=marker.read_text().strip())] if marker.exists() else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


STRICT = [name for name in INVALID if "--strict" in read_expected(name).args and not read_expected(name).xfail]


def test_case_inventory() -> None:
    """The suite covers what it claims: enough cases, each complete, each invalid file used once."""
    assert len(VALID) >= 5
    assert len(INVALID) >= 40
    for name in VALID:
        assert (CASES / "valid" / name / "values.yaml").is_file(), name
    for name in INVALID:
        assert (CASES / "invalid" / name / "values.yaml").is_file(), name
        expected = read_expected(name)
        assert expected.stderr, f"{name}: no expected stderr lines"
        prefix = f"tests/cases/invalid/{name}/values.yaml"
        assert all(line.startswith((prefix, "  hint: ", "    ")) for line in expected.stderr), name  # "    ": source
        assert not expected.xfail or expected.xfail.startswith("BUG: "), name
    assert len(STRICT) >= 3


# --- invalid cases --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", _invalid_params())
def test_invalid_case(name: str, existing_out: Path, tmp_path: Path) -> None:
    expected = read_expected(name)
    values = f"tests/cases/invalid/{name}/values.yaml"
    before = tree_state(existing_out)

    result = run_cli(values, "--out", existing_out, *expected.args)
    assert (result.exit_code, result.stderr.splitlines()) == (expected.exit_code, expected.stderr), shows(result)
    assert result.stdout == "", shows(result)
    assert tree_state(existing_out) == before, "an invalid run changed the existing output tree"

    fresh = tmp_path / "fresh-out"
    result = run_cli(values, "--out", fresh, *expected.args)
    assert (result.exit_code, result.stderr.splitlines()) == (expected.exit_code, expected.stderr), shows(result)
    assert not fresh.exists(), "an invalid run created the output directory"


@pytest.mark.parametrize("name", STRICT)
def test_strict_cases_are_warnings_without_strict(name: str, tmp_path: Path) -> None:
    expected = read_expected(name)
    args = [arg for arg in expected.args if arg != "--strict"]
    result = run_cli(f"tests/cases/invalid/{name}/values.yaml", "--out", tmp_path / "out", *args)
    assert result.exit_code == 0, shows(result)
    warnings = [line.replace(": error: ", ": warning: ", 1) for line in expected.stderr]
    assert result.stderr.splitlines()[: len(warnings)] == warnings, shows(result)
    assert (tmp_path / "out" / "demo" / ".sks-gitops-owned.json").is_file()


# --- valid cases ----------------------------------------------------------------------------------

def _check_expectations(name: str, cluster_dir: Path) -> None:
    spec = CASES / "valid" / name / "expect.txt"
    if not spec.exists():
        return
    for number, raw in enumerate(spec.read_text("utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        where = f"{name}/expect.txt:{number}: {raw}"
        verb, _, rest = raw.partition(" ")
        if verb == "file":
            assert (cluster_dir / rest).is_file(), where
        elif verb == "no-file":
            assert not (cluster_dir / rest).exists(), where
        elif verb == "grep":
            path, _, text = rest.partition(" ")
            lines = (cluster_dir / path).read_text("utf-8").splitlines()
            assert any(text in line for line in lines), f"{where}\n--- {path}\n" + "\n".join(lines)
        else:
            raise AssertionError(f"{where}: unknown check {verb!r}")


@pytest.mark.parametrize("name", _valid_params())
def test_valid_case(name: str, tmp_path: Path) -> None:
    values = f"tests/cases/valid/{name}/values.yaml"
    out = tmp_path / "out"
    result = run_cli(values, "--out", out)
    assert result.exit_code == 0, shows(result)
    clusters = [path for path in out.iterdir() if path.is_dir()]
    assert len(clusters) == 1, sorted(out.iterdir())
    cluster_dir = clusters[0]
    files = rendered_files(cluster_dir)
    count = len([path for path in files if path != ".sks-gitops-owned.json"])  # the summary counts rendered files
    summary = re.escape(str(cluster_dir)) + (
        rf": {count} files, [0-9]+ objects validated; {count} added, 0 changed, 0 removed")
    assert re.fullmatch(summary, result.stderr.rstrip("\n")), shows(result)  # one line: no warning either
    _check_expectations(name, cluster_dir)

    before = tree_state(out)
    again = run_cli(values, "--out", out)
    assert again.exit_code == 0, shows(again)
    assert again.stderr.rstrip().endswith("; unchanged"), shows(again)
    assert tree_state(out) == before, "a no-op render touched the tree"

    other = tmp_path / "other"
    result = run_cli(values, "--out", other)
    assert result.exit_code == 0, shows(result)
    assert rendered_files(other / cluster_dir.name) == files, "rendering twice gave different bytes"


# --- file-level problems and limits ----------------------------------------------------------------

def test_missing_file_directory_and_oversized_file(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(BASE_VALUES.encode() + b"# " + b"x" * 1_000_000 + b"\n")
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    out = tmp_path / "out"
    result = run_cli(tmp_path / "missing.yaml", folder, big, "--out", out)
    assert result.exit_code == 2, shows(result)
    assert sorted(result.stderr.splitlines()) == sorted([
        f"{tmp_path / 'missing.yaml'}: error: file not found",
        f"{folder}: error: is a directory; expected a YAML values file",
        f"{big}: error: file is larger than 1000000 bytes",
    ]), shows(result)
    assert not out.exists()


def test_alias_bomb_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap by counted work, not by the clock: expansion stops at the node budget."""
    real_plain = yamlio_module._plain
    copies = [0]

    def counting_plain(*args: Any, **kwargs: Any) -> Any:
        copies[0] += 1
        return real_plain(*args, **kwargs)

    monkeypatch.setattr(yamlio_module, "_plain", counting_plain)
    result = run_cli("tests/cases/invalid/alias-bomb/values.yaml", "--out", "/nonexistent/never-created")
    assert result.exit_code == 2, shows(result)
    assert "alias bomb" in result.stderr
    assert 0 < copies[0] <= yamlio_module.MAX_NODES + 1


def test_deep_nesting_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused from the raw text: ruamel's scanner (quadratic in flow depth) sees a bounded prefix only."""
    scanned = count_scans(monkeypatch)
    values = tmp_path / "deep.yaml"
    values.write_text(BASE_VALUES + "tigera:\n  customResources: " + "[" * 5000 + "]" * 5000 + "\n")
    result = run_cli(values, "--out", tmp_path / "out")
    assert result.exit_code == 2, shows(result)
    assert "nested more than 64 levels deep" in result.stderr
    assert scanned[0] <= 4 * yamlio_module.MAX_DEPTH  # 5000 brackets in the file


def test_github_actions_annotations(tmp_path: Path) -> None:
    result = run_cli("tests/cases/invalid/nodepool-size-zero/values.yaml", "--out", tmp_path / "out",
                     env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 2, shows(result)
    assert result.stderr.splitlines() == [
        "tests/cases/invalid/nodepool-size-zero/values.yaml:9:9: error: nodepool.size: 0 is less than the minimum of 1",
        "::error file=tests/cases/invalid/nodepool-size-zero/values.yaml,line=9,col=9::"
        "nodepool.size: 0 is less than the minimum of 1",
    ], shows(result)


# --- the real executable ---------------------------------------------------------------------------

def _render(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "GITHUB_ACTIONS"}
    return subprocess.run([sys.executable, "-m", "renderer", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.slow
def test_subprocess_invalid_case_matches_in_process(tmp_path: Path) -> None:
    name = "several-problems"
    expected = read_expected(name)
    completed = _render(f"tests/cases/invalid/{name}/values.yaml", "--out", tmp_path / "out")
    assert (completed.returncode, completed.stderr.splitlines()) == (expected.exit_code, expected.stderr), \
        completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_subprocess_valid_case(tmp_path: Path) -> None:
    completed = _render("tests/cases/valid/prod/values.yaml", "--out", tmp_path / "out")
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "out" / "ceosks-poc" / "argocd" / "root-application.yaml").is_file()
