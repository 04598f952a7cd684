"""The loopback servers and tool helpers, proven with the real kubectl and helm.

Run with `-p tests.support.servers` until tests/conftest.py loads the plugin.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support import tools
from tests.support.charts import package_chart
from tests.support.servers import FIXTURES, HelmRepoServer, TigeraManifestsServer
from tests.support.tools import find_tool, kustomize_build, require_tool

PROMETHEUS = "tigera-prometheus-operator.yaml"
OPERATOR = "tigera-operator.yaml"

# The harmless form: a target selector that matches nothing makes the patch a
# no-op, while a patch without `target:` fails with "no resource matches
# strategic merge patch" when the Secret is absent.
TARGETED_DELETE = """\
- target:
    version: v1
    kind: Secret
    name: tigera-pull-secret
    namespace: tigera-prometheus
  patch: |-
    $patch: delete
    apiVersion: v1
    kind: Secret
    metadata:
      name: tigera-pull-secret
      namespace: tigera-prometheus
"""
UNTARGETED_DELETE = """\
- patch: |-
    $patch: delete
    apiVersion: v1
    kind: Secret
    metadata:
      name: tigera-pull-secret
      namespace: tigera-prometheus
"""

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with _NO_PROXY.open(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def _docs(text: str) -> list[dict[str, Any]]:
    return [doc for doc in YAML(typ="safe").load_all(text) if doc]


def _find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any] | None:
    return next(
        (d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name), None
    )


def _stage(directory: Path, kustomization: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kustomization.yaml").write_text(kustomization, encoding="utf-8")
    return directory


@pytest.fixture
def tigera(
    tigera_manifests_server: TigeraManifestsServer,
) -> Iterator[TigeraManifestsServer]:
    """The session server with a clean request log and no overrides left behind."""
    tigera_manifests_server.reset()
    yield tigera_manifests_server
    tigera_manifests_server.reset()


# --- the Tigera manifests server -------------------------------------------


def test_tigera_server_serves_fixtures_for_any_version(
    tigera: TigeraManifestsServer,
) -> None:
    assert tigera.base_url.startswith("http://127.0.0.1:")
    assert tigera.base_url.endswith("/ee")
    for version in ("v3.19.2", "v3.20.0-1.0"):
        for name in (OPERATOR, PROMETHEUS):
            status, body = _fetch(tigera.manifest_url(version, name))
            assert (status, body) == (200, (FIXTURES / name).read_bytes())
    assert tigera.requests[0] == f"/ee/v3.19.2/manifests/{OPERATOR}"
    assert len(tigera.requests) == 4


def test_tigera_server_answers_404_for_unknown_paths(
    tigera: TigeraManifestsServer,
) -> None:
    assert _fetch(f"{tigera.base_url}/v3.19.2/manifests/calico.yaml")[0] == 404
    assert _fetch(f"{tigera.base_url}/v3.19.2/{OPERATOR}")[0] == 404


def test_override_and_reset(tigera: TigeraManifestsServer) -> None:
    url = tigera.manifest_url("v3.19.2", OPERATOR)
    tigera.override(url, b"kind: Tampered\n")
    assert _fetch(url) == (200, b"kind: Tampered\n")
    assert _fetch(tigera.manifest_url("v3.19.1", OPERATOR))[0] == 200

    tigera.override(f"/ee/v3.19.2/manifests/{PROMETHEUS}", None)
    assert _fetch(tigera.manifest_url("v3.19.2", PROMETHEUS))[0] == 404

    tigera.reset()
    assert tigera.requests == []
    assert _fetch(url) == (200, (FIXTURES / OPERATOR).read_bytes())


def test_fixture_manifests_have_the_promised_objects() -> None:
    operator = _docs((FIXTURES / OPERATOR).read_text(encoding="utf-8"))
    assert [(d["kind"], d["metadata"]["name"]) for d in operator] == [
        ("Namespace", "tigera-operator"),
        ("CustomResourceDefinition", "installations.operator.tigera.io"),
        ("ServiceAccount", "tigera-operator"),
        ("Deployment", "tigera-operator"),
    ]
    secret = _find(
        _docs((FIXTURES / PROMETHEUS).read_text(encoding="utf-8")),
        "Secret",
        "tigera-pull-secret",
    )
    assert secret is not None
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert json.loads(base64.b64decode(secret["data"][".dockerconfigjson"])) == {
        "auths": {}
    }


# --- kustomize against the Tigera server -------------------------------------


def test_remote_manifest_builds_with_placeholder_secret(
    tmp_path: Path, tigera: TigeraManifestsServer
) -> None:
    url = tigera.manifest_url("v3.19.2", PROMETHEUS)
    docs = _docs(kustomize_build(_stage(tmp_path, f"resources:\n- {url}\n")))
    secret = _find(docs, "Secret", "tigera-pull-secret")
    assert secret is not None
    assert secret["metadata"]["namespace"] == "tigera-prometheus"
    assert _find(docs, "Deployment", "calico-prometheus-operator") is not None
    assert tigera.requests == [f"/ee/v3.19.2/manifests/{PROMETHEUS}"]


@pytest.mark.parametrize(
    ("patches", "manifest", "error"),
    [
        pytest.param(TARGETED_DELETE, PROMETHEUS, None, id="targeted-present"),
        pytest.param(TARGETED_DELETE, OPERATOR, None, id="targeted-absent"),
        pytest.param(UNTARGETED_DELETE, PROMETHEUS, None, id="untargeted-present"),
        pytest.param(
            UNTARGETED_DELETE,
            OPERATOR,
            "no resource matches strategic merge patch",
            id="untargeted-absent-fails",
        ),
    ],
)
def test_delete_patch_forms(
    tmp_path: Path,
    tigera: TigeraManifestsServer,
    patches: str,
    manifest: str,
    error: str | None,
) -> None:
    url = tigera.manifest_url("v3.19.2", manifest)
    stage = _stage(tmp_path, f"resources:\n- {url}\npatches:\n{patches}")
    if error is not None:
        with pytest.raises(AssertionError, match=error):
            kustomize_build(stage)
        return
    docs = _docs(kustomize_build(stage))
    assert _find(docs, "Secret", "tigera-pull-secret") is None
    assert len(docs) == len(
        _docs((FIXTURES / manifest).read_text(encoding="utf-8"))
    ) - (manifest == PROMETHEUS)


# --- the Helm repository server ----------------------------------------------


def test_chart_packaging_is_deterministic() -> None:
    first = package_chart(FIXTURES / "longhorn-chart", "1.7.1")
    second = package_chart(FIXTURES / "longhorn-chart", "1.7.1")
    assert first.tgz == second.tgz
    with tarfile.open(fileobj=io.BytesIO(first.tgz), mode="r:gz") as tar:
        assert tar.getnames() == sorted(tar.getnames())
        assert all(name.startswith("longhorn/") for name in tar.getnames())
        chart_yaml = tar.extractfile("longhorn/Chart.yaml")
        assert chart_yaml is not None
        text = chart_yaml.read().decode()
    assert "\nversion: 1.7.1\n" in text
    assert "\nappVersion: v1.7.1\n" in text


def test_helm_repo_serves_index_and_charts(helm_repo_server: HelmRepoServer) -> None:
    assert helm_repo_server.url.startswith("http://127.0.0.1:")
    status, body = _fetch(f"{helm_repo_server.url}/index.yaml")
    assert status == 200
    index = YAML(typ="safe").load(body)
    assert index["apiVersion"] == "v1"
    entries = {entry["version"]: entry for entry in index["entries"]["longhorn"]}
    assert sorted(entries) == ["1.7.0", "1.7.1"]
    for version, entry in entries.items():
        status, tgz = _fetch(f"{helm_repo_server.url}/{entry['urls'][0]}")
        assert status == 200
        assert entry["digest"] == hashlib.sha256(tgz).hexdigest()
        assert entry["created"] == "2024-01-01T00:00:00Z"
        assert entry["urls"] == [f"longhorn-{version}.tgz"]
    assert _fetch(f"{helm_repo_server.url}/longhorn-9.9.9.tgz")[0] == 404


HELM_STAGE = """\
helmCharts:
- name: longhorn
  repo: {repo}
  version: {version}
  releaseName: longhorn
  namespace: longhorn-system
{values}"""


def test_helm_chart_values_take_effect(
    tmp_path: Path, helm_repo_server: HelmRepoServer
) -> None:
    values = """\
  valuesInline:
    defaultSettings:
      defaultReplicaCount: 2
    persistence:
      defaultClassReplicaCount: 2
    preUpgradeChecker:
      jobEnabled: true
"""
    stage = _stage(
        tmp_path / "stage",
        HELM_STAGE.format(repo=helm_repo_server.url, version="1.7.0", values=values),
    )
    docs = _docs(kustomize_build(stage, enable_helm=True))

    settings = _find(docs, "ConfigMap", "longhorn-default-setting")
    assert settings is not None
    assert settings["data"]["default-replica-count"] == "2"
    assert "namespace" not in settings["metadata"]
    storage = _find(docs, "ConfigMap", "longhorn-storageclass")
    assert storage is not None
    assert storage["data"]["number-of-replicas"] == "2"
    job = _find(docs, "Job", "longhorn-pre-upgrade")
    assert job is not None
    assert job["metadata"]["namespace"] == "longhorn-system"
    assert job["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v1.7.0")
    # The pulled chart went to the temporary copy, never into the stage.
    assert sorted(p.name for p in stage.iterdir()) == ["kustomization.yaml"]
    assert "/charts/longhorn-1.7.0.tgz" in helm_repo_server.requests


def test_helm_chart_defaults_apply_without_values(
    tmp_path: Path, helm_repo_server: HelmRepoServer
) -> None:
    stage = _stage(
        tmp_path,
        HELM_STAGE.format(repo=helm_repo_server.url, version="1.7.1", values=""),
    )
    docs = _docs(kustomize_build(stage, enable_helm=True))
    settings = _find(docs, "ConfigMap", "longhorn-default-setting")
    assert settings is not None
    assert settings["data"]["default-replica-count"] == "3"
    assert settings["metadata"]["labels"]["app.kubernetes.io/version"] == "v1.7.1"
    assert _find(docs, "Job", "longhorn-pre-upgrade") is None


def test_helm_chart_without_enable_helm_fails(
    tmp_path: Path, helm_repo_server: HelmRepoServer
) -> None:
    stage = _stage(
        tmp_path,
        HELM_STAGE.format(repo=helm_repo_server.url, version="1.7.0", values=""),
    )
    with pytest.raises(AssertionError, match="must specify --enable-helm"):
        kustomize_build(stage)


# --- tool discovery ------------------------------------------------------------


def _fake_tool(directory: Path, name: str, output: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def test_find_tool_prefers_path_then_tools_bin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = _fake_tool(tmp_path / "path", "helm", "v4.1.4+g05fa379")
    local = _fake_tool(tmp_path / "tools", "helm", "v3.18.0+gcc58e3f")
    monkeypatch.setenv("PATH", str(on_path.parent))
    monkeypatch.setattr(tools, "TOOLS_BIN", local.parent)
    # helm v4 on PATH is passed over: kustomize cannot drive it.
    assert find_tool("helm") == str(local)
    _fake_tool(tmp_path / "path3", "helm", "v3.17.3+ge4da497")
    monkeypatch.setenv("PATH", str(tmp_path / "path3"))
    assert find_tool("helm") == str(tmp_path / "path3" / "helm")
    monkeypatch.setattr(tools, "TOOLS_BIN", tmp_path / "missing")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_tool("helm") is None


def test_require_tool_skips_locally_but_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"run \.ci/install-tools"):
        require_tool("no-such-tool-for-sks-gitops")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"run \.ci/install-tools"):
        require_tool("no-such-tool-for-sks-gitops")


def test_kustomize_build_failure_shows_stderr(tmp_path: Path) -> None:
    stage = _stage(tmp_path, "resources:\n- missing.yaml\n")
    with pytest.raises(AssertionError, match=r"failed \(exit 1\):\n.*missing\.yaml"):
        kustomize_build(stage)


def test_real_tools_are_available() -> None:
    """Under CI=true this fails rather than letting every tool test skip."""
    require_tool("kubectl")
    require_tool("helm")
