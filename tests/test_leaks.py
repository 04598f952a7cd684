"""The leak guard (renderer.leaks) and its wiring into renderer.check.

Negative: each kind of secret material is found on its own, through check.check, and when
smuggled in through a values field. Positive: every real tree (out/ in git and renders of
several variants) has 0 findings, and common non-secret text (digests, UUIDs, URLs, Lua and
CEL health checks) is not mistaken for a secret. The counts are recorded as test properties
(`leak_findings_real`, `leak_findings_negative`).
"""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path
from typing import Any

import pytest

from renderer import check, leaks, load, pipeline, validate, yamlio
from renderer.errors import TemplateError
from renderer.leaks import tokens as leak_tokens
from tests.conftest import PROD_VALUES, REPO_ROOT, RenderCli, read_tree
from tests.support.schema_walk import string_fields

# --------------------------------------------------------------------------- samples (built, never literal)

_RNG = random.Random(20240909)
TOKEN48 = "".join(_RNG.choice(string.ascii_letters + string.digits + "+/") for _ in range(48))
TOKEN48_URLSAFE = "".join(_RNG.choice(string.ascii_letters + string.digits) for _ in range(48))
AWS_KEY_ID = "AKIA" + "".join(_RNG.choice(string.ascii_uppercase + string.digits) for _ in range(16))
PEM = ("-----BEGIN " + "RSA PRIVATE KEY-----\n" + base64.b64encode(_RNG.randbytes(96)).decode()
       + "\n-----END " + "RSA PRIVATE KEY-----\n")
OPENSSH = "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END " + "OPENSSH PRIVATE KEY-----"


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


JWT = ".".join([_b64url({"alg": "HS256", "typ": "JWT"}), _b64url({"sub": "tigera", "iat": 1725000000}),
               TOKEN48_URLSAFE[:43]])
JWT_SHORT = f"{_b64url({'alg': 'HS256'})}.{_b64url({'sub': 'x'})}.{TOKEN48_URLSAFE[:12]}"
DOCKERCONFIG = json.dumps({"auths": {"registry.example.com": {"auth": base64.b64encode(b"user:hunter2").decode()}}})
DOCKERCONFIG_PRETTY = json.dumps({"auths": {"quay.io": {"username": "u", "password": "hunter2"}}}, indent=2)

TEXT_SAMPLES = {
    "pem-private-key": PEM,
    "openssh-private-key": OPENSSH,
    "jwt": JWT,
    "jwt-short": JWT_SHORT,
    "dockerconfigjson": DOCKERCONFIG,
    "dockerconfigjson-pretty": DOCKERCONFIG_PRETTY,
    "high-entropy-48-base64": TOKEN48,
    "high-entropy-48-alnum": TOKEN48_URLSAFE,
    "aws-access-key-id": AWS_KEY_ID,
    "token-in-a-shell-line": f"export TOKEN={TOKEN48_URLSAFE}\n",
    "token-in-a-yaml-value": f"spec:\n  token: {TOKEN48}\n",
}

OBJECT_SAMPLES: dict[str, dict[str, Any]] = {
    "secret-data": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
                    "data": {"password": base64.b64encode(b"hunter2").decode()}},
    "secret-string-data": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
                           "stringData": {"password": "hunter2"}},
    "dockerconfigjson-secret": {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                                "metadata": {"name": "tigera-pull-secret", "namespace": "tigera-operator"},
                                "data": {".dockerconfigjson": base64.b64encode(DOCKERCONFIG.encode()).decode()}},
    "license-key-token": {"apiVersion": "crd.projectcalico.org/v1", "kind": "LicenseKey",
                          "metadata": {"name": "default"}, "spec": {"token": "short-token"}},
    "license-key-certificate": {"apiVersion": "crd.projectcalico.org/v1", "kind": "LicenseKey",
                                "metadata": {"name": "default"}, "spec": {"certificate": "cert"}},
}


@pytest.mark.parametrize("name", sorted(TEXT_SAMPLES))
def test_scan_text_finds_secret_material(name: str) -> None:
    findings = leaks.scan_text("x.yaml", TEXT_SAMPLES[name])
    assert findings, name
    for finding in findings:  # a finding names the kind of material, never quotes it
        assert TEXT_SAMPLES[name].strip()[:20] not in finding


@pytest.mark.parametrize("name", sorted(OBJECT_SAMPLES))
def test_scan_object_finds_secret_objects(name: str) -> None:
    assert leaks.scan_object(OBJECT_SAMPLES[name]), name


def test_empty_secret_and_license_reference_are_not_findings() -> None:
    assert leaks.scan_object({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}) == []
    assert leaks.scan_object({"kind": "LicenseKey", "metadata": {"name": "default"}, "spec": {}}) == []


def test_dockerconfig_inside_a_quoted_yaml_scalar_is_found() -> None:
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"config.json": DOCKERCONFIG}}
    text = yamlio.dump(doc)
    assert leaks.scan_text("c.yaml", text) + leaks.scan_object(yamlio.load_all_plain(text)[0])


def test_secret_inside_a_list_is_found() -> None:
    doc = {"apiVersion": "v1", "kind": "List", "items": [OBJECT_SAMPLES["secret-string-data"]]}
    assert leaks.scan_text("l.yaml", yamlio.dump(doc)) + leaks.scan_object(doc)


# --------------------------------------------------------------------------- wiring into check.check


@pytest.fixture(scope="module")
def prod() -> pipeline.Prepared:
    return pipeline.prepare([PROD_VALUES], pipeline.Request(values_files=(PROD_VALUES,)), [])


def _check_findings(prepared: pipeline.Prepared, extra: dict[str, str]) -> list[str]:
    tree = {**prepared.tree, **extra}
    try:
        check.check(tree, prepared.model)
    except TemplateError as exc:
        return [problem.format() for problem in exc.problems]
    return []


WIRED = {
    **{f"text-{name}": {"08-bypass-policies/leak.sh": text} for name, text in TEXT_SAMPLES.items()},
    **{f"object-{name}": {"08-bypass-policies/leak.yaml": yamlio.dump(obj)} for name, obj in OBJECT_SAMPLES.items()},
}


@pytest.mark.parametrize("name", sorted(WIRED))
def test_check_refuses_a_tree_with_secret_material(name: str, prod: pipeline.Prepared) -> None:
    findings = _check_findings(prod, WIRED[name])
    leak_findings = [item for item in findings if "leak." in item and any(
        word in item for word in ("contains", "Secret with", "LicenseKey with"))]
    assert leak_findings, findings


def test_check_passes_the_real_tree(prod: pipeline.Prepared) -> None:
    assert _check_findings(prod, {}) == []


# --------------------------------------------------------------------------- real output: 0 findings

VARIANTS: dict[str, list[str]] = {
    "prod": [],
    "external-secrets": ["secrets.pullSecret.provider=external-secrets", "secrets.pullSecret.storeName=vault-backend",
                         "secrets.pullSecret.remoteKey=tigera/pull-secret",
                         "secrets.pullSecret.remoteProperty=dockerconfigjson"],
    "service-bypass-ip": ["bypass.mode=service", "apiServer.endpointIP=194.182.185.29"],
    "v3.23-flux": ["tigera.version=v3.23.1", "gitops.engine=flux", "cluster.kubernetesVersion=1.33.2"],
    "flux-sops": ["gitops.engine=flux", "secrets.license.provider=sops",
                  "secrets.license.encryptedFile=secrets/ceosks-poc/license.enc.yaml"],
    "custom-resources-off": ["tigera.customResources={intrusionDetection: false, logCollector: false, "
                             "logStorage: false, manager: false, monitor: false, compliance: false, "
                             "policyRecommendation: false}"],
    "labels-taints-description": ["cluster.description=Seed cluster: Calico Enterprise 3.19 / Longhorn 1.7",
                                  "nodepool.labels={role: worker, topology.kubernetes.io/zone: at-vie-1}",
                                  "nodepool.taints=[{key: dedicated, value: tigera, effect: NoSchedule}]"],
}


def _scan_tree(files: dict[str, str]) -> list[str]:
    found = []
    for path, text in files.items():
        found += [f"{path}: {item}" for item in leaks.scan_text(path, text)]
        if path.endswith(".yaml"):
            for doc in yamlio.load_all_plain(text):
                if isinstance(doc, dict):
                    found += [f"{path}: {item}" for item in leaks.scan_object(doc)]
    return found


def test_committed_out_has_no_findings(request: pytest.FixtureRequest) -> None:
    trees = [path for path in (REPO_ROOT / "out").iterdir() if path.is_dir()]
    assert trees
    files = {f"{tree.name}/{path}": text for tree in trees for path, text in read_tree(tree).items()}
    findings = _scan_tree(files)
    request.node.user_properties.append(("leak_files_scanned_committed_out", len(files)))
    request.node.user_properties.append(("leak_findings_real", len(findings)))
    assert findings == []


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_variants_have_no_findings(variant: str, render_cli: RenderCli, tmp_path: Path,
                                            request: pytest.FixtureRequest) -> None:
    sets = [arg for item in VARIANTS[variant] for arg in ("--set", item)]
    render_cli(PROD_VALUES, "--out", tmp_path, *sets)
    files = read_tree(tmp_path / "ceosks-poc")
    assert ".sks-gitops-owned.json" in files  # the manifest of sha256 digests is scanned too
    findings = _scan_tree(files)
    request.node.user_properties.append(("leak_files_scanned", len(files)))
    request.node.user_properties.append(("leak_findings_real", len(findings)))
    assert findings == []


def test_negative_samples_all_have_findings(request: pytest.FixtureRequest) -> None:
    counts = {name: len(leaks.scan_text("x", text)) for name, text in TEXT_SAMPLES.items()}
    counts |= {name: len(leaks.scan_object(obj)) for name, obj in OBJECT_SAMPLES.items()}
    request.node.user_properties.append(("leak_findings_negative", sum(counts.values())))
    assert all(counts.values()), counts
    assert sum(counts.values()) >= len(counts)


# --------------------------------------------------------------------------- no false positives

NOT_SECRETS = {
    # a bare 64-hex string is refused (issue 14: an API token of that shape); a digest says what it is
    "sha256-labelled": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "image-digest": "quay.io/tigera/operator@sha256:2c6d1b5a0f2d4f8e9b3a7c1d0e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f",
    "git-commit": "9dd6118b3a0f2d4f8e9b3a7c1d0e5f6a7b8c9d0e",
    "uuid": "c6f99499-7f59-4138-9427-a09db13af2bc",
    "uuid-upper": "C6F99499-7F59-4138-9427-A09DB13AF2BC",
    "url": "https://downloads.tigera.io/ee/v3.19.2/manifests/tigera-prometheus-operator.yaml",
    "helm-repo": "https://charts.longhorn.io/longhorn/longhorn-1.7.0.tgz",
    "ssh-repo": "ssh://git@git.example.com/platform/sks-gitops-rendered-configuration.git",
    "k8s-names": "resources-finalizer.argocd.argoproj.io tigera-prometheus-operator apiserver-endpoint-bypass",
    "annotation": "resource.customizations.health.operator.tigera.io_PolicyRecommendation",
    "lua": "hs = {}\nif obj.status ~= nil and obj.status.health ~= nil then\n"
           "  hs.status = obj.status.health.status\nend",
    "cel": "has(status.conditions) && status.conditions.exists(e, e.type == 'Ready' && e.status == 'True')",
    "externalsecret-template": '.dockerconfigjson: "{{ .dockerconfigjson }}"',
    "dockerconfig-without-credentials": json.dumps({"auths": {"registry.example.com": {}}}),
    "sops-path": "../../secrets/ceosks-poc/license.enc.yaml",
    # issue 21: ordinary references once refused as high-entropy tokens
    "external-secrets-remote-key": "Production/Tigera/PullSecretDockerConfigJson01",
    "label-value": "ProductionTigeraPullSecretDockerConfigJson01",
    "description-path": "Replicas live in /var/lib/Longhorn/ReplicaStorage/Production2024/VolumeData01",
}


@pytest.mark.parametrize("name", sorted(NOT_SECRETS))
def test_no_false_positive(name: str) -> None:
    assert leaks.scan_text("x.yaml", NOT_SECRETS[name]) == []


def test_shell_assignment_of_a_uuid_name_is_not_a_finding() -> None:
    assert leaks.scan_text("bootstrap.sh", f"readonly SECURITY_GROUP={NOT_SECRETS['uuid']}\n") == []


def test_real_health_checks_are_not_findings(render_cli: RenderCli, tmp_path: Path) -> None:
    render_cli(PROD_VALUES, "--out", tmp_path, "--set", "gitops.engine=both")
    files = read_tree(tmp_path / "ceosks-poc")
    lua = files["argocd/argocd-cm-health.yaml"]
    cel = "".join(text for path, text in files.items() if path.startswith("flux/") and "healthCheckExprs" in text)
    assert "obj.status.health.status" in lua and "status.conditions.exists" in cel
    assert leaks.scan_text("lua", lua) == [] and leaks.scan_text("cel", cel) == []


# --------------------------------------------------------------------------- smuggling through values

FULL = yamlio.load_one(PROD_VALUES.read_bytes(), "prod.yaml").data


def _admitted(path: tuple[str, ...], value: str) -> bool:
    """Whether the schema accepts `value` at `path` (`<any>`: a mapping value, `<item>`: a list item)."""
    data = json.loads(json.dumps(FULL))
    node: Any = data
    keys = list(path)
    while keys:
        key = keys.pop(0)
        if keys and keys[0] == "<item>":
            rest = keys[1:]
            node[key] = [value if not rest else {"key": "k", "value": "v", "effect": "NoSchedule", rest[0]: value}]
            break
        if key == "<any>":
            node["role"] = value
        elif not keys:
            node[key] = value
        else:
            node = node.setdefault(key, {})
    return not validate.schema_problems(load.LocatedValues(data=data, origins={}, sources=("values.yaml",)))


SMUGGLE = {"jwt": JWT_SHORT, "aws-key-id": AWS_KEY_ID, "entropy-token": TOKEN48_URLSAFE,
           "pem": PEM, "dockerconfigjson": DOCKERCONFIG, "entropy-token-base64": TOKEN48}


WHOLE_VALUE_CHANNELS = {
    "cluster.description", "kubeconfig.user", "kubeconfig.group", "nodepool.labels.<any>", "nodepool.taints.<item>.key",
    "nodepool.taints.<item>.value", "secrets.pullSecret.remoteKey", "secrets.pullSecret.remoteProperty",
    "gitops.revision", "gitops.path", "secrets.gitCredentials.username"}
"""String values that admit a JWT, an access key id or an alphanumeric token as their whole value."""
URL_OR_PATH_CHANNELS = {"gitops.repoURL", "longhorn.chartRepository", "tigera.manifestsBaseURL",
                        "secrets.license.encryptedFile", "gitops.argocdManifestsBaseURL", "gitops.fluxManifestsBaseURL"}
"""String values that admit one inside a URL path or a file name."""


def _carriers(sample: str) -> set[str]:
    schema = validate.values_schema()
    found = set()
    for path in string_fields(schema, schema):
        key = ".".join(path)
        wrapped = {"gitops.repoURL": f"https://git.example.com/{sample}/x.git",
                   "longhorn.chartRepository": f"https://charts.example.com/{sample}",
                   "tigera.manifestsBaseURL": f"https://mirror.example.com/{sample}",
                   "gitops.argocdManifestsBaseURL": f"https://mirror.example.com/{sample}",
                   "gitops.fluxManifestsBaseURL": f"https://mirror.example.com/{sample}",
                   "secrets.license.encryptedFile": f"secrets/{sample}.yaml"}.get(key, sample)
        if _admitted(path, wrapped):
            found.add(key)
    return found


def test_which_string_values_can_carry_secret_material() -> None:
    """The schema is the first wall: only the free-text description admits a PEM block or a docker config."""
    assert _carriers(PEM) == {"cluster.description"}
    assert _carriers(DOCKERCONFIG) == {"cluster.description"}
    assert _carriers(TOKEN48) == {"cluster.description"}  # '+' and '/' fit nowhere else
    for sample in (JWT_SHORT, AWS_KEY_ID, TOKEN48_URLSAFE):  # the channels tested end to end below
        assert _carriers(sample) == WHOLE_VALUE_CHANNELS | URL_OR_PATH_CHANNELS, sample


LEAK_BUG = ("BUG: a secret-shaped value reaching the output trips the leak guard in check.check, which raises "
            "TemplateError: exit 3 'internal error' with no location, instead of a located values error (exit 2)")

CHANNELS = [
    # (id, --set overrides, the key that carries the sample, the sample); every one reaches the output
    # (the free-text ones through bootstrap.sh), so every one is the bug below today
    ("description-jwt", [f"cluster.description={JWT}"], "cluster.description", JWT),
    ("description-pem", [f"cluster.description={PEM}"], "cluster.description", PEM),
    ("description-dockerconfig", [f"cluster.description={DOCKERCONFIG}"], "cluster.description", DOCKERCONFIG),
    ("description-aws", [f"cluster.description={AWS_KEY_ID}"], "cluster.description", AWS_KEY_ID),
    ("description-entropy", [f"cluster.description={TOKEN48}"], "cluster.description", TOKEN48),
    ("kubeconfig-user-aws", [f"kubeconfig.user={AWS_KEY_ID}"], "kubeconfig.user", AWS_KEY_ID),
    ("node-label-jwt", [f"nodepool.labels={{role: {JWT_SHORT}}}"], "nodepool.labels", JWT_SHORT),
    ("repo-url-aws", [f"gitops.repoURL=https://git.example.com/{AWS_KEY_ID}/x.git"], "gitops.repoURL", AWS_KEY_ID),
    ("repo-url-entropy", [f"gitops.repoURL=https://git.example.com/{TOKEN48_URLSAFE}/x.git"], "gitops.repoURL",
     TOKEN48_URLSAFE),
    ("revision-jwt", [f"gitops.revision={JWT_SHORT}"], "gitops.revision", JWT_SHORT),
    ("gitops-path-entropy", [f"gitops.path=out/{TOKEN48_URLSAFE}"], "gitops.path", TOKEN48_URLSAFE),
    ("chart-repository-aws", [f"longhorn.chartRepository=https://charts.example.com/{AWS_KEY_ID}"],
     "longhorn.chartRepository", AWS_KEY_ID),
    ("manifests-base-url-entropy", [f"tigera.manifestsBaseURL=https://mirror.example.com/{TOKEN48_URLSAFE}"],
     "tigera.manifestsBaseURL", TOKEN48_URLSAFE),
    ("argocd-base-url-entropy", [f"gitops.argocdManifestsBaseURL=https://mirror.example.com/{TOKEN48_URLSAFE}"],
     "gitops.argocdManifestsBaseURL", TOKEN48_URLSAFE),
    ("git-username-aws", [f"secrets.gitCredentials.username={AWS_KEY_ID}"], "secrets.gitCredentials.username",
     AWS_KEY_ID),
    ("remote-key-entropy", ["secrets.pullSecret.provider=external-secrets", "secrets.pullSecret.storeName=vault",
                            f"secrets.pullSecret.remoteKey={TOKEN48_URLSAFE}"],
     "secrets.pullSecret.remoteKey", TOKEN48_URLSAFE),
    ("remote-property-aws", ["secrets.pullSecret.provider=external-secrets", "secrets.pullSecret.storeName=vault",
                             "secrets.pullSecret.remoteKey=tigera/pull",
                             f"secrets.pullSecret.remoteProperty={AWS_KEY_ID}"],
     "secrets.pullSecret.remoteProperty", AWS_KEY_ID),
    ("encrypted-file-entropy", ["secrets.license.provider=sops",
                                f"secrets.license.encryptedFile=secrets/{TOKEN48_URLSAFE}.yaml"],
     "secrets.license.encryptedFile", TOKEN48_URLSAFE),
]


def _channel_params() -> list[Any]:
    return [pytest.param(sets, key, sample, id=name)
            for name, sets, key, sample in CHANNELS]


@pytest.mark.parametrize(("sets", "key", "sample"), _channel_params())
def test_secret_smuggled_through_values_never_reaches_git(sets: list[str], key: str, sample: str,
                                                          render_cli: RenderCli, tmp_path: Path) -> None:
    """Either the tree renders without the material, or the value is refused where it was set (exit 2)."""
    args = [arg for item in sets for arg in ("--set", item)]
    run = render_cli(PROD_VALUES, "--out", tmp_path, *args, expect=None)
    assert run.exit_code in (0, 2), f"exit {run.exit_code}:\n{run.stderr}"
    assert "Traceback" not in run.stderr
    assert sample.splitlines()[0] not in run.stderr + run.stdout, "the refusal quotes the secret"
    if run.exit_code == 2:
        assert f": error: {key}" in run.stderr, run.stderr
        assert not (tmp_path / "ceosks-poc").exists()
        return
    files = read_tree(tmp_path / "ceosks-poc")
    assert all(sample.splitlines()[0] not in text for text in files.values())
    assert _scan_tree(files) == []


def test_pem_block_in_a_values_file_is_refused_or_dropped(tmp_path: Path, render_cli: RenderCli) -> None:
    """The same through a file: a PEM block as a literal block scalar in the free-text description."""
    text = PROD_VALUES.read_text("utf-8").replace(
        "  serviceLevel: pro\n", "  serviceLevel: pro\n  description: |\n" + "".join(
            f"    {line}\n" for line in PEM.splitlines()))
    values = tmp_path / "leaky.yaml"
    values.write_text(text, "utf-8")
    assert load.load([values]).data["cluster"]["description"] == PEM
    run = render_cli(values, "--out", tmp_path / "out", expect=None)
    assert run.exit_code in (0, 2), run.stderr
    assert "PRIVATE KEY" not in run.stderr
    if run.exit_code == 2:
        assert "leaky.yaml:" in run.stderr and "cluster.description" in run.stderr
        return
    files = read_tree(tmp_path / "out" / "ceosks-poc")
    assert all("PRIVATE KEY" not in body for body in files.values())
    assert _scan_tree(files) == []


REFERENCES = [
    pytest.param(["secrets.pullSecret.provider=external-secrets", "secrets.pullSecret.storeName=vault-backend",
                  "secrets.pullSecret.remoteKey=Production/Tigera/PullSecretDockerConfigJson01"],
                 id="external-secrets-remote-key"),
    pytest.param(["nodepool.labels={role: ProductionTigeraPullSecretDockerConfigJson01}"], id="label-value"),
    pytest.param(["cluster.description=Replicas in /var/lib/Longhorn/ReplicaStorage/Production2024/VolumeData01"],
                 id="description-path"),
]


@pytest.mark.parametrize("sets", REFERENCES)
def test_ordinary_references_render(sets: list[str], render_cli: RenderCli, tmp_path: Path) -> None:
    """Issue 21: each was refused as 'a high-entropy token' (exit 2); names and paths written in words are not."""
    args = [arg for item in sets for arg in ("--set", item)]
    run = render_cli(PROD_VALUES, "--out", tmp_path, *args, expect=None)
    assert run.exit_code == 0, run.stderr
    assert _scan_tree(read_tree(tmp_path / "ceosks-poc")) == []


def test_words_and_random_tokens_are_told_apart() -> None:
    """The word test spares at most about 1 in 100,000 random tokens; none of 2,000 here."""
    rng = random.Random(21)
    alphabet = string.ascii_letters + string.digits + "+/"
    tokens = ["".join(rng.choice(alphabet) for _ in range(43)) for _ in range(2000)]
    assert not any(leak_tokens.reads_as_words(token) for token in tokens)
    assert leak_tokens.reads_as_words(NOT_SECRETS["external-secrets-remote-key"])
