"""Hub mode (issue 22 item 1): the bootstrap registers the new cluster with the hub's Argo CD and installs
none in the cluster, against the fake SKS cluster and a fake hub beside it (tests/fakes/fake_hub.py).

From `exo compute sks create` to the root Application Synced and Healthy on the hub in one run; the
registration Secret (a ServiceAccount token, as `argocd cluster add` makes it) reaches the hub only, and
no token, certificate or key reaches an argument, the output, out/ or git. Failures: hub kubeconfig
missing, readable by others or inside the repository (exit 2, no cloud call), hub unreachable (exit 1,
resume with --from hub-register), a name registered for another cluster (exit 3).
"""

from __future__ import annotations

import base64
import json
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from renderer.render import bootstrap
from renderer.simulate import bootstrap as simulated
from tests.bootstrap_support import (
    HUB_ENDPOINT,
    ONE_WAIT_NEVER_ENDS,
    SA_TOKEN,
    SECRET_MARKERS,
    Bootstrap,
    cluster_model,
    headers,
    plan_lines,
    render_tree,
    step_names,
)
from tests.support.tools import require_tool

pytestmark = pytest.mark.slow

HUB = ["gitops.hub={}"]
SSA = "--server-side --force-conflicts --field-manager=sks-gitops"
REPO_URL = "https://git.example.com/platform/sks-gitops.git"
# The admin kubeconfig's credential (fakes/fake_exo.py: kubeconfig): it must never reach the hub.
ADMIN_TOKEN = base64.b64encode(b"fake credential admin system:masters 604800").decode()

STAND_IN = f"""apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: hub
  namespace: argocd
spec:
  goTemplate: true
  generators:
  - git:
      repoURL: {REPO_URL}
      revision: main
      directories:
      - path: out/*
      - path: out/_hubs
        exclude: true
  template:
    metadata:
      name: '{{{{.path.basename}}}}-root'
    spec:
      project: default
      source:
        repoURL: {REPO_URL}
        targetRevision: main
        path: '{{{{.path.path}}}}/argocd/apps'
      destination:
        name: in-cluster
        namespace: argocd
"""


def hub_tree(run: Bootstrap) -> Path:
    """The hub tree the render wrote (renderer/render/bootstrap.py hub_tree); until the hub render lands,
    a stand-in with the same shape: a Kustomize root holding one ApplicationSet with a git generator."""
    tree = run.repo / bootstrap.hub_tree(cluster_model(HUB))
    if not (tree / "kustomization.yaml").is_file():
        tree.mkdir(parents=True, exist_ok=True)
        (tree / "kustomization.yaml").write_text("resources:\n- applicationset.yaml\n", "utf-8")
        (tree / "applicationset.yaml").write_text(STAND_IN, "utf-8")
    return tree


@pytest.fixture
def hub(tmp_path: Path) -> Bootstrap:
    run = Bootstrap(tmp_path, HUB)
    hub_tree(run)
    return run


def objects(state: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {key: obj for key, obj in state["objects"].items() if key.split("|")[1] == kind}


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in secret.get("data", {}).items()}


def kubectl_hub(run: Bootstrap, *argv: str) -> str:
    return run.tool("kubectl", *argv, f"--kubeconfig={run.hub_kubeconfig}")


def assert_no_secret_in_files(*roots: Path) -> None:
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                text = path.read_bytes().decode("utf-8", "replace")
                for marker in (*SECRET_MARKERS, ADMIN_TOKEN):
                    assert marker not in text, f"secret material ({marker[:6]}...) in {path}"


# ---- the plan ------------------------------------------------------------------------------

def test_hub_mode_installs_no_engine_and_registers_before_the_handover() -> None:
    names = step_names(HUB)
    assert "10-argocd" not in names
    assert names[-4:] == ["health", "hub-register", "hub-apply", "handover"]
    plan = bootstrap.plan(cluster_model(HUB))
    assert plan.hub is not None and not plan.installs_engine
    assert (plan.hub.tree, plan.hub.root, plan.hub.secret, plan.hub.namespace) == (
        "out/_hubs/hub", "ceosks-poc-root", "cluster-ceosks-poc", "argocd")
    assert plan.git_secrets == (("argocd", "argocd", "hub-repository"),)


def test_a_named_hub_and_cluster_name_are_where_the_bootstrap_looks() -> None:
    plan = bootstrap.plan(cluster_model(["gitops.hub={name: fleet-eu, namespace: gitops, clusterName: vie-1}"]))
    assert plan.hub is not None
    assert (plan.hub.tree, plan.hub.secret, plan.hub.cluster_name, plan.hub.namespace) == (
        "out/_hubs/fleet-eu", "cluster-vie-1", "vie-1", "gitops")


def test_the_simulator_reads_the_hub_steps_from_the_table(tmp_path: Path) -> None:
    script = render_tree(tmp_path, HUB).read_text("utf-8")
    steps = simulated.steps_on_disk(script)
    assert steps is not None
    assert [name for name, _ in steps] == step_names(HUB)
    assert set(simulated.HUB_STEPS) <= {name for name, _ in steps}


def test_the_hub_script_is_clean_under_shellcheck(tmp_path: Path) -> None:
    script = render_tree(tmp_path, HUB)
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    subprocess.run(["bash", "-n", str(script)], check=True)
    done = subprocess.run([require_tool("shellcheck"), "--severity=style", str(script)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout


# ---- one run against the fakes -------------------------------------------------------------

def test_one_run_from_exo_to_the_root_synced_on_the_hub(hub: Bootstrap) -> None:
    result = hub.run()
    assert headers(result) == step_names(HUB)
    lines = [hub.normalize(line) for line in result.remote]
    assert lines[0].startswith("exo ")
    hub_calls = [call for call in result.calls if f"--kubeconfig={hub.hub_kubeconfig}" in call.argv]
    # The registration Secret reached the hub, piped on stdin, and the hub only.
    register = [call for call in hub_calls if call.argv[:1] == ("apply",) and "--filename=-" in call.argv]
    assert len(register) == 2 and all(call.stdin for call in register)  # registration, repository credential
    nodepool = next(index for index, line in enumerate(lines) if line.startswith("exo compute sks nodepool add"))
    assert lines.index(f"kubectl apply {SSA} --filename=- --kubeconfig=$SECRETS/hub.config") > nodepool
    state, remote = hub.cluster(), hub.hub()
    registrations = {key: obj for key, obj in objects(remote, "Secret").items()
                     if obj["metadata"].get("labels", {}).get("argocd.argoproj.io/secret-type") == "cluster"}
    assert list(registrations) == ["|Secret|argocd|cluster-ceosks-poc"]
    assert not [obj for obj in objects(state, "Secret").values()
                if obj["metadata"].get("labels", {}).get("argocd.argoproj.io/secret-type")]
    data = decoded(registrations["|Secret|argocd|cluster-ceosks-poc"])
    endpoint = hub.cloud()["clusters"][0]["endpoint"]
    assert (data["name"], data["server"]) == ("ceosks-poc", endpoint)
    config = json.loads(data["config"])
    # The ServiceAccount's token and the kubeconfig's CA; never the TTL'd admin certificate or token.
    assert config["bearerToken"] == SA_TOKEN
    assert config["tlsClientConfig"]["insecure"] is False
    assert config["tlsClientConfig"]["caData"] in hub.kubeconfig.read_text("utf-8")
    assert not {"certData", "keyData"} & set(config["tlsClientConfig"])
    assert ADMIN_TOKEN not in json.dumps(remote)
    for key in ("|ServiceAccount|kube-system|argocd-manager", "|Secret|kube-system|argocd-manager-long-lived-token",
                "rbac.authorization.k8s.io|ClusterRole||argocd-manager-role",
                "rbac.authorization.k8s.io|ClusterRoleBinding||argocd-manager-role-binding"):
        assert key in state["objects"], key
    # No Argo CD in the new cluster: no namespace, CRD, workload or Application of it.
    assert not [key for key in state["objects"] if "argo" in key.lower() and "argocd-manager" not in key]
    assert not [line for line in lines if "install.yaml" in line or "10-argocd" in line]
    # The hub tree and the repository credential are on the hub; the root is Synced and Healthy there.
    assert [key for key in remote["objects"] if key.startswith("argoproj.io|ApplicationSet|argocd|")]
    assert "|Secret|argocd|hub-repository" in remote["objects"]
    status = kubectl_hub(hub, "get", "applications.argoproj.io", "ceosks-poc-root", "--namespace", "argocd",
                         "--output", "jsonpath={.status.sync.status}|{.status.health.status}")
    assert status == "Synced|Healthy"
    # No credential in out/ (what git would commit), nor left in the temporary directory.
    assert_no_secret_in_files(hub.repo, hub.root / "tmp")
    assert not list((hub.root / "tmp").glob("sks-bootstrap.*"))


def test_a_rerun_and_a_resume_change_nothing(hub: Bootstrap) -> None:
    hub.run()
    again = hub.run()
    assert [call.line for call in again.calls if call.changes] == []
    assert "cluster ceosks-poc is registered with hub hub" in again.stderr
    assert "hub tree out/_hubs/hub: up to date" in again.stderr
    resumed = hub.run("--from", "hub-register")
    assert headers(resumed) == ["preflight", "hub-register", "hub-apply", "handover"]
    assert [call.line for call in resumed.calls if call.changes] == []


def test_the_dry_run_prints_the_hub_path_and_reaches_nothing(hub: Bootstrap) -> None:
    dry = hub.run("--dry-run")
    assert not [call for call in dry.calls if call.changes]
    changes = [line for line in plan_lines(dry.stdout) if line.startswith("+ ")]
    assert any(line.endswith(f"| kubectl apply {SSA} --filename=- --kubeconfig={hub.hub_kubeconfig}")
               for line in changes)
    assert "<certificate-authority-data of the kubeconfig>" in dry.stdout


# ---- failures ------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["missing", "absent", "world-readable", "in-repository", "not-a-kubeconfig"])
def test_a_bad_hub_kubeconfig_stops_the_preflight(hub: Bootstrap, case: str) -> None:
    path = str(hub.hub_kubeconfig)
    if case == "missing":
        path = ""
    elif case == "absent":
        path = str(hub.secrets / "nowhere.config")
    elif case == "world-readable":
        hub.hub_kubeconfig.chmod(0o644)
    elif case == "in-repository":
        inside = hub.repo / "hub.config"
        shutil.copy(hub.hub_kubeconfig, inside)
        inside.chmod(0o600)
        path = str(inside)
    else:
        hub.hub_kubeconfig.write_text("kind: Config\n", "utf-8")
    result = hub.run(expect=2, BOOTSTRAP_HUB_KUBECONFIG=path)
    assert result.remote == []
    expected = {"missing": "no hub kubeconfig file: pass --hub-kubeconfig FILE",
                "absent": "does not exist or is not readable", "world-readable": "can be read by others (mode 644)",
                "in-repository": "is inside the repository", "not-a-kubeconfig": "is not a kubeconfig"}[case]
    assert expected in result.stderr


def test_a_missing_hub_tree_stops_the_preflight(hub: Bootstrap) -> None:
    shutil.rmtree(hub_tree(hub))
    result = hub.run(expect=2)
    assert result.remote == []
    assert "the hub tree" in result.stderr and "lacks kustomization.yaml: run render again" in result.stderr


def test_an_unreachable_hub_fails_the_registration_then_it_resumes(hub: Bootstrap) -> None:
    down = hub.run(expect=1, FAKE_HUB_DOWN="1")
    assert headers(down)[-1] == "hub-register"
    assert "the hub does not answer with --hub-kubeconfig" in down.stderr
    assert "no such host" in down.stderr and "resume with --from hub-register" in down.stderr
    assert not (hub.state / "hub.json").exists()
    resumed = hub.run("--from", "hub-register")
    assert headers(resumed) == ["preflight", "hub-register", "hub-apply", "handover"]
    assert "|Secret|argocd|cluster-ceosks-poc" in hub.hub()["objects"]


def test_a_name_registered_for_another_cluster_is_not_taken_over(hub: Bootstrap) -> None:
    other = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "cluster-ceosks-poc", "namespace": "argocd", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "data": {"name": base64.b64encode(b"ceosks-poc").decode(),
                 "server": base64.b64encode(b"https://other.sks-at-vie-1.exo.io:443").decode()}})
    (hub.root / "other.json").write_text(other, "utf-8")
    kubectl_hub(hub, "apply", "--server-side", "--filename", str(hub.root / "other.json"))
    result = hub.run(expect=3)
    assert headers(result)[-1] == "hub-register"
    assert "already registers cluster ceosks-poc for https://other.sks-at-vie-1.exo.io:443" in result.stderr
    assert decoded(hub.hub()["objects"]["|Secret|argocd|cluster-ceosks-poc"])["server"].startswith("https://other")


def test_a_hub_that_generates_no_root_fails_the_handover(hub: Bootstrap) -> None:
    result = hub.run(expect=1, FAKE_HUB_GIT_CLUSTERS="", **ONE_WAIT_NEVER_ENDS)
    assert headers(result)[-1] == "handover"
    assert "the root Application ceosks-poc-root Synced and Healthy on the hub (now: absent)" in result.stderr
    assert "hub hub has not delivered ceosks-poc (it must reach the cluster's API endpoint" in result.stderr
    assert HUB_ENDPOINT not in result.stdout


def test_the_simulated_bootstrap_provides_the_hub_facts(tmp_path: Path) -> None:
    from renderer.simulate import _cluster

    script = render_tree(tmp_path, HUB)
    tree = {str(path.relative_to(script.parent)): path.read_text("utf-8")
            for path in script.parent.rglob("*") if path.is_file()}
    model = cluster_model(HUB)
    cluster = _cluster(model)
    outcome = simulated.run(model, tree, cluster)
    assert outcome.converged, outcome.problems
    assert cluster.holds("hub:registered") and cluster.holds("hub:applied")
    without = tree["bootstrap.sh"].replace("\n  'hub-register|", "\n  'hub-registered-by-hand|")
    cluster = _cluster(model)
    assert simulated.run(model, {**tree, "bootstrap.sh": without}, cluster).converged
    assert not cluster.holds("hub:registered") and cluster.holds("hub:applied")


def test_a_second_cluster_finds_the_hub_tree_up_to_date_and_registers_beside_the_first(
        hub: Bootstrap, tmp_path: Path) -> None:
    hub.run()
    second = Bootstrap(tmp_path / "second", [*HUB, "cluster.name=ceosks-poc-2"])
    hub_tree(second)
    assert (hub_tree(second) / "kustomization.yaml").read_bytes() == (
        hub_tree(hub) / "kustomization.yaml").read_bytes()
    shutil.copy(hub.state / "hub.json", second.state / "hub.json")  # one hub for both clusters
    result = second.run(FAKE_HUB_GIT_CLUSTERS="ceosks-poc,ceosks-poc-2")
    assert "hub tree out/_hubs/hub: up to date" in result.stderr
    hub_changes = [call.line for call in result.calls
                   if call.changes and f"--kubeconfig={second.hub_kubeconfig}" in call.argv]
    assert hub_changes == [f"kubectl apply {SSA} --filename=- --kubeconfig={second.hub_kubeconfig}"]  # registration
    registered = {decoded(obj)["name"] for key, obj in second.hub()["objects"].items()
                  if key.startswith("|Secret|argocd|cluster-")}
    assert registered == {"ceosks-poc", "ceosks-poc-2"}


def test_a_dry_run_needs_no_hub_kubeconfig(hub: Bootstrap) -> None:
    dry = hub.run("--dry-run", BOOTSTRAP_HUB_KUBECONFIG="")
    assert not [call for call in dry.calls if not call.local]
    assert "'--kubeconfig=<hub kubeconfig>'" in dry.stdout
    assert "'--from-literal=server=<server of the kubeconfig>'" in dry.stdout
