"""Least privilege: the bypass policy opens exactly one egress path, the AppProject only what the tree uses.

The seed's workaround opened TCP to the endpoint port for every pod of two namespaces. The
rendered GlobalNetworkPolicy must open no more: one Allow egress rule, TCP, to
`apiServer.endpointPort` (and only `endpointIP/32` when it is set) in mode `port`, or only the
`default/kubernetes` Service in mode `service`; no ingress, no wildcard destination, and a
namespaceSelector naming exactly the namespaces asked for.
`policy_problems` states those rules once; it is itself tested on widened policies, so a
template change that widens a policy cannot pass unnoticed.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from renderer import yamlio
from renderer.model import kinds
from renderer.model.stages import Stage
from tests.conftest import PROD_VALUES, RenderCli, read_tree
from tests.test_rollout import build

CLUSTER = "ceosks-poc"
PORT = 30925
IP = "194.182.185.29"
DEFAULT_NAMESPACES = ["calico-system", "tigera-eck-operator", "tigera-packetcapture", "tigera-prometheus"]
NAMESPACE_LISTS = {
    "default": None,
    "two": ["tigera-eck-operator", "calico-system"],
    "five": ["tigera-eck-operator", "calico-system", "tigera-prometheus", "tigera-packetcapture", "tigera-system"],
}
SELECTOR = re.compile(r"^projectcalico\.org/name in \{('[a-z0-9-]+'(?:, '[a-z0-9-]+')*)\}$")
VERSIONS = {"v3.19": ("v3.19.2", "allow-tigera"), "v3.23": ("v3.23.1", "calico-system")}
WILDCARD_NETS = {"0.0.0.0/0", "::/0"}
POLICY_KINDS = {"NetworkPolicy", "GlobalNetworkPolicy", "StagedNetworkPolicy", "StagedGlobalNetworkPolicy",
                "StagedKubernetesNetworkPolicy", "GlobalNetworkSet", "NetworkSet", "Tier"}


def policy_problems(doc: Any, *, mode: str, ip: str | None, tier: str, name: str, namespaces: list[str]) -> list[str]:
    """Every way one rendered bypass policy is wider than asked (empty: exactly as asked)."""
    if not isinstance(doc, dict):
        return ["not a mapping"]
    spec = doc.get("spec") or {}
    found = [*_header_problems(doc, tier, name), *_spec_problems(spec, tier, namespaces)]
    egress = spec.get("egress")
    if not isinstance(egress, list) or len(egress) != 1:
        return [*found, f"expected exactly one egress rule, got {egress!r}"]
    return [*found, *_rule_problems(egress[0], mode, ip)]


def _header_problems(doc: dict[str, Any], tier: str, name: str) -> list[str]:
    found = []
    if doc.get("apiVersion") != "projectcalico.org/v3" or doc.get("kind") != "GlobalNetworkPolicy":
        found.append(f"not a projectcalico.org/v3 GlobalNetworkPolicy: {doc.get('apiVersion')} {doc.get('kind')}")
    meta = doc.get("metadata") or {}
    if meta.get("name") != f"{tier}.{name}":
        found.append(f"name {meta.get('name')!r} is not {tier}.{name}")
    if "namespace" in meta:
        found.append("a GlobalNetworkPolicy has no namespace")
    return found


SPEC_EXACTLY: dict[str, Any] = {"order": 0, "selector": "all()", "types": ["Egress"]}
"""Spec fields with one allowed value (the tier and the namespaces depend on the case)."""


def _spec_problems(spec: dict[str, Any], tier: str, namespaces: list[str]) -> list[str]:
    found = []
    if set(spec) != {"tier", "order", "namespaceSelector", "selector", "types", "egress"}:
        found.append(f"spec keys {sorted(spec)}: expected exactly tier, order, namespaceSelector, selector, types, "
                     "egress")
    match = SELECTOR.match(str(spec.get("namespaceSelector", "")))
    selected = sorted(name.strip("'") for name in match.group(1).split(", ")) if match else None
    if selected != sorted(namespaces):
        found.append(f"namespaceSelector {spec.get('namespaceSelector')!r} does not select exactly {namespaces}")
    for key, wanted in {"tier": tier, **SPEC_EXACTLY}.items():
        if spec.get(key) != wanted:
            found.append(f"{key} {spec.get(key)!r} is not {wanted!r}")
    if "ingress" in spec:
        found.append("has ingress rules")
    return found


def _rule_problems(rule: dict[str, Any], mode: str, ip: str | None) -> list[str]:
    found = []
    if set(rule) - {"source"} != {"action", "protocol", "destination"}:
        found.append(f"rule keys {sorted(rule)}: expected exactly action, protocol, destination")
    if rule.get("source") not in (None, {}):
        found.append(f"source {rule.get('source')!r} is set (the seed's rule had an empty source)")
    for key, wanted in (("action", "Allow"), ("protocol", "TCP")):
        if rule.get(key) != wanted:
            found.append(f"{key} {rule.get(key)!r} is not {wanted}")
    destination = rule.get("destination")
    if not isinstance(destination, dict) or not destination:
        return [*found, f"destination {destination!r} is empty: that allows everything"]
    nets = destination.get("nets") or []
    if WILDCARD_NETS & set(nets) or any(not str(net).endswith("/32") for net in nets):
        found.append(f"nets {nets!r} are wider than one host")
    expected: dict[str, Any] = {"services": {"name": "kubernetes", "namespace": "default"}}
    if mode == "port":
        expected = {"ports": [PORT], **({"nets": [f"{ip}/32"]} if ip else {})}
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

    (doc,) = _docs(tree["08-bypass-policies/globalnetworkpolicy.yaml"])
    assert policy_problems(doc, mode=mode, ip=IP if with_ip else None, tier=tier,
                           name="apiserver-endpoint-bypass", namespaces=expected_namespaces) == []
    _assert_no_other_policies(tree)


def test_custom_policy_name(render_cli: RenderCli, tmp_path: Path) -> None:
    tree = _render(render_cli, tmp_path, "bypass.policyName=sks-endpoint", f"apiServer.endpointIP={IP}")
    (doc,) = _docs(tree["08-bypass-policies/globalnetworkpolicy.yaml"])
    assert policy_problems(doc, mode="port", ip=IP, tier="allow-tigera", name="sks-endpoint",
                           namespaces=DEFAULT_NAMESPACES) == []


def test_the_seed_workaround_is_what_mode_port_renders(render_cli: RenderCli, tmp_path: Path) -> None:
    """The seed's `allow-tigera.tem-bypass` (order 0, all pods, TCP to the endpoint port), as one global
    policy over the namespaces values/prod.yaml lists instead of one policy per namespace."""
    tree = _render(render_cli, tmp_path)
    (doc,) = _docs(tree["08-bypass-policies/globalnetworkpolicy.yaml"])
    assert doc["spec"] == {"tier": "allow-tigera", "order": 0,
                           "namespaceSelector": "projectcalico.org/name in {'calico-system', 'tigera-eck-operator', "
                                                "'tigera-packetcapture', 'tigera-prometheus'}",
                           "selector": "all()", "types": ["Egress"],
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
    "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
    "metadata": {"name": "allow-tigera.apiserver-endpoint-bypass"},
    "spec": {"tier": "allow-tigera", "order": 0,
             "namespaceSelector": "projectcalico.org/name in {" + ", ".join(f"'{n}'" for n in DEFAULT_NAMESPACES) + "}",
             "selector": "all()", "types": ["Egress"],
             "egress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [PORT]}}]},
}


def _rule(doc: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = doc["spec"]["egress"][0]
    return rule


def _set_destination(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: _rule(doc)["destination"].update(fields)


def _set_rule(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: _rule(doc).update(fields)


def _set_spec(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["spec"].update(fields)


def _drop(where: Callable[[dict[str, Any]], dict[str, Any]], key: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: where(doc).pop(key) and None


WIDENERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "wildcard-nets": _set_destination(nets=["0.0.0.0/0"]),
    "wide-cidr": _set_destination(nets=["194.182.0.0/16"]),
    "empty-destination": _set_rule(destination={}),
    "no-destination": _drop(_rule, "destination"),
    "missing-protocol": _drop(_rule, "protocol"),
    "udp": _set_rule(protocol="UDP"),
    "extra-port": _set_destination(ports=[PORT, 443]),
    "port-range": _set_destination(ports=["1:65535"]),
    "ingress-rule": _set_spec(ingress=[{"action": "Allow"}], types=["Egress", "Ingress"]),
    "types-missing": _drop(lambda doc: doc["spec"], "types"),
    "second-rule": lambda doc: doc["spec"]["egress"].append({"action": "Allow"}),
    "deny-becomes-pass": _set_rule(action="Pass"),
    "source-widened": _set_rule(source={"nets": ["0.0.0.0/0"]}),
    "extra-namespace": lambda doc: _set_spec(namespaceSelector=doc["spec"]["namespaceSelector"].replace(
        "}", ", 'kube-system'}"))(doc),
    "every-namespace": _set_spec(namespaceSelector="all()"),
    "order-lower-priority": _set_spec(order=1000),
    "selector-narrowed-or-changed": _set_spec(selector="has(app)"),
    "service-with-ports": _set_rule(destination={"services": {"name": "kubernetes", "namespace": "default"},
                                                 "ports": [PORT]}),
    "other-service": _set_rule(destination={"services": {"name": "kube-dns", "namespace": "kube-system"}}),
    "namespaced-kind": lambda doc: doc.update(kind="NetworkPolicy"),
}
SERVICE_MODE = {"service-with-ports", "other-service"}
"""Widenings of a mode `service` policy (the others widen mode `port`)."""


def _widened(change: str) -> tuple[dict[str, Any], str]:
    doc = copy.deepcopy(GOOD_PORT)
    WIDENERS[change](doc)
    return doc, "service" if change in SERVICE_MODE else "port"


WIDENINGS = list(WIDENERS)


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


def _git_stages(*sets: str) -> tuple[Stage, ...]:
    """The stages an engine delivers for prod with `sets`, as declared (renderer/model/stages.py)."""
    return build(*sets)[0].git_stages


def _stage_namespaces(*sets: str) -> set[str]:
    return {namespace for stage in _git_stages(*sets) for namespace in stage.namespaces}

PROJECT_VARIANTS: dict[str, tuple[list[str], list[str], str]] = {
    # name: (--set overrides, expected sourceRepos, Argo CD namespace); the destinations are the namespaces the
    # git stages declare, and the Argo CD namespace
    "prod": ([], [GITOPS_REPO, LONGHORN_REPO], "argocd"),
    "external-secrets-five-namespaces": (
        ["secrets.pullSecret.provider=external-secrets", "secrets.pullSecret.storeName=vault",
         "secrets.pullSecret.remoteKey=tigera/pull", f"bypass.namespaces=[{', '.join(NAMESPACE_LISTS['five'])}]"],
        [GITOPS_REPO, LONGHORN_REPO], "argocd"),
    "mirror-scp-repo-custom-argocd-namespace": (
        ["longhorn.chartRepository=https://charts.mirror.example.com/longhorn", "gitops.argocdNamespace=gitops",
         "gitops.engineInstalled=true", "secrets.gitCredentials.provider=none",
         "gitops.engine=both", "gitops.repoURL=git@git.example.com:platform/sks.git"],
        ["git@git.example.com:platform/sks.git", "https://charts.mirror.example.com/longhorn"],
        "gitops"),
}


@pytest.mark.parametrize("variant", sorted(PROJECT_VARIANTS))
def test_app_project_allows_only_what_the_tree_uses(variant: str, render_cli: RenderCli, tmp_path: Path) -> None:
    sets, repos, argocd_namespace = PROJECT_VARIANTS[variant]
    expected_namespaces = {*_stage_namespaces(*sets), argocd_namespace}
    assert {"longhorn-system", "tigera-operator", "tigera-prometheus"} <= expected_namespaces
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
        assert destination["namespace"] in expected_namespaces  # never empty: it would match no destination
        assert app["spec"]["source"]["repoURL"] in spec["sourceRepos"]


TIGERA_CLUSTER_KINDS = {row.kind for row in kinds.OPERATOR_KINDS}


WHITELIST_VARIANTS = {
    "prod": [],
    "both-external-secrets": ["gitops.engine=both", "secrets.pullSecret.provider=external-secrets",
                              "secrets.pullSecret.storeName=vault", "secrets.pullSecret.remoteKey=tigera/pull"],
    "custom-resources-off": ["tigera.customResources={intrusionDetection: false, logCollector: false, "
                             "logStorage: false, manager: false, monitor: false, compliance: false, "
                             "policyRecommendation: false}"],
}


@pytest.mark.parametrize("variant", sorted(WHITELIST_VARIANTS))
def test_cluster_scoped_whitelist_names_kinds_not_wildcards(variant: str, render_cli: RenderCli,
                                                            tmp_path: Path) -> None:
    """operator.tigera.io: exactly the kinds stages 6 and 9 render; projectcalico.org: only the bypass policy
    (Argo CD never delivers a LicenseKey: validate.py refuses sops with Argo CD)."""
    tree = _render(render_cli, tmp_path, *WHITELIST_VARIANTS[variant])
    (project,) = _docs(tree["argocd/apps/project.yaml"])
    whitelist = project["spec"]["clusterResourceWhitelist"]
    assert all(entry["kind"] != "*" and entry["group"] != "*" for entry in whitelist), whitelist
    operator_stages = tuple(f"{stage.directory}/" for stage in _git_stages(*WHITELIST_VARIANTS[variant]) if stage.kinds)
    rendered = {doc["kind"] for path, text in tree.items()
                if path.startswith(operator_stages) and not path.endswith("/kustomization.yaml") for doc in _docs(text)}
    assert rendered <= TIGERA_CLUSTER_KINDS
    assert {entry["kind"] for entry in whitelist if entry["group"] == "operator.tigera.io"} == rendered
    calico = [entry["kind"] for entry in whitelist if entry["group"] == "projectcalico.org"]
    assert calico == ["GlobalNetworkPolicy"]
