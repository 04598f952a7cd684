"""`render --verify` on edited trees: the mutation suite of tests/verify/mutations.yaml (format at its top).

Each case renders a valid case's tree, edits it on disk as a reviewer or an older release would,
and runs `render --verify` on it: a converging edit must exit 0, a stuck one exit 3 naming the
blocking file, object and reason for the deliveries that stay stuck. The unedited trees of every
valid case pass; the README states how many stuck edits are caught and converging edits accepted.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from renderer import yamlio
from tests.support.cli import run_cli, shows

HERE = Path(__file__).parent
CASES = HERE / "cases" / "valid"
MUTATIONS: list[dict[str, Any]] = yamlio.load_all_plain((HERE / "verify" / "mutations.yaml").read_text("utf-8"))[0]
FIELDS = {"id", "values", "set", "file", "edit", "doc", "verdict", "stuck_in", "blocking", "source", "why"}


def _render(root: Path, values: str, sets: tuple[str, ...]) -> Path:
    out = root / "-".join([values, *(re.sub(r"[^a-z0-9]+", "_", item.lower()) for item in sets)])
    if not out.exists():
        args = [arg for item in sets for arg in ("--set", item)]
        run_cli("--out", out, "--quiet", "--no-cache", *args, CASES / values / "values.yaml", expect=0)
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("verify-base")
    return lambda values, sets: _render(root, values, tuple(sets))


def _walk(doc: Any, path: str) -> tuple[Any, Any]:
    parts = [int(part) if part.isdigit() else part for part in path.split(".")]
    for part in parts[:-1]:
        doc = doc[part]
    return doc, parts[-1]


def apply_edit(file: Path, case: dict[str, Any]) -> None:
    edit = case["edit"]
    if edit.get("remove"):
        file.unlink()
        return
    text = file.read_text("utf-8")
    for old, new in edit.get("replace", []):
        assert old in text, f"{case['id']}: {old!r} not in {file}"
        text = text.replace(old, new)
    if "set" in edit or "delete" in edit:
        docs = [doc for doc in yamlio.load_all_plain(text) if doc is not None]
        doc = docs[case.get("doc", 0)]
        for path, value in (edit.get("set") or {}).items():
            parent, last = _walk(doc, path)
            parent[last] = value
        for path in edit.get("delete") or []:
            parent, last = _walk(doc, path)
            del parent[last]
        text = "---\n".join(yamlio.dump(item) for item in docs)
    file.write_text(text, "utf-8")


def _cluster(values: str) -> str:
    data = yamlio.load_all_plain((CASES / values / "values.yaml").read_text("utf-8"))[0]
    return str(data["cluster"]["name"])


def test_the_cases_are_well_formed() -> None:
    ids = Counter(case["id"] for case in MUTATIONS)
    assert [name for name, count in ids.items() if count > 1] == []
    for case in MUTATIONS:
        assert set(case) <= FIELDS and {"id", "values", "file", "edit", "verdict", "source"} <= set(case), case["id"]
        assert case["verdict"] in ("converges", "stuck"), case["id"]
        assert (case["verdict"] == "stuck") == ("blocking" in case), case["id"]


def test_the_suite_is_large_enough_and_has_both_verdicts() -> None:
    verdicts = Counter(case["verdict"] for case in MUTATIONS)
    assert len(MUTATIONS) >= 30 and verdicts["stuck"] >= 15 and verdicts["converges"] >= 10, verdicts


@pytest.mark.parametrize("values", sorted(path.name for path in CASES.iterdir() if path.is_dir()))
def test_every_unedited_valid_tree_verifies(values: str, rendered: Any) -> None:
    out = rendered(values, [])
    run = run_cli("--verify", "--out", out, CASES / values / "values.yaml", expect=0)
    assert "every tigerastatus Available" in run.stdout


@pytest.mark.parametrize("case", MUTATIONS, ids=[case["id"] for case in MUTATIONS])
def test_mutation(case: dict[str, Any], rendered: Any, tmp_path: Path) -> None:
    sets = case.get("set") or []
    out = tmp_path / "out"
    shutil.copytree(rendered(case["values"], sets), out)
    tree = out / _cluster(case["values"])
    apply_edit(tree / case["file"], case)
    args = [arg for item in sets for arg in ("--set", item)]
    run = run_cli("--verify", "--out", out, *args, CASES / case["values"] / "values.yaml")
    if case["verdict"] == "converges":
        assert run.exit_code == 0, shows(run)
        return
    assert run.exit_code == 3, shows(run)
    blocking = case["blocking"]
    reports = [line for line in run.stderr.splitlines() if ": error: " in line]
    for delivery in case.get("stuck_in") or [""]:
        wanted = [line for line in reports if re.search(rf": error: {re.escape(delivery)}[^:]* is stuck: ", line)]
        assert wanted, f"{case['id']}: no stuck report for {delivery!r}\n{shows(run)}"
        for line in wanted:
            assert line.startswith(f"{os.path.normpath(tree / blocking['file'])}:"), f"{case['id']}: file\n{shows(run)}"
            named = "" if blocking["object"] == "-" else f"{blocking['object']}: "
            assert f" is stuck: {named}" in line, f"{case['id']}: object\n{shows(run)}"
            assert blocking["reason"] in line, f"{case['id']}: reason\n{shows(run)}"


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    values = CASES / "prod" / "values.yaml"
    run = run_cli("--verify", "--out", tmp_path, values, expect=2)
    assert "no tree here to verify" in run.stderr
    run_cli("--verify", "--check", values, expect=2)
    run_cli("--verify", "--lock", values, expect=2)


def test_the_readme_states_the_suite_as_it_is() -> None:
    readme = (HERE.parent / "README.md").read_text("utf-8")
    verdicts = Counter(case["verdict"] for case in MUTATIONS)
    stated = (f"edits rendered trees {len(MUTATIONS)} ways: all {verdicts['stuck']}\nstuck edits are caught",
              f"and all {verdicts['converges']} converging\nedits are accepted")
    flat = " ".join(readme.split())
    for text in stated:
        assert " ".join(text.split()) in flat, text
