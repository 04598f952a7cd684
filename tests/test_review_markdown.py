"""The PR markdown a reviewer wants (`render --diff --format markdown`, `render --plan --format markdown`):
each changed field with its old and new value (Helm values and bootstrap steps included, secrets masked),
and the rollout as a Mermaid graph beside the text plan (renderer/cli/review.py, renderer/model/graph.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from renderer import load, model, validate
from renderer.cli import diff, review
from renderer.load import overrides
from renderer.model import graph
from tests.conftest import PROD_VALUES
from tests.support.cli import run_cli

CLUSTER = "ceosks-poc"


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """out/ holding the prod render, in a scratch working directory."""
    monkeypatch.chdir(tmp_path)
    run_cli(PROD_VALUES, expect=0)
    return tmp_path / "out"


def field_rows(markdown: str) -> list[list[str]]:
    """The cells of the `Changed fields` table rows."""
    section = markdown.split("#### Changed fields\n", 1)[1].lstrip("\n").split("\n\n", 1)[0]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in section.splitlines()[2:]]


def test_a_helm_value_is_shown_field_by_field_in_every_place_it_lands(out: Path) -> None:
    markdown = run_cli("--diff", "--format", "markdown", PROD_VALUES, "--set", "longhorn.replicas=3",
                       expect=1).stdout
    rows = field_rows(markdown)
    assert ["`01-longhorn/kustomization.yaml`", "Kustomization",
            "`helmCharts[0].valuesInline.defaultSettings.defaultReplicaCount`", "`2`", "`3`"] in rows
    assert ["`argocd/apps/01-longhorn.yaml`", "Application argocd/ceosks-poc-01-longhorn",
            "`spec.source.helm.valuesObject.defaultSettings.defaultReplicaCount`", "`2`", "`3`"] in rows
    assert ["`bootstrap.sh`", "function stage_01_longhorn", "`helm values.defaultSettings.defaultReplicaCount`",
            "`2`", "`3`"] in rows  # the JSON the bootstrap's helm install passes, field by field
    assert ["`02-storageclass/storageclass.yaml`", "StorageClass tigera-elasticsearch", "`parameters.numberOfReplicas`",
            "`2`", "`3`"] in rows


def test_a_bootstrap_setting_and_step_change_is_shown_old_and_new(out: Path) -> None:
    markdown = run_cli("--diff", "--format", "markdown", PROD_VALUES, "--set", "nodepool.size=3", expect=1).stdout
    rows = field_rows(markdown)
    assert ["`bootstrap.sh`", "settings", "`NODEPOOL_ARGS[0]`", "`--size 2`", "`--size 3`"] in rows
    steps = [row for row in rows if row[2].startswith("`STEPS[")]
    assert steps and "(2 nodes)" in steps[0][3] and "(3 nodes)" in steps[0][4]
    assert "\\|step_nodepool\\|" in steps[0][3]  # a pipe inside a cell is escaped, the table keeps its columns


def test_no_change_has_no_field_table(out: Path) -> None:
    markdown = run_cli("--diff", "--format", "markdown", PROD_VALUES, expect=0).stdout
    assert "Changed fields" not in markdown


def test_a_changed_secret_value_is_listed_but_masked() -> None:
    old = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: n\ndata:\n  token: b2xkLXNlY3JldA==\n"
    new = old.replace(b"b2xkLXNlY3JldA==", b"bmV3LXNlY3JldA==")
    rows = review.yaml_changes("05/secret.yaml", old, new, diff.mask_doc)
    assert rows == [review.FieldChange("05/secret.yaml", "Secret n/s", "data.token", "<masked>", "<masked>")]


def test_a_secret_shaped_value_elsewhere_is_redacted_in_the_table() -> None:
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    old = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  note: plain\n"
    new = old.replace(b"plain", token.encode())
    rows = review.yaml_changes("x/cm.yaml", old, new, diff.mask_doc)
    assert [row.field for row in rows] == ["data.note"]
    table = "\n".join(review.fields_section_rows(rows))
    assert token not in table and "data.note" in table


def test_cells_keep_the_table_intact() -> None:
    assert review.cell("a|b") == "`a\\|b`"
    assert review.cell("x `y` z") == "``x `y` z``"
    assert review.cell(review.ABSENT) == review.ABSENT


_MERMAID_LINE = re.compile(
    r'^(flowchart TB|  subgraph \w+\["[^"]*"\]|    direction LR|  end|    \w+\["[^"]*"\]|'
    r'    \w+( --> \w+)+|  bootstrap -->\|[a-z ]+\| \w+)$')


def _model(*sets: str):  # type: ignore[no-untyped-def]
    values = overrides.apply(load.load([PROD_VALUES]), list(sets), validate.values_schema())
    return model.build(validate.validate(values)[0])


@pytest.mark.parametrize("engine", ["argocd", "flux", "both"])
def test_the_rollout_graph_is_the_models_order(engine: str) -> None:
    built = _model(f"gitops.engine={engine}")
    text = graph.mermaid(built)
    assert all(_MERMAID_LINE.match(line) for line in text.splitlines()), text
    chain = next(line for line in text.splitlines() if line.startswith("    b0 --> "))
    assert chain.strip().split(" --> ") == [f"b{index}" for index in range(len(built.bootstrap))]
    for prefix, name in (("a", "argocd"), ("f", "flux")):
        if name not in built.engines:
            assert f"subgraph {name}[" not in text
            continue
        edges = {(f"{prefix}{dep.position}", f"{prefix}{placed.stage.position}")
                 for placed in built.rollout for dep in placed.depends_on}
        shown = {tuple(line.strip().split(" --> ")) for line in text.splitlines()
                 if re.fullmatch(rf"    {prefix}\d+ --> {prefix}\d+", line)}
        assert edges and shown == edges
        for placed in built.rollout:
            assert placed.stage.directory in text


def test_plan_markdown_puts_the_graph_beside_the_text_plan(tmp_path: Path) -> None:
    markdown = run_cli("--plan", "--format", "markdown", PROD_VALUES, "--out", tmp_path, expect=0).stdout
    plan = run_cli("--plan", PROD_VALUES, "--out", tmp_path, expect=0).stdout
    assert markdown.startswith(f"## Rollout plan for `{CLUSTER}`\n\n#### Rollout\n\n```mermaid\nflowchart TB\n")
    assert f"```text\n{plan}```\n" in markdown
    assert markdown.index("```mermaid") < markdown.index("```text")


def test_diff_markdown_carries_the_graph_and_the_plan(out: Path) -> None:
    markdown = run_cli("--diff", "--format", "markdown", PROD_VALUES, "--set", "nodepool.size=3", expect=1).stdout
    assert markdown.index("#### Changed fields") < markdown.index("```mermaid") < markdown.index(
        "<details><summary>Rollout plan")
