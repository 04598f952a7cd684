"""The values records (renderer/model/records.py): frozen, typed, strict in templates, and lossless."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path
from typing import Any

import jinja2
import pytest

from renderer import load, model, validate
from renderer.errors import TemplateError
from renderer.model import records
from renderer.render.jinja import environment, render_template
from tests.conftest import PROD_VALUES

VALID = Path(__file__).parent / "cases" / "valid"
CASES = sorted(path.name for path in VALID.iterdir() if path.is_dir())


def validated(path: Path) -> dict[str, Any]:
    data, _warnings = validate.validate(load.load([path]))
    return data


@pytest.fixture(scope="module")
def prod() -> records.Values:
    return model.build(validated(PROD_VALUES)).values


def test_the_model_carries_records(prod: records.Values) -> None:
    assert isinstance(prod, records.Values)
    assert isinstance(prod.tigera.customResources, records.CustomResources)
    assert isinstance(prod.secrets.pullSecret, records.PullSecret)
    assert isinstance(prod.gitops.automated, records.Automated)


def test_prod_values_as_attributes(prod: records.Values) -> None:
    assert prod.cluster.name == "ceosks-poc"
    assert prod.cluster.zone == "at-vie-1"
    assert prod.cluster.kubernetesVersion == "1.31.1"
    assert prod.cluster.description == ""  # schema default
    assert prod.apiServer.endpointPort == 30925
    assert prod.apiServer.endpointIP is None  # optional, not set: absent, not ""
    assert prod.kubeconfig.ttlSeconds == 604800
    assert prod.nodepool.securityGroups == ("ceosks-poc",)
    assert prod.nodepool.antiAffinityGroups == ()
    assert dict(prod.nodepool.labels) == {}
    assert prod.nodepool.taints == ()
    assert prod.longhorn.replicas == 2
    assert prod.storageClass.numberOfReplicas == 2  # derived from longhorn.replicas
    assert prod.tigera.version == "v3.19.2"
    assert prod.tigera.encapsulation == "VXLAN"
    assert prod.tigera.podCIDR == "192.168.0.0/16"
    assert prod.tigera.customResources.logStorage is True
    assert prod.secrets.pullSecret.provider == "bootstrap"
    assert prod.secrets.pullSecret.storeName is None
    assert prod.secrets.license.encryptedFile is None
    assert prod.bypass.tier == "allow-tigera"  # derived from tigera.version
    assert prod.bypass.namespaces == ("calico-system", "tigera-eck-operator", "tigera-packetcapture",
                                      "tigera-prometheus")
    assert prod.gitops.engine == "argocd"
    assert prod.gitops.path == "out/ceosks-poc"  # derived from cluster.name
    assert prod.gitops.automated.selfHeal is True
    assert prod.gitops.fluxSecretName is None


def test_nested_records_of_every_kind() -> None:
    values = model.build(validated(VALID / "everything-set" / "values.yaml")).values
    assert values.nodepool.taints == (records.Taint("dedicated", "calico", "NoSchedule"),
                                      records.Taint("example.com/spot", "true", "PreferNoSchedule"))
    assert dict(values.nodepool.labels) == {"node.example.com/role": "yes", "tier": "1.10"}
    assert values.apiServer.endpointIP == "10.0.0.1"
    assert values.secrets.pullSecret.remoteProperty is None
    assert values.secrets.license.encryptedFile == "licenses/full.yaml"


def test_records_are_frozen_all_the_way_down(prod: records.Values) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        prod.cluster = prod.cluster  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        prod.tigera.customResources.manager = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        prod.gitops.path = "elsewhere"  # type: ignore[misc]
    with pytest.raises(TypeError):
        prod.nodepool.labels["x"] = "y"  # type: ignore[index]
    assert isinstance(prod.bypass.namespaces, tuple)


def test_records_pickle(prod: records.Values) -> None:
    """A fleet's workers send models back through a pipe (renderer/cache/parallel.py)."""
    values = model.build(validated(VALID / "everything-set" / "values.yaml")).values
    assert pickle.loads(pickle.dumps(values)) == values
    assert pickle.loads(pickle.dumps(prod)) == prod


def test_building_records_does_not_touch_the_validated_data() -> None:
    data = validated(PROD_VALUES)
    before = copy.deepcopy(data)
    model.build(data)
    assert data == before


def test_a_key_that_is_no_field_is_a_model_bug() -> None:
    with pytest.raises(TypeError, match="nope"):
        records.Automated.from_data({"prune": True, "selfHeal": True, "nope": 1})
    with pytest.raises(TypeError, match="selfHeal"):
        records.Automated.from_data({"prune": True})


def test_strict_undefined_still_fails_on_records(prod: records.Values) -> None:
    """A template reading an attribute a record lacks fails, naming the template, instead of rendering ''."""
    built = model.build(validated(PROD_VALUES))
    assert render_template("stages/longhorn/namespace.yaml.j2", v=prod, m=built).endswith("longhorn-system\n")
    broken = dataclasses.replace(prod, longhorn=prod.kubeconfig)  # a record without `namespace`
    with pytest.raises(TemplateError) as caught:
        render_template("stages/longhorn/namespace.yaml.j2", v=broken, m=built)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == ("templates/stages/longhorn/namespace.yaml.j2", 4)
    assert "StrictUndefined" in problem.message  # the q filter refuses it, as it refused a missing dict key
    with pytest.raises(jinja2.UndefinedError, match="has no attribute 'nope'"):
        environment().from_string("{{ v.cluster.nope }}").render(v=prod)


@pytest.mark.parametrize("name", CASES)
def test_plain_data_round_trips(name: str) -> None:
    """as_data() gives back exactly the validated dict with the derived defaults, for every valid case."""
    data = validated(VALID / name / "values.yaml")
    derived = model.derive_defaults(copy.deepcopy(data))
    values = model.build(data).values
    assert values.as_data() == derived
    assert records.Values.from_data(values.as_data()) == values
    # Nothing is lost or invented: every validated key is there, with the same value.
    for section, content in data.items():
        if not isinstance(content, dict):  # a list section (acknowledge) comes back whole
            assert values.as_data()[section] == content
            continue
        assert {key: value for key, value in values.as_data()[section].items() if key in content} == content
