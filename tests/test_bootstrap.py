"""out/<cluster>/bootstrap.sh, run against fake exo, kubectl and helm (tests/fakes/).

Each test renders the script from values into a temporary repository, runs it with the
fakes first on PATH, and reads what they recorded. Every run is also searched for the
fixture secrets (argv of every call, stdout, stderr): see bootstrap_support.assert_no_secret.
"""

from __future__ import annotations

import base64
import json
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests.bootstrap_support import (
    GIT_TOKEN,
    PULL_SECRET,
    REPO_ROOT,
    Bootstrap,
    headers,
    plan_lines,
    render_tree,
    step_names,
)
from tests.support.tools import require_tool

pytestmark = pytest.mark.slow

SSA = "--server-side --force-conflicts --field-manager=sks-gitops"

# What a fresh run for values/prod.yaml changes, in order, as the fakes record it. Reads and
# polls are left out: how often a wait polls is the fake cluster's business (fake_cluster.py).
FRESH_CHANGES = [
    # security-group
    "exo compute security-group create ceosks-poc --description 'SKS nodepool ceosks-poc-worker of ceosks-poc'",
    "exo compute security-group rule add ceosks-poc --flow ingress --protocol tcp --port 10250"
    " --security-group ceosks-poc --description 'kubelet API between nodes'",
    "exo compute security-group rule add ceosks-poc --flow ingress --protocol tcp --port 5473"
    " --security-group ceosks-poc --description 'Calico Typha'",
    "exo compute security-group rule add ceosks-poc --flow ingress --protocol udp --port 4789"
    " --security-group ceosks-poc --description 'Calico VXLAN encapsulation'",
    "exo compute security-group rule add ceosks-poc --flow ingress --protocol tcp --port 30000-32767"
    " --network 0.0.0.0/0 --description 'Kubernetes NodePort services'",
    # cluster
    "exo compute sks create ceosks-poc --zone at-vie-1 --no-cni --nodepool-size 0 --kubernetes-version 1.31.1"
    " --service-level pro",
    # 01-longhorn
    f"kubectl apply {SSA} --filename $TREE/01-longhorn/namespace.yaml",
    "helm upgrade --install longhorn longhorn --repo https://charts.longhorn.io --version 1.7.0"
    " --namespace longhorn-system --values $WORK/longhorn-values.json",
    # 02..04
    f"kubectl apply {SSA} --filename $WORK/02-storageclass.yaml",
    f"kubectl apply {SSA} --filename $WORK/03-tigera-operator.yaml",
    f"kubectl apply {SSA} --filename $WORK/04-tigera-prometheus-operator.yaml",
    # nodepool, once the operator.tigera.io CRDs are Established (the rollout model's order)
    "exo compute sks nodepool add ceosks-poc ceosks-poc-worker --zone at-vie-1 --size 2"
    " --instance-type c6f99499-7f59-4138-9427-a09db13af2bc --disk-size 50 --security-group ceosks-poc",
    # 05-pull-secrets: built by a local kubectl and piped in (tigera-operator, tigera-prometheus)
    f"kubectl apply {SSA} --filename=-",
    f"kubectl apply {SSA} --filename=-",
    # 06-tigera-custom-resources: Installation and APIServer
    f"kubectl apply {SSA} --filename $WORK/06-tigera-custom-resources.yaml",
    # 07-license, once the Tigera API server is Available
    f"kubectl apply {SSA} --filename $SECRETS/license.yaml",
    # 10-argocd: the pinned Argo CD release (argocd-cm health checks included), once the pod network runs
    f"kubectl apply {SSA} --filename $WORK/10-argocd.yaml",
    # 08-bypass-policies, once the operator has made the allow-tigera tier
    f"kubectl apply {SSA} --filename $WORK/08-bypass-policies.yaml",
    # 09-tigera-enterprise-resources: the custom resources that need the license
    f"kubectl apply {SSA} --filename $WORK/09-tigera-enterprise-resources.yaml",
    # handover, after every tigerastatus is Available and Argo CD runs: the repository Secret, built by a
    # local kubectl from the token file and piped in, then the AppProject and the root Application
    f"kubectl apply {SSA} --filename=-",
    f"kubectl apply {SSA} --filename $TREE/argocd/apps/project.yaml",
    f"kubectl apply {SSA} --filename $TREE/argocd/root-application.yaml",
]

STEPS = step_names()

# Overrides of the second variant the issue asks for.
FLUX_ESO_IPIP_SERVICE = ["gitops.engine=flux", "secrets.pullSecret.provider=external-secrets",
                         "secrets.pullSecret.storeName=vault-backend",
                         "secrets.pullSecret.remoteKey=tigera/pull-secret", "tigera.encapsulation=IPIP",
                         "bypass.mode=service"]


@pytest.fixture
def prod(tmp_path: Path) -> Bootstrap:
    return Bootstrap(tmp_path)


# ---- the script itself ---------------------------------------------------------------------

def test_prod_script_is_the_prod_case_script(tmp_path: Path) -> None:
    """values/prod.yaml renders tests/cases/valid/prod's script, which tests/test_bootstrap_plan.py shellchecks."""
    script = render_tree(tmp_path / "values", [])
    case = render_tree(tmp_path / "case", values=REPO_ROOT / "tests" / "cases" / "valid" / "prod" / "values.yaml")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.read_bytes() == case.read_bytes()


@pytest.mark.parametrize("overrides", [
    FLUX_ESO_IPIP_SERVICE,
    ["gitops.engine=both", "gitops.engineInstalled=false", "tigera.encapsulation=None",
     "apiServer.endpointIP=194.182.185.29", "nodepool.antiAffinityGroups=[spread]",
     "nodepool.labels={role: worker}", "nodepool.taints=[{key: dedicated, value: tigera, effect: NoSchedule}]"],
    ["gitops.engine=flux", "secrets.license.provider=sops",
     "secrets.license.encryptedFile=secrets/ceosks-poc/license.enc.yaml", "tigera.encapsulation=VXLANCrossSubnet"],
    ["gitops.repoURL=git@git.example.com:platform/sks-gitops.git", "gitops.engineInstalled=true"],
    ["gitops.repoURL=git@git.example.com:platform/sks-gitops.git", "gitops.engine=both"],
], ids=["flux-eso-ipip-service", "both-uninstalled-none", "flux-sops", "argocd-ssh-installed", "both-ssh"])
def test_script_is_clean_under_shellcheck(tmp_path: Path, overrides: list[str]) -> None:
    script = render_tree(tmp_path, overrides)
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.read_text("utf-8").startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(script)], check=True)
    shellcheck = require_tool("shellcheck")
    done = subprocess.run([shellcheck, "--severity=style", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_help_lists_every_step_once_in_order(prod: Bootstrap) -> None:
    result = prod.run("--help")
    listed = re.findall(r"^\s+\d+\s+(\S+)\s", result.stdout, re.MULTILINE)
    assert listed == STEPS
    assert "--pull-secret FILE" in result.stdout and "--license FILE" in result.stdout
    assert result.calls == ()


def test_values_reach_commands_verbatim(tmp_path: Path) -> None:
    """Quotes, $(...), backticks and newlines in a value are data: they reach exo argv unchanged."""
    description = "it's \"quoted\" $(touch pwned) `touch pwned2` ; rm -rf /\nsecond line"
    run = Bootstrap(tmp_path, [f"cluster.description={description}"])
    run.run()
    (create,) = [call for call in run.calls() if call.argv[:3] == ("compute", "sks", "create")]
    assert create.argv[-2:] == ("--description", description)
    assert not list(tmp_path.rglob("pwned*"))


# ---- fresh run, re-run, dry run --------------------------------------------------------------

def test_fresh_run_makes_exactly_the_seed_deployment(prod: Bootstrap) -> None:
    result = prod.run()
    assert [prod.normalize(call.line) for call in result.calls if call.changes] == FRESH_CHANGES
    assert headers(result) == STEPS
    secret_calls = [call for call in result.calls if call.argv[-1:] == ("--filename=-",)]
    assert len(secret_calls) == 6 and all(call.stdin for call in secret_calls)  # 2 pull secrets, 1 repository
    assert stat.S_IMODE(prod.kubeconfig.stat().st_mode) == 0o600
    cloud = prod.cloud()
    (cluster,) = cloud["clusters"]
    assert cluster["cni"] == "" and [pool["name"] for pool in cluster["nodepools"]] == ["ceosks-poc-worker"]
    objects = prod.cluster()["objects"]
    secret = objects["|Secret|tigera-prometheus|tigera-pull-secret"]
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert json.loads(base64.b64decode(secret["data"][".dockerconfigjson"])) == json.loads(PULL_SECRET)
    repository = objects["|Secret|argocd|ceosks-poc-repository"]
    assert repository["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "repository"
    assert {key: base64.b64decode(value).decode() for key, value in repository["data"].items()} == {
        "type": "git", "url": "https://git.example.com/platform/sks-gitops.git", "username": "git",
        "password": GIT_TOKEN}  # the token without the file's line end
    assert "projectcalico.org|LicenseKey||default" in objects
    assert "argoproj.io|Application|argocd|ceosks-poc-root" in objects


def test_rerun_after_success_changes_nothing(prod: Bootstrap) -> None:
    prod.run()
    again = prod.run()
    assert [call.line for call in again.calls if call.changes] == []
    assert "exo compute sks kubeconfig" not in " ".join(again.remote)
    assert headers(again) == STEPS
    assert again.stderr.count(": up to date") == UP_TO_DATE


def test_dry_run_prints_the_fresh_run_and_touches_nothing(prod: Bootstrap) -> None:
    dry = prod.run("--dry-run")
    assert [call for call in dry.calls if not call.local] == []
    assert not (prod.state / "cloud.json").exists() and not (prod.state / "cluster.json").exists()
    assert not prod.kubeconfig.exists()
    real = prod.run()
    assert [prod.normalize(line) for line in plan_lines(dry.stdout)] == [
        prod.normalize(line) for line in plan_lines(real.stderr)]
    changes = [line for line in plan_lines(dry.stdout) if line.startswith("+ ")]
    assert any(line.endswith("| kubectl apply " + SSA + " --filename=-") for line in changes)


# ---- failures -------------------------------------------------------------------------------
# A failure at each step, then a Ctrl-C, then the resume: tests/test_bootstrap_converge.py.

UP_TO_DATE = 14  # ": up to date" lines of a run with nothing left to do


def test_health_timeout_names_the_degraded_components(prod: Bootstrap) -> None:
    result = prod.run(expect=1, FAKE_TIGERASTATUS_DEGRADED="log-storage-elastic,manager",
                      FAKE_DELAY_LICENSED="0", BOOTSTRAP_HEALTH_TIMEOUT="0")
    assert "Calico Enterprise: waiting for log-storage-elastic manager" in result.stderr
    for name in ("log-storage-elastic", "manager"):
        assert (f"  - {name}: Degraded (ResourceNotReady): Elasticsearch cluster health is red: \n"
                "      shard allocation failed\n") in result.stderr
    assert not any("root-application" in line for line in result.remote)


def test_unknown_step_and_bad_flags_are_usage_errors(prod: Bootstrap) -> None:
    for args in (["--from", "nope"], ["--bogus"], ["--wait-timeout", "soon"], ["--nodeport-source", "300.0.0.0/8"],
                 ["--kubeconfig"], ["stray"]):
        result = prod.run(*args, expect=2)
        assert result.remote == [], args


# ---- stops: decisions a person has to make --------------------------------------------------

def test_endpoint_port_differing_from_values_stops_before_anything_is_applied(prod: Bootstrap) -> None:
    result = prod.run(expect=3, FAKE_API_ENDPOINT="194.182.185.29:31555")
    assert result.remote[-1].startswith("kubectl get endpointslices --namespace default --selector "
                                        "kubernetes.io/service-name=kubernetes")
    assert not [call for call in result.calls if call.tool in ("kubectl", "helm") and call.changes]
    assert "    endpointPort: 31555" in result.stderr
    assert "re-render (render <the values files of ceosks-poc>)" in result.stderr
    assert "--from endpoint" in result.stderr


def test_endpoint_ip_differing_from_values_stops(tmp_path: Path) -> None:
    run = Bootstrap(tmp_path, ["apiServer.endpointIP=194.182.185.30"])
    result = run.run(expect=3)
    assert "    endpointIP: 194.182.185.29" in result.stderr


def test_cluster_with_a_cni_is_not_reused(prod: Bootstrap) -> None:
    prod.tool("exo", "compute", "sks", "create", "ceosks-poc", "--zone", "at-vie-1", "--nodepool-size", "0")
    result = prod.run(expect=3)
    assert "exists in at-vie-1 with CNI 'calico'" in result.stderr
    assert headers(result)[-1] == "cluster"
    assert not prod.kubeconfig.exists()


def test_existing_resources_are_reused(prod: Bootstrap) -> None:
    prod.tool("exo", "compute", "security-group", "create", "ceosks-poc")
    prod.tool("exo", "compute", "security-group", "rule", "add", "ceosks-poc", "--protocol", "tcp", "--port", "10250",
              "--security-group", "ceosks-poc")
    prod.tool("exo", "compute", "sks", "create", "ceosks-poc", "--zone", "at-vie-1", "--no-cni", "--nodepool-size",
              "0", "--kubernetes-version", "1.30.5")
    result = prod.run()
    created = [line for line in result.remote if " create " in line or " add " in line]
    assert [line.split(" --description ")[0] for line in created] == [
        "exo compute security-group rule add ceosks-poc --flow ingress --protocol tcp --port 5473"
        " --security-group ceosks-poc",
        "exo compute security-group rule add ceosks-poc --flow ingress --protocol udp --port 4789"
        " --security-group ceosks-poc",
        "exo compute security-group rule add ceosks-poc --flow ingress --protocol tcp --port 30000-32767"
        " --network 0.0.0.0/0",
        "exo compute sks nodepool add ceosks-poc ceosks-poc-worker --zone at-vie-1 --size 2"
        " --instance-type c6f99499-7f59-4138-9427-a09db13af2bc --disk-size 50 --security-group ceosks-poc"]
    assert "runs Kubernetes 1.30.5, values say 1.31.1" in result.stderr


def test_kubeconfig_of_another_cluster_is_never_overwritten(prod: Bootstrap) -> None:
    other = prod.home / "main.config"
    other.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n"
                     "    server: https://other.example:6443\ncontexts:\n- name: other\n  context:\n"
                     "    cluster: other\ncurrent-context: other\n", "utf-8")
    before = other.read_bytes()
    result = prod.run(expect=3, KUBECONFIG=str(other))
    assert "is a kubeconfig for 'https://other.example:6443'" in result.stderr
    assert other.read_bytes() == before


@pytest.mark.parametrize("where", ["inside", "list"])
def test_kubeconfig_path_is_checked_before_any_cloud_call(prod: Bootstrap, where: str) -> None:
    path = str(prod.tree / "kubeconfig") if where == "inside" else f"{prod.home}/a:{prod.home}/b"
    result = prod.run(expect=2, KUBECONFIG=path)
    assert result.remote == []


def test_engine_missing_from_the_cluster_stops_at_handover(tmp_path: Path) -> None:
    run = Bootstrap(tmp_path, ["gitops.engineInstalled=true"], preinstalled="")
    result = run.run(expect=3)
    assert headers(result)[-1] == "handover"
    assert "Argo CD (gitops.engineInstalled: true) is not installed" in result.stderr


# ---- secret files: checked before any cloud call, never printed -----------------------------

BAD_FILES = {
    "pull secret missing": ("pull_secret", None),
    "pull secret not JSON": ("pull_secret", PULL_SECRET[:-3]),
    "pull secret without auths": ("pull_secret", json.dumps({"credsStore": PULL_SECRET})),
    "pull secret auths not an object": ("pull_secret", json.dumps({"auths": [PULL_SECRET]})),
    "pull secret a list": ("pull_secret", json.dumps([json.loads(PULL_SECRET)])),
    "license missing": ("license", None),
    "license of another kind": ("license", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: default\n"
                                           f"stringData:\n  token: {PULL_SECRET!r}\n"),
    "license not named default": ("license", "apiVersion: projectcalico.org/v3\nkind: LicenseKey\nmetadata:\n"
                                             "  name: other\nspec:\n  token: x\n  certificate: y\n"),
    "license without token": ("license", "apiVersion: projectcalico.org/v3\nkind: LicenseKey\nmetadata:\n"
                                         "  name: default\nspec:\n  certificate: y\n"),
    "license not YAML": ("license", "{{ not yaml: ["),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_secret_file_stops_before_any_cloud_call(prod: Bootstrap, case: str) -> None:
    which, content = BAD_FILES[case]
    path: Path = getattr(prod, which)
    if content is None:
        path.unlink()
    else:
        path.write_text(content, "utf-8")
    result = prod.run(expect=2)
    assert result.remote == []
    assert str(path) in result.stderr
    assert headers(result) == ["preflight"]


def test_secret_file_flags_override_the_environment(prod: Bootstrap) -> None:
    moved = prod.secrets / "other.json"
    prod.pull_secret.rename(moved)
    assert prod.run(expect=2).remote == []
    result = prod.run("--dry-run", "--pull-secret", str(moved))
    assert f"--from-file=.dockerconfigjson={moved}" in result.stdout


# ---- a values variant: Flux, External Secrets, IP-in-IP, service bypass -----------------------

def test_flux_external_secrets_ipip_service_variant(tmp_path: Path) -> None:
    run = Bootstrap(tmp_path, FLUX_ESO_IPIP_SERVICE, preinstalled="external-secrets")
    result = run.run(FAKE_API_ENDPOINT="194.182.185.29:31555")
    lines = [run.normalize(line) for line in result.remote]
    rules = [line.split(" --description ")[0].removeprefix("exo compute security-group rule add ceosks-poc ")
             for line in lines if " rule add " in line]
    assert rules == ["--flow ingress --protocol tcp --port 10250 --security-group ceosks-poc",
                     "--flow ingress --protocol tcp --port 5473 --security-group ceosks-poc",
                     "--flow ingress --protocol ipip --security-group ceosks-poc",
                     "--flow ingress --protocol tcp --port 179 --security-group ceosks-poc",
                     "--flow ingress --protocol tcp --port 30000-32767 --network 0.0.0.0/0"]
    # The only Secret the script builds is Flux's repository credential (the pull secret comes from ESO).
    assert [call.argv[:4] for call in result.calls if call.argv[:2] == ("create", "secret")] == [
        ("create", "secret", "generic", "flux-system")] * 2
    assert "kubectl get crd externalsecrets.external-secrets.io --output=name" in lines
    assert "kubectl kustomize $TREE/05-pull-secrets" in lines
    assert f"kubectl apply {SSA} --filename $WORK/11-flux.yaml" in lines
    handover = lines.index(f"kubectl apply {SSA} --kustomize $TREE/flux")
    assert lines[handover - 3:handover] == [f"kubectl diff {SSA} --filename=-", f"kubectl apply {SSA} --filename=-",
                                            f"kubectl diff {SSA} --kustomize $TREE/flux"]
    ready = "'jsonpath={.status.conditions[?(@.type==\"Ready\")].status}'"
    assert lines[handover + 1:] == [
        f"kubectl get gitrepositories.source.toolkit.fluxcd.io ceosks-poc --namespace flux-system --output {ready}"]
    assert "endpoint 194.182.185.29:31555 (bypass.mode: service follows the Service" in result.stderr
    assert not any("argocd" in line for line in lines)
    assert run.run("--pull-secret", str(run.pull_secret), expect=2).remote == []


def test_external_secrets_operator_missing_stops_at_its_stage(tmp_path: Path) -> None:
    run = Bootstrap(tmp_path, FLUX_ESO_IPIP_SERVICE)
    result = run.run(expect=3)
    assert headers(result)[-1] == "05-pull-secrets"
    assert "the External Secrets Operator (secrets.pullSecret.provider: external-secrets) is not installed" in (
        result.stderr)


def test_sops_license_hands_over_before_the_health_wait(tmp_path: Path) -> None:
    run = Bootstrap(tmp_path, ["gitops.engine=flux", "secrets.license.provider=sops",
                               "secrets.license.encryptedFile=secrets/ceosks-poc/license.enc.yaml"])
    listed = re.findall(r"^\s+\d+\s+(\S+)\s", run.run("--help").stdout, re.MULTILINE)
    # Flux delivers the license; the bypass needs the tier the license brings: both follow the handover.
    assert listed[-5:] == ["handover", "07-license", "08-bypass-policies", "09-tigera-enterprise-resources", "health"]
    assert "--license FILE" not in run.run("--help").stdout


def test_nodeport_source_comes_from_the_flag_or_the_environment(prod: Bootstrap) -> None:
    by_flag = prod.run("--dry-run", "--nodeport-source", "203.0.113.0/24")
    by_env = prod.run("--dry-run", BOOTSTRAP_NODEPORT_SOURCE="198.51.100.0/24")
    assert "--port 30000-32767 --network 203.0.113.0/24 " in by_flag.stdout
    assert "--port 30000-32767 --network 198.51.100.0/24 " in by_env.stdout
