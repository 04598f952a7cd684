"""Output every linter accepts: yamllint (its default rules, .yamllint.yaml) finds nothing in any rendered tree.

Strict: a warning fails as an error does. The trees: the committed out/, every valid case, every
snapshot variant of tests/test_tree.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from yamllint import linter
from yamllint.config import YamlLintConfig

from tests.conftest import PROD_VALUES, REPO_ROOT
from tests.support.cli import run_cli
from tests.test_tree import VARIANTS

CONFIG_FILE = REPO_ROOT / ".yamllint.yaml"
VALID = sorted(path.name for path in (REPO_ROOT / "tests" / "cases" / "valid").iterdir() if path.is_dir())


def lint_tree(root: Path) -> list[str]:
    """Every problem yamllint finds in the tree's YAML files, as `path:line:col: [level] message (rule)`."""
    config = YamlLintConfig(file=str(CONFIG_FILE))
    files = sorted(path for path in root.rglob("*") if path.is_file() and path.suffix in (".yaml", ".yml"))
    assert files, f"no YAML under {root}"
    return [f"{path.relative_to(root)}:{problem.line}:{problem.column}: [{problem.level}] {problem.message} "
            f"({problem.rule})"
            for path in files for problem in linter.run(path.read_text("utf-8"), config, str(path))]


def test_the_config_is_yamllints_default_with_two_stated_exceptions() -> None:
    config = YamlLintConfig(file=str(CONFIG_FILE))
    default = YamlLintConfig("extends: default")
    changed = {rule for rule in {**default.rules, **config.rules} if config.rules.get(rule) != default.rules.get(rule)}
    assert changed == {"document-start", "line-length"}
    assert config.rules["document-start"] is False and config.rules["line-length"] is False


def test_committed_out_passes_yamllint() -> None:
    assert lint_tree(REPO_ROOT / "out") == []


@pytest.mark.parametrize("name", VALID)
def test_every_valid_case_passes_yamllint(name: str, tmp_path: Path) -> None:
    run_cli(REPO_ROOT / "tests" / "cases" / "valid" / name / "values.yaml", "--out", tmp_path, expect=0)
    assert lint_tree(tmp_path) == []


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_snapshot_variant_passes_yamllint(variant: str, tmp_path: Path) -> None:
    run_cli(PROD_VALUES, "--out", tmp_path, *VARIANTS[variant], expect=0)
    assert lint_tree(tmp_path) == []
