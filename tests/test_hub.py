"""Hub mode (gitops.hub): the cluster trees a hub's Argo CD delivers, and the one hub tree of the fleet.

A fleet of two clusters on one hub (tests/hub/: a base layer and two cluster files) renders each cluster's
tree (apps and project by destination.name, no root, no engine) and OUT/_hubs/hub/ once; the hub tree is
owned, locked and checked like a cluster's, passes the third-party checkers, and `render --verify` plays
its delivery. The bootstrap's hub steps (hub-register, hub-apply) are the bootstrap's own tests.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from renderer import load, model, validate, yamlio
from renderer.model import hub as model_hub
from renderer.validate import hub as validate_hub
from tests.support.cli import run_cli, shows

HERE = Path(__file__).parent
FLEET = HERE / "hub"
FILES = (FLEET / "base.yaml", FLEET / "east.yaml", FLEET / "west.yaml")
SCHEMAS = HERE.parent / "schemas" / "crds" / "common" / "argoproj.io" / "v1alpha1"


def _docs(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [doc for doc in yamlio.load_all_plain(path.read_text("utf-8")) if doc]


def _tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    run_cli(*FILES, "--out", out, expect=0)
    return out


def test_the_fleet_renders_each_cluster_for_the_hub_and_one_hub_tree(fleet: Path) -> None:
    assert sorted(path.name for path in fleet.iterdir() if path.is_dir()) == ["_hubs", "east", "west"]
    assert sorted(_tree(fleet / "_hubs" / "hub")) == [
        ".sks-gitops-owned.json", "applicationset.yaml", "argocd-cm-health.yaml", "kustomization.yaml", "project.yaml"]
    for cluster in ("east", "west"):
        tree = fleet / cluster
        assert not (tree / "argocd" / "root-application.yaml").exists()  # the ApplicationSet generates it
        assert not (tree / "argocd" / "argocd-cm-health.yaml").exists()  # on the hub, once
        assert not (tree / "10-argocd").exists()  # the hub's Argo CD delivers: none installed in the cluster
        marker = (tree / "argocd" / "hub-hub.json").read_text("utf-8")
        assert marker == f'{{\n  "cluster": "{cluster}",\n  "hub": "hub"\n}}\n'
        (project,) = _docs(tree / "argocd" / "apps" / "project.yaml")
        assert project["metadata"]["namespace"] == "argocd"
        assert {tuple(sorted(item)) for item in project["spec"]["destinations"]} == {("name", "namespace")}
        assert {item["name"] for item in project["spec"]["destinations"]} == {cluster}
        waves = []
        for app_file in sorted((tree / "argocd" / "apps").glob("0*.yaml")):
            (app,) = _docs(app_file)
            assert app["spec"]["destination"]["name"] == cluster and "server" not in app["spec"]["destination"]
            assert app["metadata"]["namespace"] == "argocd"
            waves.append(int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]))
        assert waves == sorted(waves) and len(set(waves)) > 1  # the waves are kept
    (appset,) = _docs(fleet / "_hubs" / "hub" / "applicationset.yaml")
    assert appset["spec"]["generators"][0]["git"]["files"] == [{"path": "out/*/argocd/hub-hub.json"}]
    assert appset["spec"]["goTemplate"] is True and appset["spec"]["template"]["spec"]["project"] == "hub-roots"


def test_rendering_one_cluster_keeps_the_hub_tree_byte_for_byte(fleet: Path) -> None:
    hub = fleet / "_hubs" / "hub"
    before = {path: (data, (hub / path).stat().st_mtime_ns) for path, data in _tree(hub).items()}
    run = run_cli(FILES[0], FILES[2], "--out", fleet, expect=0)
    assert run.stderr == "2 trees (1 cluster, 1 hub tree): 0 changed, 2 unchanged\n", shows(run)
    assert {path: (data, (hub / path).stat().st_mtime_ns) for path, data in _tree(hub).items()} == before


def test_check_finds_a_stale_or_missing_hub_tree(fleet: Path) -> None:
    run_cli("--check", *FILES, "--out", fleet, expect=0)
    project = fleet / "_hubs" / "hub" / "project.yaml"
    project.write_text(project.read_text("utf-8").replace("hub-roots", "roots"), "utf-8")
    run = run_cli("--check", *FILES, "--out", fleet, expect=1)
    assert f"changed: {project}" in run.stdout and "was edited by hand" in run.stderr, shows(run)
    assert run.stderr.splitlines()[-1].endswith(f"{FILES[0]} {FILES[1]}"), shows(run)  # one cluster re-renders it
    shutil.rmtree(fleet / "_hubs")
    run = run_cli("--check", *FILES, "--out", fleet, expect=1)
    assert f"added: {fleet / '_hubs' / 'hub' / 'applicationset.yaml'}" in run.stdout, shows(run)


def test_clusters_of_one_hub_must_agree_on_its_tree(tmp_path: Path) -> None:
    west = tmp_path / "west.yaml"
    west.write_text(FILES[2].read_text("utf-8") + "  revision: release\n", "utf-8")
    run = run_cli(FILES[0], FILES[1], west, "--out", tmp_path / "out", expect=2)
    assert f"{west}: error: gitops.hub: cluster west and cluster east ({FILES[1]}) share hub hub" in run.stderr
    assert "gitops.revision: 'main' vs 'release'" in run.stderr, shows(run)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("engine", ["flux", "both"])
def test_hub_mode_is_argo_cd_only(engine: str, tmp_path: Path) -> None:
    run = run_cli(*FILES[:2], "--set", f"gitops.engine={engine}", "--out", tmp_path / "out", expect=2)
    assert "error: gitops.hub: hub mode is Argo CD only" in run.stderr and '"Hub mode"' in run.stderr, shows(run)


def test_the_hub_tree_passes_yamllint_check_jsonschema_and_kustomize(fleet: Path) -> None:
    from tests.support.tools import kustomize_build
    from tests.test_yamllint import lint_tree

    hub = fleet / "_hubs" / "hub"
    assert lint_tree(hub) == []
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if checker is None:
        pytest.skip("check-jsonschema is not installed")
    for schema, file in (("applicationset.json", "applicationset.yaml"), ("appproject.json", "project.yaml")):
        run = subprocess.run([checker, "--schemafile", str(SCHEMAS / schema), str(hub / file)], capture_output=True,
                             text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
    built = [(doc["kind"], doc["metadata"]["name"]) for doc in yamlio.load_all_plain(kustomize_build(hub)) if doc]
    assert sorted(built) == [("AppProject", "hub-roots"), ("ApplicationSet", "hub-clusters"),
                             ("ConfigMap", "argocd-cm")]


def test_verify_plays_the_hub_delivery_of_every_cluster(fleet: Path) -> None:
    run = run_cli("--verify", *FILES, "--out", fleet, expect=0)
    for cluster in ("east", "west"):
        assert f"{fleet / cluster}: argocd (from a running pod network): every tigerastatus Available" in run.stdout


def test_verify_without_a_hub_tree_is_stuck_at_it(fleet: Path) -> None:
    shutil.rmtree(fleet / "_hubs")
    run = run_cli("--verify", *FILES[:2], "--out", fleet, expect=3)
    assert f"{fleet / '_hubs' / 'hub' / 'kustomization.yaml'}: error: argocd" in run.stderr, shows(run)


def test_verify_without_the_registration_step_is_stuck(fleet: Path) -> None:
    script = fleet / "east" / "bootstrap.sh"
    lines = script.read_text("utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith("  'hub-register|")]
    assert len(kept) == len(lines) - 1
    script.write_text("".join(kept), "utf-8")
    run = run_cli("--verify", *FILES[:2], "--out", fleet, expect=3)
    assert f"{script}: error: bootstrap, then argocd is stuck: cluster east never registered with hub hub" \
        in run.stderr, shows(run)


def test_two_clusters_of_one_hub_cannot_share_a_registered_name(tmp_path: Path) -> None:
    east = tmp_path / "east.yaml"
    east.write_text(FILES[1].read_text("utf-8") + "gitops:\n  hub:\n    clusterName: west\n", "utf-8")
    run = run_cli(FILES[0], east, FILES[2], "--out", tmp_path / "out", expect=2)
    assert f"{FILES[2]}: error: gitops.hub.clusterName: cluster west would be registered with hub hub as west, " \
           f"as cluster east ({east}) is" in run.stderr, shows(run)


def test_the_hub_rules_say_nothing_without_a_hub_and_where_the_trees_go_with_one() -> None:
    values = load.load([FILES[0], FILES[1]])
    data, _ = validate.validate(values)
    assert validate_hub.problems(values, data) == []
    without = {**data, "gitops": {key: value for key, value in data["gitops"].items() if key != "hub"}}
    assert validate_hub.problems(values, without) == []
    built = model.build(data).values
    assert (model_hub.hub_path(built), model_hub.generator_glob(built)) == ("out/_hubs/hub",
                                                                            "out/*/argocd/hub-hub.json")


def test_the_plan_lists_the_hub_steps_where_the_bootstrap_runs_them(fleet: Path) -> None:
    """`render --plan` names hub-register and hub-apply between the health wait and the handover, as the
    rendered bootstrap.sh's STEPS table orders them."""
    from renderer.simulate.bootstrap import steps_on_disk

    result = run_cli(*FILES, "--plan", expect=0)
    east = result.stdout.split("Rollout plan for west")[0]
    bootstrap_part = east.split("\n\n")[1].splitlines()
    labels = [line.strip().split(":")[0] for line in bootstrap_part]
    assert labels[-4:] == ["then waits until every tigerastatus is Available", model_hub.REGISTER_STEP,
                           model_hub.APPLY_STEP, "then hands over"]
    steps = [name for name, _ in steps_on_disk((fleet / "east" / "bootstrap.sh").read_text("utf-8")) or []]
    assert steps[-4:] == ["health", model_hub.REGISTER_STEP, model_hub.APPLY_STEP, "handover"]
