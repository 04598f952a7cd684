"""bootstrap.sh against the stateful fake cluster (tests/fakes/fake_cluster.py): it converges in one
pass, resumes after Ctrl-C at every step with no credential left behind, and each failure listed
in issue 13 ("Why", items 1-8) has a regression test here.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.bootstrap_support import SECRET_MARKERS, Bootstrap, headers, step_names

pytestmark = pytest.mark.slow

STEPS = step_names()
# The fake kubeconfig's credential (fakes/fake_exo.py: kubeconfig), which must never be left around.
KUBECONFIG_TOKEN = base64.b64encode(b"fake credential admin system:masters 604800").decode()

SSA = "--server-side --force-conflicts --field-manager=sks-gitops"

# A call of each step made to fail (FAKE_FAIL: every call whose command line contains it), or the
# environment that makes the step fail. {tree} and {secrets} are the test's paths.
FAILURES = {
    "security-group": {"FAKE_FAIL": "security-group create"},
    "cluster": {"FAKE_FAIL": "sks create"},
    "kubeconfig": {"FAKE_FAIL": "sks kubeconfig"},
    "endpoint": {"FAKE_FAIL": "get endpointslices"},
    "01-longhorn": {"FAKE_FAIL": "helm upgrade"},
    "02-storageclass": {"FAKE_FAIL": "kustomize {tree}/02-storageclass"},
    "03-tigera-operator": {"FAKE_FAIL": "kustomize {tree}/03-tigera-operator"},
    "04-tigera-prometheus-operator": {"FAKE_FAIL": "kustomize {tree}/04-tigera-prometheus-operator"},
    "05-pull-secrets": {"FAKE_FAIL": "create secret generic"},
    "06-tigera-custom-resources": {"FAKE_FAIL": "kustomize {tree}/06-tigera-custom-resources"},
    "nodepool": {"FAKE_FAIL": "nodepool add"},
    "07-license": {"FAKE_FAIL": f"apply {SSA} --filename {{secrets}}/license.yaml"},
    "08-bypass-policies": {"FAKE_FAIL": "kustomize {tree}/08-bypass-policies"},
    "09-tigera-enterprise-resources": {"FAKE_FAIL": "kustomize {tree}/09-tigera-enterprise-resources"},
    "10-argocd": {"FAKE_FAIL": "kustomize {tree}/10-argocd"},
    "health": {"FAKE_TIGERASTATUS_DEGRADED": "log-storage-elastic", "BOOTSTRAP_HEALTH_TIMEOUT": "0"},
    "handover": {"FAKE_FAIL": "root-application"},
}

# A call made while each step runs; FAKE_INTERRUPT sends Ctrl-C's SIGINT once it is answered.
# Every step has one (a step added to the plan without one fails the Ctrl-C test with a KeyError).
INTERRUPTS = {
    "preflight": "patch --kubeconfig=/dev/null --local",
    "security-group": "security-group create",
    "cluster": "sks create",
    "kubeconfig": "sks kubeconfig",
    "endpoint": "get endpointslices",
    "01-longhorn": "helm upgrade",
    "02-storageclass": "kustomize {tree}/02-storageclass",
    "03-tigera-operator": "03-tigera-operator.yaml",
    "04-tigera-prometheus-operator": "kustomize {tree}/04-tigera-prometheus-operator",
    "05-pull-secrets": "create secret generic",
    "06-tigera-custom-resources": "get crd --output",
    "nodepool": "nodepool add",
    "07-license": "get tigerastatus apiserver",
    "08-bypass-policies": "get tiers.projectcalico.org",
    "09-tigera-enterprise-resources": "kustomize {tree}/09-tigera-enterprise-resources",
    "10-argocd": "10-argocd.yaml",
    "health": "get tigerastatus --output",
    "handover": "root-application",
}


@pytest.fixture
def prod(tmp_path: Path) -> Bootstrap:
    return Bootstrap(tmp_path)


def kubectl(run: Bootstrap, *argv: str, **env: str) -> str:
    return run.tool("kubectl", *argv, "--kubeconfig", str(run.kubeconfig), **env)


def tigerastatus(run: Bootstrap, **env: str) -> dict[str, list[dict[str, str]]]:
    listed: dict[str, Any] = json.loads(kubectl(run, "get", "tigerastatus", "--output", "json", **env))
    return {item["metadata"]["name"]: item["status"]["conditions"] for item in listed["items"]}


def assert_converged(run: Bootstrap) -> None:
    statuses = tigerastatus(run)
    assert {"calico", "apiserver", "manager", "log-storage", "tiers"} <= set(statuses)
    for name, conditions in statuses.items():
        assert {c["type"]: c["status"] for c in conditions}.get("Available") == "True", name
    objects = run.cluster()["objects"]
    assert {"projectcalico.org|LicenseKey||default", "argoproj.io|Application|argocd|ceosks-poc-root",
            "projectcalico.org|GlobalNetworkPolicy||allow-tigera.apiserver-endpoint-bypass",
            } <= set(objects)
    assert len(run.cloud()["clusters"]) == 1
    assert root_sync(run) == "Synced"


def root_sync(run: Bootstrap) -> str:
    """The root Application's sync status: Synced once Argo CD runs and reads the private repository
    with the credential the bootstrap made (fakes/fake_cluster.py: with_workload_status)."""
    return kubectl(run, "get", "applications.argoproj.io", "ceosks-poc-root", "--namespace", "argocd",
                   "--output", "jsonpath={.status.sync.status}")


def leftovers(run: Bootstrap) -> list[str]:
    """Files that hold a credential, other than the user's secret files, the kubeconfig and the fakes' state."""
    found = []
    markers = [marker.encode() for marker in (*SECRET_MARKERS, KUBECONFIG_TOKEN)]
    for path in run.root.rglob("*"):
        if not path.is_file() or path == run.kubeconfig or run.secrets in path.parents or run.state in path.parents:
            continue
        data = path.read_bytes()
        if ".kubeconfig." in path.name or any(marker in data for marker in markers):
            found.append(str(path.relative_to(run.root)))
    return found


def test_fresh_run_converges_in_one_pass_and_a_rerun_changes_nothing(prod: Bootstrap) -> None:
    first = prod.run(FAKE_DELAY_TIER="40")  # the tier comes after the engine's step, so the bypass still waits
    assert headers(first) == STEPS
    assert_converged(prod)
    assert leftovers(prod) == []
    waited = set(re.findall(r"^  (\S+(?: \S+)?): waiting for ", first.stderr, re.MULTILINE))
    assert {"crds:operator.tigera.io", "api:projectcalico.org/v3", "tier:operator", "Calico Enterprise"} <= waited
    again = prod.run()
    assert [call.line for call in again.calls if call.changes] == []


@pytest.mark.parametrize("step", STEPS)
def test_each_step_fails_then_is_interrupted_then_resumes_and_converges(prod: Bootstrap, step: str) -> None:
    """A failure, then Ctrl-C (SIGINT to the process group) in the resumed run, at every step:
    each stops at that step, leaves no credential behind, and the next `--from STEP` converges."""
    start = STEPS.index(step)
    if step in FAILURES:
        env = {name: value.format(tree=prod.tree, secrets=prod.secrets) for name, value in FAILURES[step].items()}
        failed = prod.run(expect=1, **env)
        assert headers(failed) == STEPS[:start + 1]
        assert f"resume with the same options and --from {step}" in failed.stderr
        assert leftovers(prod) == []
    interrupted = prod.run("--from", step, expect=130, FAKE_INTERRUPT=INTERRUPTS[step].format(tree=prod.tree))
    assert headers(interrupted)[-1] == step
    assert "bootstrap: interrupted" in interrupted.stderr
    assert leftovers(prod) == []
    assert not list((prod.root / "tmp").iterdir())
    resumed = prod.run("--from", step)
    assert headers(resumed) == ["preflight", *STEPS[max(1, start):]]
    assert "bootstrap of ceosks-poc: done" in resumed.stderr
    assert_converged(prod)
    assert leftovers(prod) == []


@pytest.mark.parametrize(("step", "removing"), [("kubeconfig", ".ceosks-poc.kubeconfig."),
                                              ("05-pull-secrets", "sks-bootstrap.")])
def test_a_second_ctrl_c_during_the_cleanup_leaves_no_credential(prod: Bootstrap, step: str, removing: str) -> None:
    """Ctrl-C, then Ctrl-C again while the exit trap removes the temporary kubeconfig or $WORK (`timeout`
    forwarding SIGINT did it in 2 of 39 runs): the second one once killed that rm and ended the trap early."""
    resume: tuple[str, ...] = ()
    if step != "kubeconfig":  # the steps before it done, as a first run that failed there leaves them
        prod.run(expect=1, FAKE_FAIL=INTERRUPTS[step])
        resume = ("--from", step)
    interrupted = prod.run(*resume, expect=130, FAKE_INTERRUPT=INTERRUPTS[step], FAKE_SECOND_INTERRUPT=removing)
    assert (prod.state / "second-interrupt").exists(), "the cleanup never removed the file it was to"
    assert "bootstrap: interrupted" in interrupted.stderr
    assert leftovers(prod) == []
    assert not list((prod.root / "tmp").iterdir())


# ---- issue 13, "Why" ---------------------------------------------------------------------------

def test_1_a_component_degraded_without_an_available_condition_fails_the_health_gate(prod: Bootstrap) -> None:
    result = prod.run(expect=1, FAKE_TIGERASTATUS_DEGRADED="manager", BOOTSTRAP_HEALTH_TIMEOUT="0")
    # The shape operator v1.34.5 writes when a controller degrades before it monitors: Degraded only.
    assert [c["type"] for c in tigerastatus(prod, FAKE_TIGERASTATUS_DEGRADED="manager")["manager"]] == ["Degraded"]
    assert "\nevery tigerastatus is Available\n" not in result.stderr
    assert ("  - manager: Degraded (ResourceNotReady): Elasticsearch cluster health is red: \n"
            "      shard allocation failed\n") in result.stderr
    assert headers(result)[-1] == "health"
    assert not any("root-application" in line for line in result.remote)


def test_2_the_bypass_waits_for_the_tier_the_license_brings(prod: Bootstrap) -> None:
    late = prod.run(expect=1, FAKE_DELAY_TIER="1000", FAKE_DELAY_CRDS="0", BOOTSTRAP_WAIT_TIMEOUT="0")
    assert headers(late)[-1] == "08-bypass-policies"
    assert "tier:operator: Tier allow-tigera exists (the operator creates it once the license is processed)" \
           " did not happen within 0s" in late.stderr
    assert not any("08-bypass-policies" in line for line in late.remote)
    resumed = prod.run("--from", "08-bypass-policies")
    lines = [prod.normalize(line) for line in resumed.remote]
    tier = lines.index("kubectl get tiers.projectcalico.org allow-tigera --output=name")
    assert tier < lines.index("kubectl apply --server-side --force-conflicts --field-manager=sks-gitops"
                              " --filename $WORK/08-bypass-policies.yaml")
    assert_converged(prod)


def test_3_a_kubeconfig_left_by_a_killed_run_is_removed_by_the_next(prod: Bootstrap) -> None:
    interrupted = prod.run(expect=130, FAKE_INTERRUPT="sks kubeconfig")
    assert headers(interrupted)[-1] == "kubeconfig"
    assert not list((prod.home / ".kube").glob(".ceosks-poc.kubeconfig.*"))
    stale = prod.home / ".kube" / ".ceosks-poc.kubeconfig.Ab12Cd"  # as `kill -9` would leave it
    stale.write_text(f"token: {KUBECONFIG_TOKEN}\n", "utf-8")
    prod.run("--dry-run")
    assert stale.exists()  # a dry run changes nothing
    prod.run("--from", "kubeconfig", expect=1, FAKE_FAIL="sks show")  # preflight cleans up, then it stops
    assert not stale.exists()


@pytest.mark.parametrize(("which", "name"), [("pull_secret", "a,b.json"), ("pull_secret", "a=b.json"),
                                             ("pull_secret", 'a"b.json'), ("license", "a,b.yaml"),
                                             ("license", 'a"b.yaml')])
def test_4_preflight_refuses_paths_kubectl_would_refuse(prod: Bootstrap, which: str, name: str) -> None:
    path: Path = getattr(prod, which)
    moved = path.with_name(name)
    path.rename(moved)
    variable = "BOOTSTRAP_PULL_SECRET" if which == "pull_secret" else "BOOTSTRAP_LICENSE"
    result = prod.run(expect=2, **{variable: str(moved)})
    assert result.remote == []
    assert f"file path {moved} contains one of" in result.stderr
    assert "which kubectl refuses in --" in result.stderr


def test_4_a_license_path_with_an_equals_sign_is_accepted(prod: Bootstrap) -> None:
    moved = prod.license.with_name("a=b.yaml")
    prod.license.rename(moved)
    result = prod.run("--dry-run", BOOTSTRAP_LICENSE=str(moved))
    assert f"--filename {moved}" in result.stdout.replace("'", "")


def test_5_changed_longhorn_values_are_applied(prod: Bootstrap) -> None:
    prod.run()
    drift = prod.root / "drift.json"
    drift.write_text('{"persistence":{"defaultClassReplicaCount":3}}', "utf-8")
    prod.tool("helm", "upgrade", "--install", "longhorn", "longhorn", "--repo", "https://charts.longhorn.io",
              "--version", "1.7.0", "--namespace", "longhorn-system", "--values", str(drift),
              KUBECONFIG=str(prod.kubeconfig))
    result = prod.run()
    assert [prod.normalize(call.line) for call in result.calls if call.changes] == [
        "helm upgrade --install longhorn longhorn --repo https://charts.longhorn.io --version 1.7.0"
        " --namespace longhorn-system --values $WORK/longhorn-values.json"]
    (release,) = prod.cluster()["releases"]
    assert release["values"]["persistence"]["defaultClassReplicaCount"] == 2


def test_6_the_endpoint_comes_from_the_endpointslice(prod: Bootstrap) -> None:
    result = prod.run("--from", "endpoint", expect=None)  # no cluster yet: the read is what counts
    reads = [line for line in result.remote if line.startswith("kubectl get endpoint")]
    assert reads and all(line.startswith("kubectl get endpointslices --namespace default --selector "
                                         "kubernetes.io/service-name=kubernetes") for line in reads)


@pytest.mark.parametrize(("kind", "name"), [("APIServer", "tigera-secure"), ("Installation", "seed")])
def test_7_an_operator_singleton_of_another_name_stops_before_the_custom_resources(
        prod: Bootstrap, kind: str, name: str) -> None:
    prod.run()
    seed = prod.root / "seed.yaml"  # the seed's custom-resources name the APIServer tigera-secure
    seed.write_text(f"apiVersion: operator.tigera.io/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec: {{}}\n",
                    "utf-8")
    kubectl(prod, "apply", "--server-side", "--filename", str(seed))
    result = prod.run(expect=3)
    resource = f"{kind.lower()}s.operator.tigera.io"
    assert headers(result)[-1] == "06-tigera-custom-resources"
    assert f"{resource} {name} exists" in result.stderr
    assert f"(it would report \"multiple {kind} CRs\")" in result.stderr
    assert f"kubectl delete {resource} {name}) and resume with --from 06-tigera-custom-resources" in result.stderr
    assert [call.line for call in result.calls if call.changes] == []


def test_8_a_dry_run_needs_no_secret_file(prod: Bootstrap) -> None:
    prod.pull_secret.unlink()
    prod.license.unlink()
    named = prod.run("--dry-run")
    assert f"# a real run reads the pull secret from {prod.pull_secret}" in named.stdout
    assert f"# a real run reads the license from {prod.license}" in named.stdout
    assert f"the pull secret file {prod.pull_secret} is not here; a real run needs it" in named.stderr
    unnamed = prod.run("--dry-run", BOOTSTRAP_PULL_SECRET="", BOOTSTRAP_LICENSE="")
    assert "# a real run reads the pull secret from the file given with --pull-secret FILE" in unnamed.stdout
    assert [call for call in named.calls + unnamed.calls if not call.local] == []
    assert prod.run(expect=2).remote == []
