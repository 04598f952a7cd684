"""The simulator's reading of a tree: what a kustomize build of a stage directory holds and applies first
(simulate/content.py), the bootstrap played in its script's own STEPS order (simulate/bootstrap.py), and the
object `render --verify` names as the first blocker of a stuck delivery (simulate/verify.py)."""

from __future__ import annotations

from typing import Any

import pytest

from renderer import load, model, render, validate
from renderer.load import overrides
from renderer.simulate import bootstrap, content, play, verify
from renderer.simulate.cluster import ApplyError
from tests.conftest import PROD_VALUES


def build(*sets: str) -> tuple[model.Model, dict[str, str]]:
    loaded = overrides.apply(load.load([PROD_VALUES]), list(sets), validate.values_schema())
    cluster_model = model.build(validate.validate(loaded)[0])
    return cluster_model, render.render(cluster_model)


MODEL, TREE = build()
SCRIPT = TREE["bootstrap.sh"]


def _row(step: str) -> str:
    (row,) = [line for line in SCRIPT.splitlines() if line.startswith(f"  '{step}|")]
    return row


# --- a stage directory as kustomize builds it -----------------------------------------------------------

def test_a_local_stage_holds_the_objects_of_its_files_each_traced_to_its_file() -> None:
    built = content.build(TREE, "06-tigera-custom-resources", None)
    assert not built.opaque and built.remote == [] and built.outside_root == []
    assert sorted((obj["kind"], path) for (_, _, _, _), path in built.files.items()
                  for obj in built.objects if path.endswith(f"{obj['kind'].lower()}.yaml")) == [
        ("APIServer", "06-tigera-custom-resources/apiserver.yaml"),
        ("Installation", "06-tigera-custom-resources/installation.yaml")]


def test_a_remote_manifest_is_opaque_and_remembered_by_its_url() -> None:
    built = content.build(TREE, "03-tigera-operator", None)
    assert built.opaque and built.objects == []
    assert built.remote == [(f"https://downloads.tigera.io/ee/{MODEL.values.tigera.version}/manifests/"
                             "tigera-operator.yaml", "")]
    assert built.origin == "03-tigera-operator/kustomization.yaml"


def _kustomization(*resources: str) -> str:
    return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" + "".join(
        f"  - {resource}\n" for resource in resources)


def test_a_file_outside_the_root_that_the_tree_lacks_is_an_encrypted_repository_file() -> None:
    tree = {"07-license/kustomization.yaml": _kustomization("../../../secrets/license.enc.yaml")}
    built = content.build(tree, "07-license", None)
    assert built.outside_root == ["../../../secrets/license.enc.yaml"] and built.encrypted


@pytest.mark.parametrize(("tree", "message"), [
    ({"s/kustomization.yaml": _kustomization("gone.yaml")},
     "kustomize build s: accumulating resources: 'gone.yaml': no such file (file s/kustomization.yaml)"),
    ({"s/x.yaml": "kind: ConfigMap\n"}, "s: no kustomization.yaml"),
    ({"s/kustomization.yaml": _kustomization("bad.yaml"), "s/bad.yaml": "a: [1\n"},
     "kustomize build s: bad.yaml does not parse as YAML: "),
])
def test_a_build_that_fails_names_the_file_at_fault(tree: dict[str, str], message: str) -> None:
    with pytest.raises(ApplyError) as failed:
        content.build(tree, "s", None)
    assert str(failed.value).startswith(message)


class _Recorder:
    def __init__(self) -> None:
        self.applied: list[tuple[str, str]] = []

    def apply(self, obj: dict[str, Any], file: str) -> None:
        self.applied.append((obj["kind"], file))


def test_namespaces_and_crds_are_applied_first_whatever_the_file_order() -> None:
    tree = {"s/kustomization.yaml": _kustomization("cm.yaml", "crd.yaml", "ns.yaml"),
            "s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\n",
            "s/crd.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: w}\n",
            "s/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n"}
    cluster = _Recorder()
    content.apply(cluster, content.build(tree, "s", None))  # type: ignore[arg-type]
    assert cluster.applied == [("Namespace", "s/ns.yaml"), ("CustomResourceDefinition", "s/crd.yaml"),
                               ("ConfigMap", "s/cm.yaml")]


# --- the bootstrap in its script's order ----------------------------------------------------------------

def test_the_steps_table_is_read_in_the_scripts_order_with_its_waits() -> None:
    steps = bootstrap.steps_on_disk(SCRIPT)
    assert steps is not None and steps[0] == ("preflight", ()) and steps[-1][0] == "handover"
    assert ("08-bypass-policies", ("api:projectcalico.org/v3", "tier:operator")) in steps
    names = [name for name, _ in steps]
    assert names.index("nodepool") < names.index("07-license") < names.index("08-bypass-policies")
    assert bootstrap.steps_on_disk("#!/bin/sh\necho hand-edited\n") is None


def _bootstrap_problems(script: str) -> list[str]:
    return play(MODEL, {**TREE, "bootstrap.sh": script})[0].problems


def test_a_script_without_its_steps_table_runs_nothing() -> None:
    assert _bootstrap_problems("#!/bin/sh\n") == [
        "bootstrap.sh: no STEPS table (the script runs nothing it does not list) (file bootstrap.sh)"]


def test_a_wait_the_script_has_no_function_for_stops_the_step() -> None:
    row = _row("08-bypass-policies")
    assert _bootstrap_problems(SCRIPT.replace(row, row.replace(" tier:operator", " tier:nope bogus:x"))) == [
        "step 08-bypass-policies: bootstrap.sh has no wait for bogus:x (file bootstrap.sh)"]


def test_the_bypass_before_the_license_times_out_waiting_for_the_tier() -> None:
    license_row, bypass_row = _row("07-license"), _row("08-bypass-policies")
    swapped = SCRIPT.replace(license_row, "@@").replace(bypass_row, license_row).replace("@@", bypass_row)
    (outcome, *_engines) = play(MODEL, {**TREE, "bootstrap.sh": swapped})
    assert outcome.problems == ["step 08-bypass-policies: timed out waiting for tier:operator"]
    # the first blocker is the tier's component, waiting (with the operator's own message) for the license
    assert outcome.blocking == ("06-tigera-custom-resources/installation.yaml", "Installation default",
                                "tigerastatus tiers: License not found: license")


def test_a_dropped_wait_is_played_as_the_script_stands() -> None:
    row = _row("08-bypass-policies")
    (outcome, *_engines) = play(MODEL, {**TREE, "bootstrap.sh": SCRIPT.replace(row, row.replace(" tier:operator", ""))})
    reason = "GlobalNetworkPolicy allow-tigera.apiserver-endpoint-bypass: tier 'allow-tigera' not found"
    assert outcome.problems == [f"step 08-bypass-policies: {reason}"]
    assert outcome.blocking == ("08-bypass-policies/globalnetworkpolicy.yaml",
                                "GlobalNetworkPolicy allow-tigera.apiserver-endpoint-bypass", reason)


# --- what --verify names ---------------------------------------------------------------------------------

def test_each_object_is_indexed_under_the_first_file_that_holds_it() -> None:
    where = verify.index({"b.yaml": "kind: ConfigMap\nmetadata: {name: c, namespace: n}\n",
                          "a.yaml": "kind: ConfigMap\nmetadata: {name: c, namespace: n}\n",
                          "broken.yaml": "a: [1\n", "notes.txt": "kind: Secret\n"})
    assert where == {("", "ConfigMap", "n", "c"): "a.yaml"}
    assert verify.describe(("", "ConfigMap", "n", "c")) == "ConfigMap n/c"
    assert verify.describe(("projectcalico.org", "Tier", "", "allow-tigera")) == "Tier allow-tigera"


def test_a_file_that_is_not_utf8_is_left_out_and_named() -> None:
    tree, broken = verify.read_tree({"a.yaml": b"kind: A\n", "b.yaml": "kind: B\n".encode("utf-16")})
    assert tree == {"a.yaml": "kind: A\n"} and broken == [("b.yaml", "not UTF-8")]


def test_the_line_of_an_object_is_its_kind_line_in_the_document_naming_it() -> None:
    text = ("kind: ConfigMap\nmetadata:\n  name: other\n---\n# second\nkind: ConfigMap\nmetadata:\n"
            "  name: \"wanted\"\n  namespace: n\n")
    assert verify.line_of(text, "ConfigMap n/wanted") == 6
    assert verify.line_of(text, "ConfigMap n/missing") == 0
    assert verify.line_of(text, "Secret n/wanted") == 0
