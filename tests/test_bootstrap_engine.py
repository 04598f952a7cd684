"""The bootstrap installs the GitOps engine it hands over to (issue 24), against the fake cluster.

From `exo compute sks create` to every tigerastatus Available and the engine reading the private
repository with the credential the bootstrap made from a file, in one run: no manual step, no
`--from`. The credential file follows the pull secret's rules (never printed, never in argv) and
must not be readable by others.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.bootstrap_support import ONE_WAIT_NEVER_ENDS, Bootstrap, headers, plan_lines, step_names

pytestmark = pytest.mark.slow

SSA = "--server-side --force-conflicts --field-manager=sks-gitops"
FLUX = ["gitops.engine=flux"]


def kubectl(run: Bootstrap, *argv: str) -> str:
    return run.tool("kubectl", *argv, "--kubeconfig", str(run.kubeconfig))


def available(run: Bootstrap) -> dict[str, str]:
    listed = json.loads(kubectl(run, "get", "tigerastatus", "--output", "json"))
    return {item["metadata"]["name"]: {c["type"]: c["status"] for c in item["status"]["conditions"]}.get(
        "Available", "") for item in listed["items"]}


@pytest.mark.parametrize("engine", ["argocd", "flux"])
def test_one_run_from_exo_to_a_synced_root(tmp_path: Path, engine: str) -> None:
    run = Bootstrap(tmp_path, FLUX if engine == "flux" else [])
    result = run.run()
    assert headers(result) == step_names(FLUX if engine == "flux" else [])
    lines = [run.normalize(line) for line in result.remote]
    assert lines[0].startswith("exo ")
    stage = "10-argocd" if engine == "argocd" else "11-flux"
    install = lines.index(f"kubectl apply {SSA} --filename $WORK/{stage}.yaml")
    credential = next(index for index, line in enumerate(lines) if line == f"kubectl apply {SSA} --filename=-"
                      and index > install)
    handover = (lines.index(f"kubectl apply {SSA} --filename $TREE/argocd/root-application.yaml") if engine == "argocd"
                else lines.index(f"kubectl apply {SSA} --kustomize $TREE/flux"))
    assert install < credential < handover
    statuses = available(run)
    assert statuses and set(statuses.values()) == {"True"}, statuses
    if engine == "argocd":
        sync = kubectl(run, "get", "applications.argoproj.io", "ceosks-poc-root", "--namespace", "argocd",
                       "--output", "jsonpath={.status.sync.status}")
        assert sync == "Synced"
        labels = kubectl(run, "get", "secret", "ceosks-poc-repository", "--namespace", "argocd",
                         "--output", "jsonpath={.metadata.labels.argocd\\.argoproj\\.io/secret-type}")
        assert labels == "repository"
    else:
        ready = kubectl(run, "get", "gitrepositories.source.toolkit.fluxcd.io", "ceosks-poc", "--namespace",
                        "flux-system", "--output", "jsonpath={.status.conditions[0].status}")
        assert ready == "True"
    assert "--from" not in result.stderr.replace("--from-", "")
    assert [call.line for call in run.run().calls if call.changes] == []


def test_without_the_credential_the_handover_stops_where_the_engine_cannot_read_the_repository(
        tmp_path: Path) -> None:
    """The fake repository is private: without the Secret the root never compares, and the run says so."""
    run = Bootstrap(tmp_path, ["secrets.gitCredentials.provider=none"])
    result = run.run(expect=1, **ONE_WAIT_NEVER_ENDS)
    assert headers(result)[-1] == "handover"
    assert ("Argo CD cannot read https://git.example.com/platform/sks-gitops.git (a private repository needs "
            "secrets.gitCredentials.provider: bootstrap); fix it, then resume with --from handover") in result.stderr
    sync = kubectl(run, "get", "applications.argoproj.io", "ceosks-poc-root", "--namespace", "argocd",
                   "--output", "jsonpath={.status.sync.status}")
    assert sync == "Unknown"


@pytest.mark.parametrize("engine", ["argocd", "flux"])
def test_a_wrong_token_stops_the_handover(tmp_path: Path, engine: str) -> None:
    run = Bootstrap(tmp_path, FLUX if engine == "flux" else [])
    run.git_credential.write_text("not-the-token\n", "utf-8")
    result = run.run(expect=1, **ONE_WAIT_NEVER_ENDS)
    assert headers(result)[-1] == "handover"
    repo = "https://git.example.com/platform/sks-gitops.git"
    assert f"cannot read {repo} with the credential from {run.git_credential}" in result.stderr


def test_engine_waits_for_the_pod_network_and_the_handover_for_the_engine(tmp_path: Path) -> None:
    run = Bootstrap(tmp_path)
    dry = plan_lines(run.run("--dry-run").stdout)
    calico = next(index for index, line in enumerate(dry)
                  if line.endswith("s for calico: tigerastatus calico is Available (the pod network runs)"))
    install = next(index for index, line in enumerate(dry) if line.startswith("+ kubectl apply") and
                   line.endswith("/10-argocd.yaml"))
    engine = next(index for index, line in enumerate(dry) if line.endswith(
        "s for engine:argocd: the Deployments and StatefulSets of argocd in namespace argocd are Available"))
    secret = next(index for index, line in enumerate(dry) if line.startswith("+ tr -d")
                  and "kubectl create secret generic ceosks-poc-repository" in line)
    root = next(index for index, line in enumerate(dry) if line.startswith("+ kubectl apply")
                and line.endswith("argocd/root-application.yaml"))
    assert calico < install < engine < secret < root
    assert f"< {run.git_credential} |" in dry[secret]
    assert "--from-file=password=/dev/stdin" in dry[secret]


@pytest.mark.parametrize(("mode", "content", "message"), [
    (0o644, "token\n", "can be read by others (mode 644): chmod 600 it"),
    (0o600, "two\nlines\n", "must hold one token on one line"),
    (0o600, "", "must hold one token on one line"),
])
def test_a_bad_credential_file_stops_before_any_cloud_call(tmp_path: Path, mode: int, content: str,
                                                          message: str) -> None:
    run = Bootstrap(tmp_path)
    run.git_credential.write_text(content, "utf-8")
    run.git_credential.chmod(mode)
    result = run.run(expect=2)
    assert result.remote == []
    assert message in result.stderr


def test_a_public_repository_needs_no_credential(tmp_path: Path) -> None:
    run = Bootstrap(tmp_path, ["secrets.gitCredentials.provider=none"])
    result = run.run("--dry-run", BOOTSTRAP_GIT_CREDENTIAL="")
    assert "create secret" not in result.stdout.replace("create secret generic tigera-pull-secret", "")
    assert "--git-credential" not in run.run("--help").stdout


def test_engine_installed_elsewhere_keeps_the_checks(tmp_path: Path) -> None:
    """gitops.engineInstalled: true: no engine stage; the handover checks the CRD and applies the health checks."""
    run = Bootstrap(tmp_path, ["gitops.engineInstalled=true"], preinstalled="argocd")
    assert "10-argocd" not in step_names(["gitops.engineInstalled=true"])
    result = run.run()
    lines = [run.normalize(line) for line in result.remote]
    assert "kubectl get crd applications.argoproj.io --output=name" in lines
    assert ("kubectl apply --server-side --field-manager=sks-gitops --filename $TREE/argocd/argocd-cm-health.yaml"
            in lines)
    assert not (run.tree / "10-argocd").exists()


DEPLOY_KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAfixture-deploy-key-7c41\n"
              "-----END OPENSSH PRIVATE KEY-----\n")


def test_an_ssh_repository_gets_the_deploy_key(tmp_path: Path) -> None:
    """Argo CD over ssh: the file is a deploy key, stored as sshPrivateKey byte for byte (never in argv or a log)."""
    scp = "git@git.example.com:platform/sks-gitops.git"
    run = Bootstrap(tmp_path, [f"gitops.repoURL={scp}"])
    run.git_credential.write_text(DEPLOY_KEY, "utf-8")
    result = run.run(FAKE_GIT_TOKEN=DEPLOY_KEY)
    assert "fixture-deploy-key-7c41" not in result.stdout + result.stderr + "".join(
        "\0".join(call.argv) for call in result.calls)
    secret = run.cluster()["objects"]["|Secret|argocd|ceosks-poc-repository"]
    assert base64.b64decode(secret["data"]["sshPrivateKey"]).decode() == DEPLOY_KEY
    assert base64.b64decode(secret["data"]["url"]).decode() == scp
    assert "password" not in secret["data"]
    run.git_credential.write_text("a token, not a key\n", "utf-8")
    refused = run.run(expect=2)
    assert "is not a private key (gitops.repoURL is ssh: a deploy key)" in refused.stderr


def test_flux_over_ssh_gets_the_deploy_key_and_known_hosts(tmp_path: Path) -> None:
    """Flux over ssh: identity and known_hosts (fluxcd/source-controller v1.9.1), from two files."""
    run = Bootstrap(tmp_path, ["gitops.engine=flux", "gitops.repoURL=ssh://git@git.example.com/platform/sks.git"])
    run.git_credential.write_text(DEPLOY_KEY, "utf-8")
    assert "--git-known-hosts FILE" in run.run("--help").stdout
    run.run(FAKE_GIT_TOKEN=DEPLOY_KEY)
    secret = run.cluster()["objects"]["|Secret|flux-system|flux-system"]
    assert base64.b64decode(secret["data"]["identity"]).decode() == DEPLOY_KEY
    assert base64.b64decode(secret["data"]["known_hosts"]) == run.known_hosts.read_bytes()
    run.known_hosts.write_text("", "utf-8")
    assert f"the known_hosts file {run.known_hosts} is empty" in run.run(expect=2).stderr
