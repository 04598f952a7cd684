"""The derived CRD schemas accept what the clusters accept and name every typo.

Everything here runs against the committed ``schemas/crds`` tree and the upstream CRDs
in ``../shared/crds``; nothing is mocked. Rendering every schema from the upstream CRDs takes
seconds of YAML parsing, so the tests that need it share one rendering per session.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped,unused-ignore]

from devtools import crdschemas
from renderer.check.crds import (
    SchemaMissing,
    custom_object_problems,
    schemas_dir,
    tigera_schema_set,
)
from renderer.model import kinds
from renderer.model.series import SERIES
from tests.support.shared import once

REPO = Path(__file__).resolve().parent.parent
TIGERA_VERSIONS = ("v3.19.2", "v3.23.1")
needs_sources = pytest.mark.skipif(
    not crdschemas.DEFAULT_SRC.is_dir(), reason="upstream CRDs (../shared/crds) not present"
)


def obj(api_version: str, kind: str, spec: dict[str, Any], **metadata: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": metadata or {"name": "default"},
        "spec": spec,
    }


def renamed(document: dict[str, Any], dotted: str, new_key: str) -> dict[str, Any]:
    """A copy with the key at ``dotted`` (list indices as numbers) renamed, i.e. a typo."""
    result = copy.deepcopy(document)
    *parents, last = dotted.split(".")
    node: Any = result
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[new_key] = node.pop(last)
    return result


INSTALLATION = obj(
    "operator.tigera.io/v1",
    "Installation",
    {"variant": "TigeraSecureEnterprise", "imagePullSecrets": [{"name": "tigera-pull-secret"}]},
)

EGRESS_TO_API = {"action": "Allow", "protocol": "TCP", "destination": {"ports": [30925]}}
NETWORK_POLICY = obj(
    "projectcalico.org/v3",
    "NetworkPolicy",
    {
        "tier": "platform",
        "order": 0,
        "selector": "all()",
        "types": ["Egress"],
        "egress": [EGRESS_TO_API],
    },
    name="platform.allow-kube-apiserver",
    namespace="default",
)


# --- Tigera kinds, per schema set --------------------------------------------------


@pytest.mark.parametrize("version", TIGERA_VERSIONS)
def test_minimal_installation_is_valid(version: str) -> None:
    assert custom_object_problems(INSTALLATION, version) == []


@pytest.mark.parametrize("version", TIGERA_VERSIONS)
def test_typo_in_installation_is_reported_at_its_path(version: str) -> None:
    typo = renamed(INSTALLATION, "spec.variant", "varient")
    assert custom_object_problems(typo, version) == ["spec.varient: unknown field (did you mean 'variant'?)"]


@pytest.mark.parametrize("version", TIGERA_VERSIONS)
def test_wrong_enum_value_is_reported(version: str) -> None:
    wrong = copy.deepcopy(INSTALLATION)
    wrong["spec"]["variant"] = "Enterprise"
    assert custom_object_problems(wrong, version) == [
        "spec.variant: 'Enterprise' is not one of ['Calico', 'TigeraSecureEnterprise']"
    ]


@pytest.mark.parametrize("version", TIGERA_VERSIONS)
def test_all_problems_are_reported_sorted(version: str) -> None:
    broken = renamed(INSTALLATION, "spec.variant", "varient")
    broken["metadata"] = {"namespace": "calico-system", "labels": {"team": 1}}
    assert custom_object_problems(broken, version) == [
        "metadata.labels.team: 1 is not of type 'string'",
        "metadata.namespace: not allowed, this kind is cluster-scoped",
        "metadata: 'name' is a required property",
        "spec.varient: unknown field (did you mean 'variant'?)",
    ]


@pytest.mark.parametrize("version", TIGERA_VERSIONS)
def test_network_policy_is_valid(version: str) -> None:
    assert custom_object_problems(NETWORK_POLICY, version) == []


@pytest.mark.parametrize("version", TIGERA_VERSIONS)
def test_destination_services_exists_in_both_releases(version: str) -> None:
    policy = copy.deepcopy(NETWORK_POLICY)
    policy["spec"]["egress"][0]["destination"] = {"services": {"name": "kubernetes", "namespace": "default"}}
    assert custom_object_problems(policy, version) == []


@pytest.mark.parametrize("version", TIGERA_VERSIONS)
def test_services_with_ports_is_schema_valid_but_a_known_gap(version: str) -> None:
    """Both releases refuse ports next to destination.services (3.19 in its API server
    validation, 3.23 in a CEL rule), which no offline JSON Schema check can see."""
    policy = copy.deepcopy(NETWORK_POLICY)
    policy["spec"]["egress"][0]["destination"]["services"] = {"name": "kubernetes"}
    assert custom_object_problems(policy, version) == []


def test_the_dropped_services_rule_is_recorded() -> None:
    path = schemas_dir() / "tigera-v3.23/projectcalico.org/v3/networkpolicy.json"
    dropped = json.loads(path.read_text())["x-dropped-validations"]
    messages = {rule["message"] for rule in dropped["rules"]}
    assert "ports and notPorts cannot be specified with services" in messages
    assert dropped["count"] == len(dropped["rules"]) == 10


@pytest.mark.parametrize("version", TIGERA_VERSIONS)
def test_typo_deep_in_a_policy_rule(version: str) -> None:
    typo = renamed(NETWORK_POLICY, "spec.egress.0.destination.ports", "port")
    assert custom_object_problems(typo, version) == [
        "spec.egress[0].destination.port: unknown field (did you mean 'ports'?)"
    ]


def test_rule_action_enum_only_exists_in_3_23() -> None:
    policy = copy.deepcopy(NETWORK_POLICY)
    policy["spec"]["egress"][0]["action"] = "allow"
    assert custom_object_problems(policy, "v3.19.2") == []
    assert custom_object_problems(policy, "v3.23.1") == [
        "spec.egress[0].action: 'allow' is not one of ['Allow', 'Deny', 'Log', 'Pass']"
    ]


# --- common kinds (Argo CD, Flux, External Secrets) -------------------------------

# kind: (valid object, key to misspell, misspelling, expected problems)
COMMON_CASES: dict[str, tuple[dict[str, Any], str, str, list[str]]] = {
    "ApplicationSet": (  # hub mode's one per hub (devtools/crds: argo-cd v3.5.1)
        obj(
            "argoproj.io/v1alpha1",
            "ApplicationSet",
            {
                "goTemplate": True,
                "generators": [{"git": {"repoURL": "https://git.example.com/r.git", "revision": "main",
                                        "files": [{"path": "out/*/argocd/hub-hub.json"}]}}],
                "template": {"metadata": {"name": "{{.cluster}}-root"},
                             "spec": {"project": "hub-roots",
                                      "source": {"repoURL": "https://git.example.com/r.git",
                                                 "path": "{{.path.path}}/apps"},
                                      "destination": {"server": "https://kubernetes.default.svc",
                                                      "namespace": "argocd"}}},
            },
            name="hub-clusters",
        ),
        "spec.generators.0.git.files.0.path",
        "pth",
        [
            "spec.generators[0].git.files[0].pth: unknown field (did you mean 'path'?)",
            "spec.generators[0].git.files[0]: 'path' is a required property",
        ],
    ),
    "Application": (
        obj(
            "argoproj.io/v1alpha1",
            "Application",
            {
                "project": "default",
                "source": {
                    "repoURL": "https://git.example.invalid/gitops.git",
                    "targetRevision": "main",
                    "path": "clusters/prod",
                },
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"},
                "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
            },
            name="platform",
            namespace="argocd",
        ),
        "spec.syncPolicy.automated.selfHeal",
        "selfheal",
        [
            "spec.syncPolicy.automated.selfheal: unknown field (did you mean 'selfHeal'?)",
        ],
    ),
    "AppProject": (
        obj(
            "argoproj.io/v1alpha1",
            "AppProject",
            {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]},
            name="platform",
            namespace="argocd",
        ),
        "spec.sourceRepos",
        "sourceRepo",
        [
            "spec.sourceRepo: unknown field (did you mean 'sourceRepos'?)",
        ],
    ),
    "Kustomization": (
        obj(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            {
                "interval": "10m",
                "path": "./clusters/prod/tigera",
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": "gitops"},
                "dependsOn": [{"name": "tigera-crds"}],
            },
            name="tigera",
            namespace="flux-system",
        ),
        "spec.dependsOn",
        "dependsOnn",
        [
            "spec.dependsOnn: unknown field (did you mean 'dependsOn'?)",
        ],
    ),
    "GitRepository": (
        obj(
            "source.toolkit.fluxcd.io/v1",
            "GitRepository",
            {
                "interval": "1m",
                "url": "https://git.example.invalid/gitops.git",
                "ref": {"branch": "main"},
            },
            name="gitops",
            namespace="flux-system",
        ),
        "spec.ref.branch",
        "brnach",
        [
            "spec.ref.brnach: unknown field (did you mean 'branch'?)",
        ],
    ),
    "HelmRepository": (
        obj(
            "source.toolkit.fluxcd.io/v1",
            "HelmRepository",
            {"interval": "1h", "url": "https://charts.example.invalid"},
            name="tigera",
            namespace="flux-system",
        ),
        "spec.interval",
        "intervall",
        [
            "spec.intervall: unknown field (did you mean 'interval'?)",
        ],
    ),
    "HelmRelease": (
        obj(
            "helm.toolkit.fluxcd.io/v2",
            "HelmRelease",
            {
                "interval": "10m",
                "chart": {
                    "spec": {
                        "chart": "tigera-operator",
                        "version": "v3.19.2",
                        "sourceRef": {"kind": "HelmRepository", "name": "tigera"},
                    }
                },
                "values": {"anything": {"goes": ["here"]}},
            },
            name="tigera-operator",
            namespace="flux-system",
        ),
        "spec.chart.spec.version",
        "versoin",
        [
            "spec.chart.spec.versoin: unknown field (did you mean 'version'?)",
        ],
    ),
    "ExternalSecret": (
        obj(
            "external-secrets.io/v1",
            "ExternalSecret",
            {
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault"},
                "target": {"name": "tigera-pull-secret"},
                "data": [{"secretKey": "token", "remoteRef": {"key": "tigera/pull"}}],
            },
            name="tigera-pull-secret",
            namespace="tigera-operator",
        ),
        "spec.secretStoreRef",
        "secretStoreref",
        [
            "spec.secretStoreref: unknown field (did you mean 'secretStoreRef'?)",
        ],
    ),
    "ClusterSecretStore": (
        obj(
            "external-secrets.io/v1",
            "ClusterSecretStore",
            {"provider": {"fake": {"data": [{"key": "token", "value": "x"}]}}},
            name="fake",
        ),
        "spec.provider.fake.data.0.value",
        "valeu",
        [
            "spec.provider.fake.data[0].valeu: unknown field (did you mean 'value'?)",
            "spec.provider.fake.data[0]: 'value' is a required property",
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(COMMON_CASES))
def test_common_kind_is_valid(case: str) -> None:
    valid, _, _, _ = COMMON_CASES[case]
    assert custom_object_problems(valid, "v3.23.1") == []


@pytest.mark.parametrize("case", sorted(COMMON_CASES))
def test_common_kind_typo_is_reported(case: str) -> None:
    valid, dotted, new_key, expected = COMMON_CASES[case]
    assert custom_object_problems(renamed(valid, dotted, new_key), "v3.23.1") == expected


def test_helm_values_stay_open_but_metadata_is_strict() -> None:
    release = copy.deepcopy(COMMON_CASES["HelmRelease"][0])
    release["metadata"]["labesl"] = {"a": "b"}
    assert custom_object_problems(release, "v3.23.1") == ["metadata.labesl: unknown field (did you mean 'labels'?)"]


def test_wrong_api_version_of_a_known_kind_is_missing() -> None:
    beta = copy.deepcopy(COMMON_CASES["ExternalSecret"][0])
    beta["apiVersion"] = "external-secrets.io/v1beta1"
    with pytest.raises(SchemaMissing, match="v1beta1"):
        custom_object_problems(beta, "v3.23.1")


# --- missing schemas are errors, never fallbacks -----------------------------------


def test_unknown_kind_raises_schema_missing() -> None:
    unknown = obj("argoproj.io/v1alpha1", "Rollout", {})
    with pytest.raises(SchemaMissing) as info:
        custom_object_problems(unknown, "v3.19.2")
    assert str(info.value) == (
        "no CRD schema for apiVersion 'argoproj.io/v1alpha1' kind 'Rollout' (schema set searched: common)"
    )


def test_tigera_kind_outside_the_set_raises_schema_missing() -> None:
    with pytest.raises(SchemaMissing, match=r"kind 'IPPool' \(schema set searched: tigera-v3.23\)"):
        custom_object_problems(obj("projectcalico.org/v3", "IPPool", {}), "v3.23.0")


def test_storage_crd_objects_have_no_schema() -> None:
    with pytest.raises(SchemaMissing, match=r"crd\.projectcalico\.org/v1"):
        custom_object_problems(obj("crd.projectcalico.org/v1", "NetworkPolicy", {}), "v3.19.2")


@pytest.mark.parametrize(
    ("version", "expected"),
    [("v3.19.2", "tigera-v3.19"), ("v3.19.0", "tigera-v3.19"), ("v3.23.0", "tigera-v3.23")],
)
def test_tigera_schema_set(version: str, expected: str) -> None:
    assert tigera_schema_set(version) == expected


_NEWEST = max(row.key for row in SERIES.values())
NEXT = f"{_NEWEST[0]}.{_NEWEST[1] + 1}"
"""The series after the newest row, which has no schema set."""


@pytest.mark.parametrize("version", [f"v{NEXT}.0", "v3.2.3", "latest", ""])
def test_unknown_tigera_version_raises(version: str) -> None:
    with pytest.raises(SchemaMissing) as info:
        tigera_schema_set(version)
    assert str(info.value) == (f"no CRD schemas for Tigera version {version!r}; available: "
                               + ", ".join(f"v{name}" for name in SERIES))


def test_unknown_tigera_version_fails_tigera_objects() -> None:
    with pytest.raises(SchemaMissing, match=re.escape(f"v{NEXT}.0")):
        custom_object_problems(INSTALLATION, f"v{NEXT}.0")


# --- the committed schema tree -----------------------------------------------------


def committed() -> list[Path]:
    return sorted(schemas_dir().rglob("*.json"))


def test_tree_holds_exactly_the_registered_kinds() -> None:
    """Every registry folder is named after its CRD group, which gives the output path."""

    def api_version(source: crdschemas.Source) -> str:
        return source.api_version or f"{source.folder.rsplit('/', 1)[-1]}/{source.crd_version}"

    expected = {
        f"{set_name}/{api_version(source)}/{kind.lower()}.json"
        for set_name, sources in crdschemas.registry().items()
        for source in sources
        for kind in source.kinds
    }
    assert {p.relative_to(schemas_dir()).as_posix() for p in committed()} == expected
    # the common kinds, then every series-specific kind once per series (renderer/model/kinds.py)
    common = sum(kind.schema == "common" for kind in kinds.KINDS)
    assert len(expected) == common + sum(kind.schema == "series" for kind in kinds.KINDS) * len(SERIES)


@pytest.mark.parametrize("path", committed(), ids=lambda p: str(p.relative_to(schemas_dir())))
def test_every_schema_is_valid_draft_2020_12(path: Path) -> None:
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["metadata"]["additionalProperties"] is False
    assert str(REPO) not in path.read_text()


@needs_sources
@pytest.mark.parametrize("path", committed(), ids=lambda p: str(p.relative_to(schemas_dir())))
def test_provenance_hash_matches_the_source(path: Path) -> None:
    source = json.loads(path.read_text())["x-source"]
    digest = hashlib.sha256(crdschemas.source_path(crdschemas.DEFAULT_SRC, source["file"]).read_bytes()).hexdigest()
    assert source["sha256"] == digest


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "devtools.crdschemas", "--check", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """crdschemas.render_all of the upstream CRDs, computed once per session."""
    return once(tmp_path_factory, "crdschemas-render-all", lambda: crdschemas.render_all(crdschemas.DEFAULT_SRC))


def check(monkeypatch: pytest.MonkeyPatch, rendered: dict[str, str], *args: str) -> int:
    """`python -m devtools.crdschemas --check ARGS` in this process, with the session's rendering."""
    monkeypatch.setattr(crdschemas, "render_all",
                        lambda src: rendered if src == crdschemas.DEFAULT_SRC else pytest.fail(f"rendered {src}"))
    return crdschemas.main(["--check", *args])


def test_check_runs_as_a_module_and_stops_on_a_missing_source(tmp_path: Path) -> None:
    result = run_check(str(tmp_path / "nowhere"), str(tmp_path / "crds"))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"error: {tmp_path / 'nowhere'}/") and "no such CRD file" in result.stderr


@pytest.mark.slow
@needs_sources
def test_check_passes_on_the_committed_tree(monkeypatch: pytest.MonkeyPatch, rendered: dict[str, str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert check(monkeypatch, rendered) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.slow
@needs_sources
def test_check_lists_drift_in_a_modified_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              rendered: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "crds"
    shutil.copytree(schemas_dir(), dest)
    (dest / "common/argoproj.io/v1alpha1/appproject.json").write_text("{}\n")
    (dest / "tigera-v3.19/projectcalico.org/v3/tier.json").unlink()
    stale = dest / f"tigera-v{NEXT}/projectcalico.org/v3/tier.json"
    stale.parent.mkdir(parents=True)
    stale.write_text('{"x-source": {}}\n')
    assert check(monkeypatch, rendered, str(crdschemas.DEFAULT_SRC), str(dest)) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "DIFFER common/argoproj.io/v1alpha1/appproject.json",
        "MISSING tigera-v3.19/projectcalico.org/v3/tier.json",
        f"EXTRA tigera-v{NEXT}/projectcalico.org/v3/tier.json",
    ]
    assert err == "3 schema file(s) stale; run: python -m devtools.crdschemas\n"


@pytest.mark.slow
@needs_sources
def test_writing_is_byte_stable_and_prunes(tmp_path: Path, rendered: dict[str, str]) -> None:
    """A fresh render equals the committed bytes (so a second run is a no-op) and
    removes generated files no kind maps to any more."""
    dest = tmp_path / "crds"
    stale = dest / "old/x.json"
    stale.parent.mkdir(parents=True)
    stale.write_text('{"x-source": {}}\n')
    first = crdschemas.write(rendered, dest)
    assert "EXTRA old/x.json" in first and not stale.parent.exists()
    assert crdschemas.write(rendered, dest) == []
    for rel, text in rendered.items():
        assert (dest / rel).read_bytes() == (schemas_dir() / rel).read_bytes() == text.encode()
