"""Output validation: every rendered core object is checked against the strict Kubernetes schema of the
cluster's minor version (renderer/check/kube.py) before anything is written."""

from __future__ import annotations

import re
from typing import Any

import pytest

from renderer.check import kube

MINOR = "1.31"


def _deployment(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}, **spec}}


@pytest.mark.parametrize(("api_version", "kind", "file"), [
    ("v1", "ConfigMap", "configmap-v1.json"),
    ("apps/v1", "Deployment", "deployment-apps-v1.json"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterrole-rbac-v1.json"),  # the group's first label
    ("networking.k8s.io/v1", "NetworkPolicy", "networkpolicy-networking-v1.json"),
])
def test_each_kind_reads_the_schema_file_of_its_group_and_version(api_version: str, kind: str, file: str) -> None:
    path = kube.schema_file(MINOR, api_version, kind)
    assert (path.parent.name, path.name) == ("v1.31.0-local-strict", file)
    assert path.is_file()


def test_a_valid_object_has_no_problem() -> None:
    assert kube.problems(_deployment(replicas=2), MINOR) == []


def test_every_problem_is_reported_at_its_dotted_path_sorted() -> None:
    broken = _deployment(replicas="2")
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 3
    broken["spec"]["template"]["spec"]["containers"][0]["bogus"] = True
    assert kube.problems(broken, MINOR) == [
        "spec.replicas: '2' is not of type 'integer', 'null'",
        "spec.template.spec.containers.0.imagePullPolicy: 3 is not of type 'string', 'null'",
        "spec.template.spec.containers.0: Additional properties are not allowed ('bogus' was unexpected)",
    ]


def test_the_strict_schema_refuses_an_unknown_top_level_field_listed_first() -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": 1}, "datta": {}}
    assert kube.problems(config_map, MINOR) == [  # jsonschema finds data.a first: the order is ours
        "(root): Additional properties are not allowed ('datta' was unexpected)",
        "data.a: 1 is not of type 'string', 'null'"]


def test_a_kind_unknown_at_the_clusters_version_is_named_with_the_version() -> None:
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": "p"}, "spec": {}}
    unknown = "no Kubernetes 1.29 schema for admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy"
    with pytest.raises(kube.UnknownKind, match=re.escape(unknown)):
        kube.problems(policy, "1.29")  # GA in 1.30
    assert kube.problems(policy, "1.30") == []


def test_each_validator_is_compiled_once_per_version_and_kind() -> None:
    first = kube.validator(MINOR, "v1", "ConfigMap")
    assert kube.validator(MINOR, "v1", "ConfigMap") is first
    assert kube.validator("1.30", "v1", "ConfigMap") is not first
