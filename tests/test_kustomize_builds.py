"""Every Kustomize root of the rendered tree builds with the real `kubectl kustomize`.

Remote manifests come from a loopback server (base URL set in values), the Longhorn
chart from a loopback Helm repository, so the builds prove the real wiring offline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from renderer import yamlio
from tests.conftest import PROD_VALUES, RenderCli
from tests.support.servers import HelmRepoServer, TigeraManifestsServer
from tests.support.tools import kustomize_build

ENGINES = {"argocd": ["argocd/apps"], "flux": ["flux", "flux/longhorn"],
           "both": ["argocd/apps", "flux", "flux/longhorn"]}


def _render(render_cli: RenderCli, repo: Path, tigera: TigeraManifestsServer, helm: HelmRepoServer,
            *extra: str) -> Path:
    render_cli(PROD_VALUES, "--out", repo / "out", "--set", f"tigera.manifestsBaseURL={tigera.base_url}",
               "--set", f"longhorn.chartRepository={helm.url}",
               "--set", f"gitops.argocdManifestsBaseURL={tigera.argocd_base_url}",
               "--set", f"gitops.fluxManifestsBaseURL={tigera.flux_base_url}", *extra)
    return repo / "out" / "ceosks-poc"


def _kinds(text: str) -> list[tuple[str, str, str]]:
    return sorted((doc["kind"], (doc["metadata"].get("namespace") or ""), doc["metadata"]["name"])
                  for doc in yamlio.load_all_plain(text) if doc)


@pytest.mark.slow
@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_every_stage_and_engine_root_builds(engine: str, tmp_path: Path, render_cli: RenderCli,
                                            tigera_manifests_server: TigeraManifestsServer,
                                            helm_repo_server: HelmRepoServer) -> None:
    extra = ["--set", f"gitops.engine={engine}", "--set", "secrets.pullSecret.provider=external-secrets",
             "--set", "secrets.pullSecret.storeName=vault", "--set", "secrets.pullSecret.remoteKey=tigera/pull"]
    if engine == "flux":  # SOPS delivers the license only with Flux (validate.py refuses it with Argo CD)
        extra += ["--set", "secrets.license.provider=sops",
                  "--set", "secrets.license.encryptedFile=secrets/license.enc.yaml"]
    tree = _render(render_cli, tmp_path, tigera_manifests_server, helm_repo_server, *extra)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "license.enc.yaml").write_text(
        "apiVersion: projectcalico.org/v3\nkind: LicenseKey\nmetadata:\n  name: default\nspec:\n"
        "  token: ENC[AES256_GCM,data:placeholder,type:str]\nsops:\n  version: 3.9.0\n", "utf-8")
    roots = sorted(path.parent for path in tree.rglob("kustomization.yaml"))
    expected = sorted({tree / name for name in ENGINES[engine]} | {p for p in roots if p.name[:2].isdigit()})
    assert roots == expected
    built = {}
    for root in roots:
        built[root.relative_to(tree).as_posix()] = kustomize_build(
            root, enable_helm=root.name == "01-longhorn", load_restrictor_none=root.name == "07-license",
            tree=tmp_path if root.name == "07-license" else None)
    if engine == "flux":
        assert ("LicenseKey", "", "default") in _kinds(built["07-license"])
    assert _kinds(built["08-bypass-policies"]) == [
        ("GlobalNetworkPolicy", "", "allow-tigera.apiserver-endpoint-bypass")]
    assert ("Monitor", "", "tigera-secure") in _kinds(built["09-tigera-enterprise-resources"])
    prometheus = _kinds(built["04-tigera-prometheus-operator"])
    assert ("Secret", "tigera-prometheus", "tigera-pull-secret") not in prometheus
    assert ("Deployment", "tigera-prometheus", "calico-prometheus-operator") in prometheus
    assert ("CustomResourceDefinition", "", "installations.operator.tigera.io") in _kinds(built["03-tigera-operator"])
    longhorn = built["01-longhorn"]
    assert "default-replica-count: \"2\"" in longhorn or "default-replica-count: 2" in longhorn
    assert "kind: Job" not in longhorn, "preUpgradeChecker.jobEnabled must be false under GitOps"
    assert not (tree / "01-longhorn" / "charts").exists(), "a build must not leave pulled charts in out/"
    if engine != "flux":
        apps = _kinds(built["argocd/apps"])
        assert ("AppProject", "argocd", "ceosks-poc") in apps
        # one per git stage as declared (renderer/model/stages.py), the engine stages included
        stages = {f"ceosks-poc-{path.name}" for path in roots if path.name[:2].isdigit()}
        assert {kind[2] for kind in apps if kind[0] == "Application"} == stages
        argocd = yamlio.load_all_plain(built["10-argocd"])
        (cm,) = [doc for doc in argocd if doc and doc["kind"] == "ConfigMap"]
        assert cm["metadata"]["namespace"] == "argocd" and cm["metadata"]["labels"]  # the install's argocd-cm,
        assert "resource.customizations.health.argoproj.io_Application" in cm["data"]  # with the health checks
        assert ("StatefulSet", "argocd", "argocd-application-controller") in _kinds(built["10-argocd"])
        assert ("ClusterRoleBinding", "", "argocd-application-controller") in _kinds(built["10-argocd"])
    if engine != "argocd":
        assert ("Deployment", "flux-system", "kustomize-controller") in _kinds(built["11-flux"])


@pytest.mark.slow
def test_placeholder_removal_is_harmless_when_upstream_has_no_secret(
        tmp_path: Path, render_cli: RenderCli, tigera_manifests_server: TigeraManifestsServer,
        helm_repo_server: HelmRepoServer) -> None:
    tree = _render(render_cli, tmp_path, tigera_manifests_server, helm_repo_server)
    path = "/ee/v3.19.2/manifests/tigera-prometheus-operator.yaml"
    without_secret = (b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: tigera-prometheus\n")
    tigera_manifests_server.override(path, without_secret)
    try:
        built = kustomize_build(tree / "04-tigera-prometheus-operator")
    finally:
        tigera_manifests_server.reset()
    assert _kinds(built) == [("Namespace", "", "tigera-prometheus")]
