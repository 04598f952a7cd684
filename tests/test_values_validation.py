"""Values validation beyond the schema: a value the schema accepts alone can still be refused for what it
makes. Today: the names derived from cluster.name (renderer/validate/names.py), each a label value."""

from __future__ import annotations

from pathlib import Path

import pytest

from renderer import load, model, validate
from renderer.render.engines.common import app_name
from renderer.validate import names
from tests.conftest import PROD_VALUES
from tests.support.cli import run_cli

LONGEST_SUFFIX = "-09-tigera-enterprise-resources"
"""The longest `-NN-slug` prod.yaml's stages add to the cluster name (31 characters)."""


def _values_named(tmp_path: Path, name: str) -> Path:
    text = PROD_VALUES.read_text("utf-8")
    assert "\n  name: ceosks-poc\n" in text
    path = tmp_path / "values.yaml"
    path.write_text(text.replace("\n  name: ceosks-poc\n", f"\n  name: {name}\n"), "utf-8")
    return path


def _problems(path: Path) -> list[str]:
    values = load.load([path])
    data, _ = validate.validate(values)
    return [f"{problem.file}:{problem.line}:{problem.column}: {problem.key_path}: {problem.message} ({problem.hint})"
            for problem in names.derived_name_problems(values, model.build(data))]


def test_the_longest_derived_name_is_the_enterprise_resources_application() -> None:
    values = load.load([PROD_VALUES])
    cluster_model = model.build(validate.validate(values)[0])
    longest = max((app_name(cluster_model, stage) for stage in cluster_model.git_stages), key=len)
    assert longest == f"ceosks-poc{LONGEST_SUFFIX}"
    assert names.MAX_LABEL_VALUE - len(LONGEST_SUFFIX) == 32


def test_a_cluster_name_that_fills_the_label_exactly_is_accepted(tmp_path: Path) -> None:
    assert _problems(_values_named(tmp_path, "a" * 32)) == []


def test_one_character_more_is_refused_at_cluster_name_with_the_length_that_fits(tmp_path: Path) -> None:
    path = _values_named(tmp_path, "b" * 33)
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}:4:9: cluster.name: ")  # where the name is written, not where it is used
    assert f"'{'b' * 33}{LONGEST_SUFFIX}', 64 characters; at most 63 fit a Kubernetes label value" in problem
    assert problem.endswith("(use a cluster name of at most 32 characters)")


@pytest.mark.parametrize("length", [40, 63])
def test_the_hint_counts_what_the_longest_suffix_leaves(tmp_path: Path, length: int) -> None:
    (problem,) = _problems(_values_named(tmp_path, "c" * length))
    assert f"{length + len(LONGEST_SUFFIX)} characters" in problem
    assert problem.endswith("(use a cluster name of at most 32 characters)")


def test_render_refuses_a_name_too_long_for_its_applications_with_exit_2(tmp_path: Path) -> None:
    path = _values_named(tmp_path, "d" * 33)
    run = run_cli(path, "--out", tmp_path / "out", expect=2)
    assert f"{path}:4:9: error: cluster.name: " in run.stderr
    assert not (tmp_path / "out").exists()  # nothing half-written


def _described(schema: dict, instance: object) -> list[tuple[tuple, str]]:  # type: ignore[type-arg]
    import jsonschema

    from renderer.validate.describe import describe

    validator = jsonschema.Draft202012Validator(schema)
    return [found for error in validator.iter_errors(instance) for found in describe(error)]


def test_an_unknown_key_is_named_at_its_own_path_with_the_closest_allowed_key() -> None:
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"engine": {"type": "string"}, "revision": {"type": "string"}}}
    assert _described({"type": "object", "properties": {"gitops": schema}}, {"gitops": {"engnie": "argocd"}}) == [
        (("gitops", "engnie"), "unknown key (did you mean 'engine'?); expected one of: engine, revision")]


def test_a_wrong_type_says_what_was_expected_and_what_was_found() -> None:
    schema = {"type": "object", "properties": {"size": {"type": "integer"}}}
    assert _described(schema, {"size": "three"}) == [(("size",), 'expected an integer, got a string "three"')]


def test_each_duplicate_list_item_is_named_at_its_index() -> None:
    schema = {"type": "array", "uniqueItems": True}
    assert _described(schema, ["a", "b", "a", "a"]) == [
        ((2,), '"a" appears more than once; each item may appear once'),
        ((3,), '"a" appears more than once; each item may appear once')]
