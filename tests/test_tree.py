"""The whole rendered tree: snapshots per file, determinism, and engine ordering parity.

A snapshot update is a reviewed change: run `pytest --snapshot-update` only when the
diff shown is the intended effect of a template or values change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from renderer import yamlio
from tests.conftest import PROD_VALUES, REPO_ROOT, RenderCli, read_tree

VARIANTS: dict[str, list[str]] = {
    "prod": [],
    "external-secrets": ["--set", "secrets.pullSecret.provider=external-secrets",
                         "--set", "secrets.pullSecret.storeName=vault-backend",
                         "--set", "secrets.pullSecret.remoteKey=tigera/pull-secret"],
    "service-bypass": ["--set", "bypass.mode=service"],
    "gva-v3.23-flux": ["--set", "cluster.zone=ch-gva-2", "--set", "tigera.version=v3.23.1",
                       "--set", "gitops.engine=flux", "--set", "apiServer.endpointIP=194.182.185.29",
                       "--set", "cluster.kubernetesVersion=1.33.2"],
    "custom-resources-off": ["--set", "tigera.customResources={intrusionDetection: false, logCollector: false, "
                             "logStorage: false, manager: false, monitor: false, compliance: false, "
                             "policyRecommendation: false}"],
    "flux-sops": ["--set", "gitops.engine=flux", "--set", "secrets.license.provider=sops",
                  "--set", "secrets.license.encryptedFile=secrets/ceosks-poc/license.enc.yaml"],
    "both-external-secrets": ["--set", "gitops.engine=both", "--set", "secrets.pullSecret.provider=external-secrets",
                              "--set", "secrets.pullSecret.storeName=vault-backend",
                              "--set", "secrets.pullSecret.remoteKey=tigera/pull-secret"],
    "hub": ["--set", "gitops.hub={}"],
}


def render_variant(render_cli: RenderCli, out: Path, variant: str) -> dict[str, str]:
    render_cli(PROD_VALUES, "--out", out, *VARIANTS[variant])
    (tree_dir,) = [path for path in out.iterdir() if path.is_dir() and not path.name.startswith("_")]
    hubs = {f"../_hubs/{hub.name}/{path}": text for hub in sorted(out.glob("_hubs/*"))  # hub mode: the hub tree
            for path, text in read_tree(hub).items()}
    return {**read_tree(tree_dir), **hubs}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_tree_snapshot(variant: str, render_cli: RenderCli, tmp_path: Path, snapshot) -> None:  # type: ignore[no-untyped-def]
    tree = render_variant(render_cli, tmp_path, variant)
    assert sorted(tree) == snapshot(name="files")
    for path, text in tree.items():
        assert text == snapshot(name=path)


def test_committed_out_is_current(render_cli: RenderCli) -> None:
    """out/ in git is exactly what the templates and values/ render (CI also runs render --check)."""
    render_cli("--check", PROD_VALUES, "--out", REPO_ROOT / "out", expect=0)


def _render_subprocess(out: Path, cwd: Path, env_extra: dict[str, str], values: Path = PROD_VALUES) -> dict[str, str]:
    env = {**os.environ, **env_extra}
    subprocess.run([sys.executable, "-m", "renderer", str(values), "--out", str(out)], cwd=cwd, env=env,
                   check=True, capture_output=True)
    return read_tree(out / "ceosks-poc")


def test_render_is_deterministic_across_hash_seed_locale_and_cwd(tmp_path: Path) -> None:
    first = _render_subprocess(tmp_path / "a", REPO_ROOT, {"PYTHONHASHSEED": "1", "LC_ALL": "C"})
    second = _render_subprocess(tmp_path / "b", tmp_path, {"PYTHONHASHSEED": "4242", "LC_ALL": "C.UTF-8",
                                                           "TZ": "Pacific/Auckland"})
    assert first == second


def test_key_order_in_values_does_not_change_output(tmp_path: Path, render_cli: RenderCli) -> None:
    data = yamlio.load_one(PROD_VALUES.read_bytes(), "prod.yaml").data
    reordered = {key: (dict(reversed(list(value.items()))) if isinstance(value, dict) else value)
                 for key, value in reversed(list(data.items()))}
    shuffled = tmp_path / "shuffled.yaml"
    shuffled.write_text(yamlio.dump(reordered), "utf-8")
    render_cli(PROD_VALUES, "--out", tmp_path / "a")
    render_cli(shuffled, "--out", tmp_path / "b")
    assert read_tree(tmp_path / "a") == read_tree(tmp_path / "b")


def _objects(text: str) -> list[dict]:  # type: ignore[type-arg]
    return [doc for doc in yamlio.load_all_plain(text) if doc]


def test_engines_deploy_the_same_stages_in_the_rollout_models_order(tmp_path: Path, render_cli: RenderCli) -> None:
    """Both engines deliver every stage directory; a Flux dependency is always in an earlier Argo CD wave."""
    tree = render_variant(render_cli, tmp_path, "both-external-secrets")
    stage_dirs = sorted({path.split("/")[0] for path in tree if path[:2].isdigit()})
    argo = {app["metadata"]["name"]: app for path in sorted(tree)
            if path.startswith("argocd/apps/") and path.split("/")[-1][:2].isdigit()
            for app in _objects(tree[path])}
    waves = {name: int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for name, app in argo.items()}
    argo_targets = sorted(app["spec"]["source"].get("path", "").rsplit("/", 1)[-1] or "01-longhorn"
                          for app in argo.values())
    assert argo_targets == stage_dirs
    flux = {ks["metadata"]["name"]: ks for path in sorted(tree)
            if path.startswith("flux/") and path.split("/")[-1][:2].isdigit()
            for ks in _objects(tree[path])}
    flux_targets = sorted(ks["spec"]["path"].rsplit("/", 1)[-1] for ks in flux.values())
    assert sorted(target if target != "longhorn" else "01-longhorn" for target in flux_targets) == stage_dirs
    assert set(flux) == set(argo)
    for name, kustomization in flux.items():
        for dependency in kustomization["spec"].get("dependsOn", []):
            assert waves[dependency["name"]] < waves[name], (name, dependency)
    assert min(waves.values()) == 1 and any("dependsOn" not in ks["spec"] for ks in flux.values())
    chart_argo = argo["ceosks-poc-01-longhorn"]["spec"]["source"]
    release = _objects(tree["flux/longhorn/helmrelease.yaml"])[0]["spec"]
    kustomize_chart = _objects(tree["01-longhorn/kustomization.yaml"])[0]["helmCharts"][0]
    assert chart_argo["helm"]["valuesObject"] == release["values"] == kustomize_chart["valuesInline"]
    assert chart_argo["targetRevision"] == release["chart"]["spec"]["version"] == kustomize_chart["version"]


def test_rendering_twice_gives_identical_bytes_and_touches_nothing(tmp_path: Path, render_cli: RenderCli) -> None:
    render_cli(PROD_VALUES, "--out", tmp_path)
    before = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*") if path.is_file()}
    render_cli(PROD_VALUES, "--out", tmp_path)
    after = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*") if path.is_file()}
    assert before == after
