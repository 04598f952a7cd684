"""Least privilege: the bypass policies open exactly one egress path, the AppProject only what the tree uses.

The seed's workaround opened TCP to the endpoint port for every pod of two namespaces. The
rendered policies must open no more: one Allow egress rule, TCP, to `apiServer.endpointPort`
(and only `endpointIP/32` when it is set) in mode `port`, or only the `default/kubernetes`
Service in mode `service`; no ingress, no wildcard destination, exactly the namespaces asked for.
`policy_problems` states those rules once; it is itself tested on widened policies, so a
template change that widens a policy cannot pass unnoticed.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest

from renderer import yamlio
from tests.conftest import PROD_VALUES, RenderCli, read_tree

CLUSTER = "ceosks-poc"
PORT = 30925
IP = "194.182.185.29"
DEFAULT_NAMESPACES = ["tigera-eck-operator", "calico-system"]
NAMESPACE_LISTS = {
    "default": None,
    "four": ["tigera-eck-operator", "calico-system", "tigera-prometheus", "tigera-packetcapture"],
    "one": ["calico-system"],
}
VERSIONS = {"v3.19": ("v3.19.2", "allow-tigera"), "v3.23": ("v3.23.1", "calico-system")}
WILDCARD_NETS = {"0.0.0.0/0", "::/0"}
POLICY_KINDS = {"NetworkPolicy", "GlobalNetworkPolicy", "StagedNetworkPolicy", "StagedGlobalNetworkPolicy",
                "StagedKubernetesNetworkPolicy", "GlobalNetworkSet", "NetworkSet", "Tier"}


def policy_problems(doc: Any, *, mode: str, ip: str | None, tier: str, name: str, namespaces: list[str]) -> list[str]:
    """Every way one rendered bypass policy is wider than asked (empty: exactly as asked)."""
    if not isinstance(doc, dict):
        return ["not a mapping"]
    found = []
    if doc.get("apiVersion") != "projectcalico.org/v3" or doc.get("kind") != "NetworkPolicy":
        found.append(f"not a projectcalico.org/v3 NetworkPolicy: {doc.get('apiVersion')} {doc.get('kind')}")
    meta = doc.get("metadata") or {}
    if meta.get("name") != f"{tier}.{name}":
        found.append(f"name {meta.get('name')!r} is not {tier}.{name}")
    if meta.get("namespace") not in namespaces:
        found.append(f"namespace {meta.get('namespace')!r} was not asked for")
    spec = doc.get("spec") or {}
    if set(spec) != {"tier", "order", "selector", "types", "egress"}:
        found.append(f"spec keys {sorted(spec)}: expected exactly tier, order, selector, types, egress")
    if spec.get("tier") != tier:
        found.append(f"tier {spec.get('tier')!r} is not {tier!r}")
    if spec.get("order") != 0:
        found.append(f"order {spec.get('order')!r} is not 0")
    if spec.get("selector") != "all()":
        found.append(f"selector {spec.get('selector')!r} is not all()")
    if spec.get("types") != ["Egress"]:
        found.append(f"types {spec.get('types')!r} are not exactly [Egress]")
    if "ingress" in spec:
        found.append("has ingress rules")
    egress = spec.get("egress")
    if not isinstance(egress, list) or len(egress) != 1:
        return [*found, f"expected exactly one egress rule, got {egress!r}"]
    rule = egress[0]
    if set(rule) - {"source"} != {"action", "protocol", "destination"}:
        found.append(f"rule keys {sorted(rule)}: expected exactly action, protocol, destination")
    if rule.get("source") not in (None, {}):
        found.append(f"source {rule.get('source')!r} is set (the seed's rule had an empty source)")
    if rule.get("action") != "Allow":
        found.append(f"action {rule.get('action')!r} is not Allow")
    if rule.get("protocol") != "TCP":
        found.append(f"protocol {rule.get('protocol')!r} is not TCP")
    destination = rule.get("destination")
    if not isinstance(destination, dict) or not destination:
        return [*found, f"destination {destination!r} is empty: that allows everything"]
    nets = destination.get("nets") or []
    if WILDCARD_NETS & set(nets) or any(not str(net).endswith("/32") for net in nets):
        found.append(f"nets {nets!r} are wider than one host")
    if mode == "port":
        expected: dict[str, Any] = {"ports": [PORT]}
        if ip:
            expected["nets"] = [f"{ip}/32"]
    else:
        expected = {"services": {"name": "kubernetes", "namespace": "default"}}
    if destination != expected:
        found.append(f"destination {destination!r} is not exactly {expected!r}")
    return found


def _render(render_cli: RenderCli, out: Path, *sets: str) -> dict[str, str]:
    args: list[str] = []
    for item in sets:
        args += ["--set", item]
    render_cli(PROD_VALUES, "--out", out, *args)
    return read_tree(out / CLUSTER)


def _docs(text: str) -> list[Any]:
    return [doc for doc in yamlio.load_all_plain(text) if doc is not None]


MATRIX = list(itertools.product(["port", "service"], [False, True], sorted(VERSIONS), sorted(NAMESPACE_LISTS)))


@pytest.mark.parametrize(("mode", "with_ip", "series", "namespaces"), MATRIX,
                         ids=[f"{m}-{'ip' if i else 'noip'}-{s}-{n}" for m, i, s, n in MATRIX])
def test_bypass_policies_open_exactly_the_endpoint(mode: str, with_ip: bool, series: str, namespaces: str,
                                                    render_cli: RenderCli, tmp_path: Path) -> None:
    version, tier = VERSIONS[series]
    wanted = NAMESPACE_LISTS[namespaces]
    sets = [f"bypass.mode={mode}", f"tigera.version={version}"]
    sets.append(f"bypass.namespaces=[{', '.join(wanted)}]" if wanted else "bypass.namespaces=null")
    if with_ip:
        sets.append(f"apiServer.endpointIP={IP}")
    tree = _render(render_cli, tmp_path, *sets)
    expected_namespaces = wanted or DEFAULT_NAMESPACES

    docs = _docs(tree["08-bypass-policies/networkpolicies.yaml"])
    assert [doc["metadata"]["namespace"] for doc in docs] == expected_namespaces
    for doc in docs:
        assert policy_problems(doc, mode=mode, ip=IP if with_ip else None, tier=tier,
                               name="apiserver-endpoint-bypass", namespaces=expected_namespaces) == []
    _assert_no_other_policies(tree)


def test_custom_tier_and_policy_name(render_cli: RenderCli, tmp_path: Path) -> None:
    tree = _render(render_cli, tmp_path, "bypass.tier=platform", "bypass.policyName=sks-endpoint",
                   f"apiServer.endpointIP={IP}")
    for doc in _docs(tree["08-bypass-policies/networkpolicies.yaml"]):
        assert policy_problems(doc, mode="port", ip=IP, tier="platform", name="sks-endpoint",
                               namespaces=DEFAULT_NAMESPACES) == []


def test_the_seed_workaround_is_what_mode_port_renders(render_cli: RenderCli, tmp_path: Path) -> None:
    """The seed's `allow-tigera.tem-bypass`, minus its empty serviceAccountSelector, with selector all()."""
    tree = _render(render_cli, tmp_path)
    first = _docs(tree["08-bypass-policies/networkpolicies.yaml"])[0]
    assert first["spec"] == {"tier": "allow-tigera", "order": 0, "selector": "all()", "types": ["Egress"],
                             "egress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [PORT]}}]}


def _assert_no_other_policies(tree: dict[str, str]) -> None:
    """No other file carries a network policy, a network set or a tier (a wider door elsewhere)."""
    for path, text in tree.items():
        if not path.endswith(".yaml") or path.startswith("08-bypass-policies/"):
            continue
        for doc in _docs(text):
            kind = doc.get("kind")
            assert not (kind in POLICY_KINDS and str(doc.get("apiVersion", "")).startswith(
                ("projectcalico.org/", "crd.projectcalico.org/", "networking.k8s.io/"))), (path, kind)


# --------------------------------------------------------------------------- the checker catches widening

GOOD_PORT = {
    "apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
    "metadata": {"name": "allow-tigera.apiserver-endpoint-bypass", "namespace": "calico-system"},
    "spec": {"tier": "allow-tigera", "order": 0, "selector": "all()", "types": ["Egress"],
             "egress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [PORT]}}]},
}


def _widened(change: str) -> tuple[dict[str, Any], str]:
    doc = copy.deepcopy(GOOD_PORT)
    rule = doc["spec"]["egress"][0]
    mode = "port"
    if change == "wildcard-nets":
        rule["destination"]["nets"] = ["0.0.0.0/0"]
    elif change == "wide-cidr":
        rule["destination"]["nets"] = ["194.182.0.0/16"]
    elif change == "empty-destination":
        rule["destination"] = {}
    elif change == "no-destination":
        del rule["destination"]
    elif change == "missing-protocol":
        del rule["protocol"]
    elif change == "udp":
        rule["protocol"] = "UDP"
    elif change == "extra-port":
        rule["destination"]["ports"] = [PORT, 443]
    elif change == "port-range":
        rule["destination"]["ports"] = ["1:65535"]
    elif change == "ingress-rule":
        doc["spec"]["ingress"] = [{"action": "Allow"}]
        doc["spec"]["types"] = ["Egress", "Ingress"]
    elif change == "types-missing":
        del doc["spec"]["types"]
    elif change == "second-rule":
        doc["spec"]["egress"].append({"action": "Allow"})
    elif change == "deny-becomes-pass":
        rule["action"] = "Pass"
    elif change == "source-widened":
        rule["source"] = {"nets": ["0.0.0.0/0"]}
    elif change == "extra-namespace":
        doc["metadata"]["namespace"] = "kube-system"
    elif change == "order-lower-priority":
        doc["spec"]["order"] = 1000
    elif change == "selector-narrowed-or-changed":
        doc["spec"]["selector"] = "has(app)"
    elif change == "service-with-ports":
        mode = "service"
        rule["destination"] = {"services": {"name": "kubernetes", "namespace": "default"}, "ports": [PORT]}
    elif change == "other-service":
        mode = "service"
        rule["destination"] = {"services": {"name": "kube-dns", "namespace": "kube-system"}}
    elif change == "global-kind":
        doc["kind"] = "GlobalNetworkPolicy"
    else:  # pragma: no cover - a typo in the list below
        raise AssertionError(change)
    return doc, mode


WIDENINGS = ["wildcard-nets", "wide-cidr", "empty-destination", "no-destination", "missing-protocol", "udp",
             "extra-port", "port-range", "ingress-rule", "types-missing", "second-rule", "deny-becomes-pass",
             "source-widened", "extra-namespace", "order-lower-priority", "selector-narrowed-or-changed",
             "service-with-ports", "other-service", "global-kind"]


def test_checker_accepts_the_exact_policy() -> None:
    assert policy_problems(GOOD_PORT, mode="port", ip=None, tier="allow-tigera", name="apiserver-endpoint-bypass",
                           namespaces=DEFAULT_NAMESPACES) == []


@pytest.mark.parametrize("change", WIDENINGS)
def test_checker_rejects_a_widened_policy(change: str) -> None:
    doc, mode = _widened(change)
    assert policy_problems(doc, mode=mode, ip=None, tier="allow-tigera", name="apiserver-endpoint-bypass",
                           namespaces=DEFAULT_NAMESPACES) != []


# --------------------------------------------------------------------------- Argo CD AppProject

IN_CLUSTER = "https://kubernetes.default.svc"
GITOPS_REPO = "https://git.example.com/platform/sks-gitops.git"
LONGHORN_REPO = "https://charts.longhorn.io"
STAGE_NAMESPACES = {"longhorn-system", "tigera-operator", "tigera-prometheus"}
PROJECT_VARIANTS: dict[str, tuple[list[str], list[str], set[str], str]] = {
    # name: (--set overrides, expected sourceRepos, expected destination namespaces, Argo CD namespace)
    "prod": ([], [GITOPS_REPO, LONGHORN_REPO], {*STAGE_NAMESPACES, *DEFAULT_NAMESPACES, "argocd"}, "argocd"),
    "external-secrets-four-namespaces": (
        ["secrets.pullSecret.provider=external-secrets", "secrets.pullSecret.storeName=vault",
         "secrets.pullSecret.remoteKey=tigera/pull", f"bypass.namespaces=[{', '.join(NAMESPACE_LISTS['four'])}]"],
        [GITOPS_REPO, LONGHORN_REPO], {*STAGE_NAMESPACES, *NAMESPACE_LISTS["four"], "argocd"}, "argocd"),
    "mirror-scp-repo-custom-argocd-namespace": (
        ["longhorn.chartRepository=https://charts.mirror.example.com/longhorn", "gitops.argocdNamespace=gitops",
         "gitops.engine=both", "gitops.repoURL=git@git.example.com:platform/sks.git", "bypass.namespaces=[one]"],
        ["git@git.example.com:platform/sks.git", "https://charts.mirror.example.com/longhorn"],
        {*STAGE_NAMESPACES, "one", "gitops"}, "gitops"),
}


@pytest.mark.parametrize("variant", sorted(PROJECT_VARIANTS))
def test_app_project_allows_only_what_the_tree_uses(variant: str, render_cli: RenderCli, tmp_path: Path) -> None:
    sets, repos, expected_namespaces, argocd_namespace = PROJECT_VARIANTS[variant]
    tree = _render(render_cli, tmp_path, *sets)
    (project,) = _docs(tree["argocd/apps/project.yaml"])
    spec = project["spec"]
    assert project["kind"] == "AppProject" and project["metadata"]["name"] == CLUSTER
    assert project["metadata"]["namespace"] == argocd_namespace
    assert spec["sourceRepos"] == repos
    destinations = spec["destinations"]
    assert all(set(item) == {"server", "namespace"} for item in destinations), destinations
    assert {item["server"] for item in destinations} == {IN_CLUSTER}
    namespaces = [item["namespace"] for item in destinations]
    assert len(namespaces) == len(set(namespaces))
    assert set(namespaces) == expected_namespaces
    for field in ("sourceNamespaces", "namespaceResourceWhitelist", "destinationServiceAccounts", "roles"):
        assert field not in spec, field
    text = tree["argocd/apps/project.yaml"]
    for item in [*spec["sourceRepos"], *namespaces, *(d["server"] for d in destinations)]:
        assert "*" not in item and "?" not in item and "!" not in item, item
    assert all(entry["group"] != "*" for entry in spec["clusterResourceWhitelist"]), text

    apps = [doc for path, body in tree.items() if path.startswith("argocd/") and path.endswith(".yaml")
            for doc in _docs(body) if doc.get("kind") == "Application"]
    assert apps
    for app in apps:
        assert app["spec"]["project"] == CLUSTER, app["metadata"]["name"]
        destination = app["spec"]["destination"]
        assert destination["server"] == IN_CLUSTER
        assert destination.get("namespace", argocd_namespace) in expected_namespaces
        assert app["spec"]["source"]["repoURL"] in spec["sourceRepos"]


TIGERA_CLUSTER_KINDS = {"Installation", "APIServer", "IntrusionDetection", "LogCollector", "LogStorage", "Manager",
                        "Monitor", "Compliance", "PolicyRecommendation"}


WHITELIST_VARIANTS = {
    "prod": [],
    "both-sops": ["gitops.engine=both", "secrets.license.provider=sops",
                  "secrets.license.encryptedFile=secrets/ceosks-poc/license.enc.yaml"],
    "custom-resources-off": ["tigera.customResources={intrusionDetection: false, logCollector: false, "
                             "logStorage: false, manager: false, monitor: false, compliance: false, "
                             "policyRecommendation: false}"],
}


@pytest.mark.parametrize("variant", sorted(WHITELIST_VARIANTS))
def test_cluster_scoped_whitelist_names_kinds_not_wildcards(variant: str, render_cli: RenderCli,
                                                            tmp_path: Path) -> None:
    """operator.tigera.io: exactly the kinds stage 6 renders; projectcalico.org: only LicenseKey, only with sops."""
    tree = _render(render_cli, tmp_path, *WHITELIST_VARIANTS[variant])
    (project,) = _docs(tree["argocd/apps/project.yaml"])
    whitelist = project["spec"]["clusterResourceWhitelist"]
    assert all(entry["kind"] != "*" and entry["group"] != "*" for entry in whitelist), whitelist
    rendered = {doc["kind"] for path, text in tree.items() if path.startswith("06-tigera-custom-resources/")
                and path != "06-tigera-custom-resources/kustomization.yaml" for doc in _docs(text)}
    assert rendered <= TIGERA_CLUSTER_KINDS
    assert {entry["kind"] for entry in whitelist if entry["group"] == "operator.tigera.io"} == rendered
    calico = [entry["kind"] for entry in whitelist if entry["group"] == "projectcalico.org"]
    assert calico == (["LicenseKey"] if variant == "both-sops" else [])
